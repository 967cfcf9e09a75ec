"""Round trips: the simulator log rebuilt byte for byte; parse(build(x)) == x (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import dataset
from lantian.errors import PacketError
from lantian.hj212 import (
    build_data_reply,
    build_packet,
    build_request,
    format_number,
    parse_packet,
    rebuild_packet,
)


@pytest.fixture(scope="module")
def simulator_lines() -> list[bytes]:
    return (dataset("hj212-simulator-log") / "packets.txt").read_bytes().splitlines()


def test_simulator_log_parses_and_rebuilds_byte_identically(simulator_lines):
    assert len(simulator_lines) == 4503
    for line in simulator_lines:
        p = parse_packet(line)
        assert rebuild_packet(p) == line + b"\r\n"


def test_build_packet_reproduces_simulator_frames_from_fields(simulator_lines):
    """build_packet's Table 3 order and CP layout equal what the simulator sends."""
    for line in simulator_lines:
        p = parse_packet(line)
        raw_values = {}
        params = {}
        for group in p.cp:
            for name, text in group:
                code, dash, suffix = name.partition("-")
                if dash:
                    raw_values.setdefault(code, {})[suffix] = text
                elif name != "DataTime":
                    params[name] = text
        built = build_packet(st=p.st, cn=p.cn, pw=p.pw, mn=p.mn, flag=p.flag, qn=p.qn,
                             data_time=p.data_time, values=raw_values, params=params)
        assert built == line + b"\r\n"


def test_format_number():
    assert format_number(12.3) == "12.3"
    assert format_number(1e-7) == "0.0000001"
    assert format_number(1e16) == "10000000000000000"
    assert format_number(-0.5) == "-0.5"
    assert format_number(7) == "7"
    for bad in (float("nan"), float("inf")):
        with pytest.raises(PacketError):
            format_number(bad)


def test_build_rejects_text_with_separators():
    with pytest.raises(PacketError):
        build_packet(st="31", cn="2011", pw="1", mn="A", values={"a1": {"Flag": "N;x"}})
    with pytest.raises(PacketError):
        build_packet(st="31", cn="2011", pw="1", mn="A", values={"a1": {"Rtd": "12a"}})


# ---------------------------------------------------------------- Hypothesis round trips

alnum = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
codes = st.one_of(
    st.sampled_from(["a21026", "a21002", "a34013", "a19001", "a00000", "w01018", "i13007"]),
    st.text(alnum, min_size=1, max_size=7).map(lambda s: "a" + s),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
)
flags = st.sampled_from(list("NFMSDCTB"))
info_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
                    max_size=20).map(lambda s: f"//{s}//")
digits14 = st.datetimes().map(lambda t: t.strftime("%Y%m%d%H%M%S")).filter(
    lambda s: len(s) == 14)


cjk_text = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
                   max_size=12).map(lambda s: f"//{s}//")


@st.composite
def packets(draw, info=info_text):
    version = draw(st.sampled_from(["2005", "2017", "2025"]))
    split = draw(st.booleans())
    reply = draw(st.booleans())
    flag_value = {"2005": 0, "2017": 4, "2025": 8}[version] | (2 if split else 0) | int(reply)
    flag = None if version == "2005" and not (split or reply) and draw(st.booleans()) \
        else flag_value
    values = {}
    for code in draw(st.lists(codes, unique=True, max_size=6)):
        fields = {}
        for suffix in draw(st.lists(st.sampled_from(
                ["Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsAvg"]), unique=True, max_size=4)):
            fields[suffix] = draw(numbers)
        if draw(st.booleans()):
            fields["Flag"] = draw(flags)
        if fields:
            values[code] = fields
    if draw(st.booleans()):
        values["i11001"] = {"Info": draw(info)}
    pnum = draw(st.integers(1, 20)) if split else None
    pno = draw(st.integers(1, pnum)) if split else None
    return dict(
        st=draw(st.sampled_from(["31", "32", "22", "91"])),
        cn=draw(st.sampled_from(["2011", "2051", "2061", "2031", "9014", "3020"])),
        pw=draw(st.text(alnum, min_size=6, max_size=6)),
        mn=draw(st.one_of(st.text(st.sampled_from("0123456789ABCDEF"), min_size=24,
                                  max_size=24), st.text(alnum, min_size=14, max_size=14))),
        qn=draw(st.one_of(st.none(), st.text(st.sampled_from("0123456789"), min_size=17,
                                             max_size=17))) if version == "2005" else
        draw(st.text(st.sampled_from("0123456789"), min_size=17, max_size=17)),
        flag=flag, data_time=draw(st.one_of(st.none(), digits14)), values=values,
        params={"QnRtn": "1"} if draw(st.booleans()) else {},
        pnum=pnum, pno=pno, version=version,
        rf=1 if version == "2025" and draw(st.booleans()) else None,
    )


