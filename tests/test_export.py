"""`lantian data export`: values as sent, filters, formats."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from lantian.cli import app
from lantian.store.db import connect
from lantian.store.export import export_records
from lantian.store.ingest import Incoming, PacketStore
from test_store_ingest import P

runner = CliRunner()


def fill(db_path):
    con = connect(db_path)
    store = PacketStore(con)
    pk = [
        P("M", "2011", "20240501100000", {"a21026": {"Rtd": 1.5, "ZsRtd": 2.0, "Flag": "N"}}),
        P(
            "M",
            "2051",
            "20240501100000",
            {"a21026": {"Avg": 2.5, "Flag": "N"}, "i12001": {"Info": "1"}},
        ),
        P("M", "2061", "20240501100000", {"02": {"Avg": 3.5, "Cou": 0.2}}, version="2005"),
        P("M", "2031", "20240501000000", {"a21002": {"Avg": 40.0, "Flag": "D"}}),
        P("M", "2051", "20240501100100", {"a21026": {"Avg": 2.75, "Flag": "N"}}),
        P("M", "2021", "20240501100100", {"i12001": {"Info": "0"}}),
        P("OTHER", "2051", "20240501100000", {"a21026": {"Avg": 9.0}}),
        P("M", "9014", None, qn="20240501100000001"),
    ]
    store.ingest([Incoming(b"##", "t", None, packet=p) for p in pk])
    # a retransmission with other values is not exported twice
    store.ingest([Incoming(b"##", "t", None, packet=pk[1])])
    con.close()
    return pk


def test_export_records_values_as_sent(db_path):
    pk = fill(db_path)
    con = connect(db_path)
    recs = list(export_records(con, mn="M"))
    con.close()
    assert [(r["cn"], r["data_time"]) for r in recs] == [
        ("2031", dt.datetime(2024, 5, 1, 0, 0)),
        ("2011", dt.datetime(2024, 5, 1, 10, 0)),
        ("2051", dt.datetime(2024, 5, 1, 10, 0)),
        ("2061", dt.datetime(2024, 5, 1, 10, 0)),
        ("2021", dt.datetime(2024, 5, 1, 10, 1)),
        ("2051", dt.datetime(2024, 5, 1, 10, 1)),
    ]
    by = {(r["cn"], r["data_time"].minute): r["values"] for r in recs}
    assert by[("2011", 0)] == pk[0].values
    assert by[("2051", 0)] == pk[1].values
    assert by[("2061", 0)] == {"02": {"Avg": 3.5, "Cou": 0.2}}
    assert by[("2031", 0)] == pk[3].values
    assert by[("2021", 1)] == {"i12001": {"Info": "0"}}


def test_cli_json_filters(db_path):
    fill(db_path)
    r = runner.invoke(
        app,
        [
            "data",
            "export",
            "--db",
            str(db_path),
            "--mn",
            "M",
            "--cn",
            "2051",
            "--from",
            "2024-05-01T10:00:30",
            "--to",
            "2024-05-02",
        ],
    )
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert rows == [
        {
            "mn": "M",
            "cn": "2051",
            "data_time": "2024-05-01T10:01:00",
            "values": {"a21026": {"Avg": 2.75, "Flag": "N"}},
        }
    ]
    r = runner.invoke(
        app, ["data", "export", "--db", str(db_path), "--mn", "M", "--to", "20240501100000"]
    )
    assert [json.loads(x)["cn"] for x in r.stdout.splitlines()] == ["2031"]


def test_cli_csv_and_parquet(db_path, tmp_path):
    fill(db_path)
    r = runner.invoke(
        app,
        ["data", "export", "--db", str(db_path), "--mn", "M", "--cn", "2051", "--format", "csv"],
    )
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == '"mn","cn","data_time","a21026-Avg","a21026-Flag","i12001-Info"'
    assert lines[1] == '"M","2051","2024-05-01T10:00:00",2.5,"N","1"'
    out = tmp_path / "x.parquet"
    r = runner.invoke(
        app,
        [
            "data",
            "export",
            "--db",
            str(db_path),
            "--mn",
            "M",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.stderr
    t = pq.read_table(out)
    assert t.num_rows == 6
    assert t.column("02-Avg").to_pylist().count(3.5) == 1


def test_cli_bad_arguments(db_path):
    for args in (["--from", "yesterday"], ["--cn", "20511"], ["--format", "parquet"]):
        r = runner.invoke(app, ["data", "export", "--db", str(db_path), "--mn", "M", *args])
        assert r.exit_code != 0 and r.stdout == ""
        assert r.stderr.startswith("error:")
