"""CLI contract: ``lantian hj212 check [FILE|-]`` (issue 2), through CliRunner and subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from conftest import dataset
from lantian.cli import app
from lantian.hj212 import build_packet

KEYS = ["ok", "crc_ok", "error", "version", "qn", "st", "cn", "pw", "mn", "flag", "data_time",
        "values"]
runner = CliRunner()


def run(args, data=None):
    res = runner.invoke(app, ["hj212", "check", *args], input=data)
    lines = [json.loads(ln) for ln in res.stdout.splitlines()]
    return res, lines


def test_vectors_tsv_fed_directly(tmp_path):
    path = dataset("hj212-vectors") / "vectors.tsv"
    res, out = run([str(path)])
    assert res.exit_code == 0
    verdicts = [ln.split(b"\t")[1] for ln in path.read_bytes().splitlines()]
    assert len(out) == 65
    for obj, verdict in zip(out, verdicts, strict=True):
        assert list(obj) == KEYS
        assert obj["crc_ok"] is (verdict == b"crc_ok")
        assert obj["ok"] is (obj["error"] is None)
    first = out[0]
    assert first == {"ok": True, "crc_ok": True, "error": None, "version": "2017",
                     "qn": "20160801085857223", "st": "32", "cn": "1062", "pw": "100000",
                     "mn": "010000A8900016F000169DC0", "flag": "5", "data_time": None,
                     "values": {}}


def test_values_numbers_and_header_strings_as_sent():
    f = build_packet(st="31", cn="2051", pw="000123", mn="010000A8900016F000169DC0",
                     qn="20240601085857223", data_time="20240601085800",
                     values={"a21026": {"Avg": 12.3, "ZsAvg": 15.1, "Flag": "N"}})
    res, out = run(["-"], f)
    assert res.exit_code == 0
    assert out[0]["values"] == {"a21026": {"Avg": 12.3, "ZsAvg": 15.1, "Flag": "N"}}
    assert out[0]["pw"] == "000123" and out[0]["data_time"] == "20240601085800"
    assert isinstance(out[0]["values"]["a21026"]["Avg"], float)


def test_broken_lines_give_ok_false_with_offset_field_reason():
    good = build_packet(st="31", cn="2011", pw="123456", mn="88888880000001",
                        data_time="20240601085800", values={"a21026": {"Rtd": 1.0}})
    bad_crc = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"0001") + b"\r\n"
    data = good + b"garbage\n" + bad_crc + b"\n" + b"##0009CP=&&&&FFFF\tcomment\r\n"
    res, out = run(["-"], data)
    assert res.exit_code == 0
    assert len(out) == 5  # good, garbage, bad CRC, empty line, short frame
    assert out[0]["ok"] is True
    assert out[1]["ok"] is False and "byte 0" in out[1]["error"] and "'header'" in out[1]["error"]
    assert out[2]["ok"] is False and out[2]["crc_ok"] is False and "'crc'" in out[2]["error"]
    assert out[2]["values"] == {"a21026": {"Rtd": 1.0}}  # fields read so far
    assert out[3]["ok"] is False
    assert out[4]["ok"] is False and out[4]["crc_ok"] is False


def test_lenient_accepts_modbus_capture():
    path = dataset("hj212-vectors") / "vectors.tsv"
    res, out = run(["--lenient", str(path)])
    assert res.exit_code == 0
    assert out[55]["ok"] is True and out[55]["crc_ok"] is False
    res, out = run([str(path)])
    assert out[55]["ok"] is False


def test_unreadable_file_exits_1_with_reason(tmp_path):
    res = runner.invoke(app, ["hj212", "check", str(tmp_path / "missing.txt")])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert "cannot read" in res.stderr


def test_help_says_what_the_exit_code_means():
    res = runner.invoke(app, ["hj212", "check", "--help"])
    assert "Exit code" in res.stdout


def test_subprocess_stdin_and_stderr_summary():
    f = build_packet(st="31", cn="2011", pw="123456", mn="88888880000001")
    exe = Path(sys.executable).with_name("lantian")
    proc = subprocess.run([str(exe), "hj212", "check", "-"],
                          input=f + b"junk\n", capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0
    out = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert [o["ok"] for o in out] == [True, False]
    assert b"2 lines, 1 ok, 1 rejected" in proc.stderr
