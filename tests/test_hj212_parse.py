"""parse_packet: fields, versions, strict vs lenient, structured errors, 2005 replies."""

from __future__ import annotations

from datetime import datetime

import pytest

from lantian.errors import ConfigurationError, PacketError
from lantian.hj212 import Packet, PacketDecodeError, data_time_to_datetime, parse_packet
from lantian.hj212.crc import crc16_hj212


def frame(segment: str, encoding: str = "utf-8", length: int | None = None) -> bytes:
    seg = segment.encode(encoding)
    n = len(seg) if length is None else length
    return b"##%04d" % n + seg + b"%04X" % crc16_hj212(seg)


C40 = ("##0152QN=20160801085857223;ST=32;CN=3020;PW=123456;MN=010000A8900016F000169DC0;"
       "Flag=5;CP=&&DataTime=20160801085857;PolId=w01018;i11001-Info=//清洗管路//&&9481")


def test_flue_gas_upload_fields_and_values():
    p = parse_packet(frame(
        "QN=20240601085857223;ST=31;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
        "CP=&&DataTime=20240601085800;a21026-Avg=12.3,a21026-ZsAvg=15.1,a21026-Flag=N;"
        "a19001-Avg=8.5,a19001-Flag=N&&") + b"\r\n")
    assert (p.qn, p.st, p.cn, p.pw, p.mn, p.flag) == (
        "20240601085857223", "31", "2051", "123456", "010000A8900016F000169DC0", "5")
    assert p.version == "2017"
    assert p.data_time == "20240601085800"
    assert p.values == {"a21026": {"Avg": 12.3, "ZsAvg": 15.1, "Flag": "N"},
                        "a19001": {"Avg": 8.5, "Flag": "N"}}
    assert p.needs_reply and not p.is_split
    assert p.crc_ok and p.crc_variant == "hj212"
    assert not p.raw.endswith(b"\r\n")


@pytest.mark.parametrize(("flag", "version", "reply", "split"), [
    (None, "2005", False, False), ("0", "2005", False, False), ("3", "2005", True, True),
    ("4", "2017", False, False), ("5", "2017", True, False), ("7", "2017", True, True),
    ("8", "2025", False, False), ("9", "2025", True, False), ("11", "2025", True, True),
    ("64", None, False, False),
])
def test_version_and_bits_from_flag(flag, version, reply, split):
    head = "ST=31;CN=2011;PW=123456;MN=88888880000001;" + (f"Flag={flag};" if flag else "")
    if split:
        head += "PNUM=2;PNO=1;"
    p = parse_packet(frame(head + "CP=&&&&"))
    assert p.version == version
    assert p.needs_reply is reply
    assert p.is_split is split


def test_chinese_log_text_is_opaque_and_length_counts_utf8_bytes():
    p = parse_packet(C40.encode("utf-8"))
    assert p.values == {"i11001": {"Info": "//清洗管路//"}}
    assert p.params == {"PolId": "w01018"}
    # 152 bytes in UTF-8, 144 characters: a character count would be a length error
    assert len(C40.encode()[6:-4]) == 152
    assert len(C40[6:-4]) == 144


def test_log_text_may_hold_separators():
    p = parse_packet(frame("ST=32;CN=3020;PW=123456;MN=88888880000001;Flag=4;"
                           "CP=&&DataTime=20160801085857;i11001-Info=//a=1;b,c//,i11001-Flag=N&&"))
    assert p.values["i11001"] == {"Info": "//a=1;b,c//", "Flag": "N"}


def test_gbk_option_for_old_devices():
    seg = ("ST=32;CN=3020;PW=123456;MN=88888880000001;Flag=4;"
           "CP=&&DataTime=20160801085857;i11001-Info=//清洗管路//&&")
    f = frame(seg, "gbk")
    assert parse_packet(f, encoding="gbk").values["i11001"]["Info"] == "//清洗管路//"
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f)  # GBK bytes are not UTF-8
    assert err.value.field == "segment"
    with pytest.raises(ConfigurationError):
        parse_packet(f, encoding="no-such-codec")