def check_round_trip(x, encoding="utf-8"):
    frame = build_packet(**x, encoding=encoding)
    p = parse_packet(frame, encoding=encoding)
    assert p.raw + b"\r\n" == frame
    assert (p.st, p.cn, p.pw, p.mn, p.qn, p.data_time) == (
        x["st"], x["cn"], x["pw"], x["mn"], x["qn"], x["data_time"])
    assert p.flag == (None if x["flag"] is None else str(x["flag"]))
    assert p.version == x["version"]
    assert p.values == {c: {s: (float(v) if isinstance(v, float) else v) for s, v in f.items()}
                        for c, f in x["values"].items()}
    assert p.params == x["params"]
    assert p.pnum == (None if x["pnum"] is None else f"{x['pnum']:04d}")
    assert p.pno == (None if x["pno"] is None else f"{x['pno']:04d}")
    assert p.rf == (None if x["rf"] is None else str(x["rf"]))
    assert p.is_split == (x["pnum"] is not None)
    assert rebuild_packet(p, encoding=encoding) == frame
    return p, frame


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets())
def test_parse_build_round_trip(x):
    _, frame = check_round_trip(x)
    # length counts UTF-8 bytes, not characters
    assert int(frame[2:6]) == len(frame) - 12


@settings(max_examples=100, deadline=None)
@given(packets(info=cjk_text))
def test_round_trip_gbk(x):
    check_round_trip(x, encoding="gbk")


def test_unencodable_text_is_a_packet_error():
    with pytest.raises(PacketError):
        build_packet(st="31", cn="3020", pw="123456", mn="A",
                     values={"i11001": {"Info": "//\U00012544//"}}, encoding="gbk")


@settings(max_examples=100, deadline=None)
@given(packets())
def test_data_reply_answers_with_the_same_qn(x):
    p = parse_packet(build_packet(**x))
    reply = parse_packet(build_data_reply(p))
    assert (reply.cn, reply.st, reply.mn, reply.pw) == ("9014", "91", p.mn, p.pw)
    assert not reply.needs_reply
    if p.version == "2005":
        assert reply.params["CN"] == p.cn
        assert reply.params.get("QN") == p.qn
    else:
        assert reply.qn == p.qn
        assert reply.version == p.version


def test_requests():
    r = parse_packet(build_request("1012", mn="010000A8900016F000169DC0", pw="123456",
                                   qn="20240601085857223",
                                   params={"SystemTime": "20240601085900"}))
    assert (r.cn, r.st, r.flag, r.qn, r.params) == ("1012", "31", "5", "20240601085857223",
                                                    {"SystemTime": "20240601085900"})
    r = parse_packet(build_request("2061", mn="M", pw="123456", qn="20240601085857223",
                                   params={"BeginTime": "20240601000000",
                                           "EndTime": "20240601230000"}))
    assert r.params == {"BeginTime": "20240601000000", "EndTime": "20240601230000"}
    r = parse_packet(build_request("9013", mn="M", pw="123456", qn="20240601085857223"))
    assert (r.st, r.flag, r.needs_reply) == ("91", "4", False)
    r = parse_packet(build_request("9015", mn="M", pw="123456", st="91", version="2025",
                                   qn="20240601085857223"))
    assert (r.cn, r.version) == ("9015", "2025")