def test_2005_reply_carries_qn_and_cn_inside_cp():
    p = parse_packet(frame("ST=91;CN=9014;PW=123456;MN=88888880000001;Flag=0;"
                           "CP=&&QN=20040516010101001;CN=2051;PNO=1;PNUM=1&&"))
    assert p.version == "2005"
    assert p.qn is None
    assert p.params == {"QN": "20040516010101001", "CN": "2051", "PNO": "1", "PNUM": "1"}


def test_replies_qnrtn_exertn():
    p = parse_packet(b"##0094QN=20160801085857223;ST=91;CN=9011;PW=123456;"
                     b"MN=010000A8900016F000169DC0;Flag=4;CP=&&QnRtn=1&&1B00")
    assert p.params == {"QnRtn": "1"}
    p = parse_packet(b"##0095QN=20160801085857223;ST=91;CN=9012;PW=123456;"
                     b"MN=010000A8900016F000169DC0;Flag=4;CP=&&ExeRtn=1&&6240")
    assert p.params == {"ExeRtn": "1"}


def test_crlf_variants_are_stripped():
    f = frame("ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&&&")
    for tail in (b"", b"\r\n", b"\r\r\n", b"\n"):
        assert parse_packet(f + tail).raw == f


@pytest.mark.parametrize(("data", "offset", "field"), [
    (b"", 0, "header"),
    (b"#0077QN=1", 0, "header"),
    (b"##00", 4, "frame"),
    (b"##00x7QN=1;CP=&&&&1C80", 2, "length"),
    (b"##0009CP=&&&&ZZZZ", 13, "crc"),
])
def test_framing_errors_name_offset_and_field(data, offset, field):
    with pytest.raises(PacketError) as err:
        parse_packet(data)
    assert (err.value.offset, err.value.field) == (offset, field)


def test_length_mismatch_strict_error_lenient_warning():
    f = frame("ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&&&", length=99)
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f)
    assert (err.value.offset, err.value.field) == (2, "length")
    assert "declared 99" in err.value.reason
    p = parse_packet(f, strict=False)
    assert any("declared 99" in w for w in p.warnings)


def test_crc_error_keeps_the_fields_read():
    f = bytearray(frame("QN=20240601085857223;ST=31;CN=2011;PW=123456;MN=88888880000001;"
                        "Flag=4;CP=&&DataTime=20240601085800;a21026-Rtd=1.5&&"))
    f[-4:] = b"0000" if f[-4:] != b"0000" else b"0001"
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(bytes(f))
    assert err.value.field == "crc" and err.value.offset == len(f) - 4
    part = err.value.partial
    assert part is not None and part.crc_ok is False
    assert part.values == {"a21026": {"Rtd": 1.5}}
    with pytest.raises(PacketDecodeError):  # a CRC matching no variant fails leniently too
        parse_packet(bytes(f), strict=False)


@pytest.mark.parametrize(("segment", "field"), [
    ("ST=31;CN=20x1;PW=123456;MN=A;CP=&&&&", "CN"),
    ("ST=31;CN=2011;PW=123456;MN=A;Flag=300;CP=&&&&", "Flag"),
    ("ST=31;CN=2011;PW=123456;CP=&&&&", "MN"),
    ("ST=31;CN=2011;PW=123456;MN=A;Flag=5CP=&&&&", "CP"),
    ("ST=31;CN=2011;PW=123456;MN=A;FLAG=0;CP=&&&&", "FLAG"),
    ("ST=31;CN=2011;PW=123456;MN=A;CP=&&DataTime=20241301000000&&", "DataTime"),
    ("ST=31;CN=2011;PW=123456;MN=A;CP=&&a21026-Rtd=abc&&", "a21026-Rtd"),
    ("ST=31;CN=2011;PW=123456;MN=A;CP=&&a21026-Rtd=1;&&", "CP"),
    ("ST=31;CN=2011;PW=123456;MN=A;CP=&&a21026-Rtd=1,a21026-Rtd=2&&", "a21026-Rtd"),
    ("ST=31;CN=2011;PW=123456;MN=A;Flag=6;PNUM=2;PNO=3;CP=&&&&", "PNO"),
    ("ST=31;CN=2011;PW=123456;MN=A;CP=&&i11001-Info=//open&&", "i11001-Info"),
])
def test_grammar_errors_strict_only(segment, field):
    f = frame(segment)
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f)
    assert field in {i.field for i in err.value.issues}
    assert parse_packet(f, strict=False).warnings  # lenient: kept, reported


def test_grammar_error_offset_points_at_the_item():
    f = frame("ST=31;CN=2011;PW=123456;MN=A;CP=&&a21026-Rtd=abc&&")
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f)
    assert f[err.value.offset:].startswith(b"a21026-Rtd=abc")


def test_field_forms_real_devices_send_are_warnings_not_errors():
    p = parse_packet(frame("QN=1617936069734;ST=101;CN=2011;PW=;MN=411420sibo;Flag=4;"
                           "CP=&&DataTime=20210521110202;a21026-Rtd=123456.123456&&"))
    text = " | ".join(p.warnings)
    for word in ("QN has 13 digits", "ST '101'", "PW has 0", "MN '411420sibo'",
                 "a21026-Rtd=123456.123456 (N5.2)"):
        assert word in text


def test_over_1024_is_a_warning():
    values = ",".join(f"a{i:05d}-Rtd=1.0" for i in range(100))
    p = parse_packet(frame(f"ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&{values}&&"))
    assert any("exceeds 1024" in w for w in p.warnings)


def test_rf_resend_flag_2025():
    p = parse_packet(frame("QN=20240601085857223;ST=31;CN=2051;PW=123456;"
                           "MN=010000A8900016F000169DC0;Flag=8;RF=1;CP=&&DataTime=20240601085800&&"))
    assert (p.version, p.rf) == ("2025", "1")


def test_heartbeat_9015_parses():
    p = parse_packet(frame("QN=20240601085857223;ST=91;CN=9015;PW=123456;"
                           "MN=010000A8900016F000169DC0;Flag=8;CP=&&&&"))
    assert (p.cn, p.version, p.values, p.params) == ("9015", "2025", {}, {})


def test_data_time_to_datetime():
    assert data_time_to_datetime("20240601085800") == datetime(2024, 6, 1, 8, 58)
    assert data_time_to_datetime("20160824003817123") == datetime(2016, 8, 24, 0, 38, 17,
                                                                  123000)
    for bad in ("2024060108580", "20241301000000", "2024060108580x"):
        with pytest.raises(PacketError):
            data_time_to_datetime(bad)


def test_packet_is_frozen():
    p = parse_packet(frame("ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&&&"))
    assert isinstance(p, Packet)
    with pytest.raises(AttributeError):
        p.cn = "2051"  # type: ignore[misc]


def test_non_bytes_input_is_a_packet_error():
    with pytest.raises(PacketError):
        parse_packet("##0009CP=&&&&FFFF")  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_error_offset_after_chinese_text_counts_bytes(encoding):
    f = frame("ST=32;CN=3020;PW=123456;MN=88888880000001;Flag=4;"
              "CP=&&i11001-Info=//清洗管路//;a21026-Rtd=x1&&", encoding)
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f, encoding=encoding)
    assert f[err.value.offset:].startswith(b"a21026-Rtd=x1")


@pytest.mark.parametrize(("segment", "field", "at"), [
    ("ST=31;CN=2011;PW=123456;CP=&&&&", "MN", "CP=&&"),
    ("ST=31;CN=2011;PW=123456;MN=A;Flag=6;PNUM=2;PNO=3;CP=&&&&", "PNO", "PNO=3"),
    ("ST=31;CN=2011;PW=123456;MN=A;Flag=6;PNO=1;CP=&&&&", "PNUM", "PNO=1"),
])
def test_header_errors_have_offsets(segment, field, at):
    f = frame(segment)
    with pytest.raises(PacketDecodeError) as err:
        parse_packet(f)
    issue = next(i for i in err.value.issues if i.field == field)
    assert f[issue.offset:].startswith(at.encode())
