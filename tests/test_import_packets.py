"""`lantian import packets`: bulk import through the same store as the gateway."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import dataset
from lantian.cli import app
from lantian.hj212 import build_packet
from lantian.store.bulk import clean_line, import_packet_lines
from lantian.store.db import connect
from lantian.store.export import export_records
from lantian.store.ingest import PacketStore

runner = CliRunner()
MN17 = "010000A8900016F000169DC0"
MN05 = "1234567ABCDEFG"


def stored_tables(con, journal_exclude: str = "received_at") -> dict[str, list]:
    """Every row the store wrote, in a run-independent order (for path-equality tests).

    Packets without DataTime are keyed at their receive time, which differs per run, so the
    ``packet_key`` time of QN keys and the journal's ``journal_exclude`` columns are left out.
    """
    out = {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("flue_rtd", "flue_minute", "flue_hour", "flue_day", "value_long")
    }
    out["packet_key"] = con.execute(
        "SELECT * REPLACE (CASE WHEN k LIKE 'QN:%' THEN NULL ELSE ts END AS ts) "
        "FROM packet_key ORDER BY ALL"
    ).fetchall()
    out["journal"] = con.execute(
        f"SELECT * EXCLUDE ({journal_exclude}) FROM packet_journal ORDER BY id"
    ).fetchall()
    return out

def minute_values(i: int, v2005: bool = False) -> dict:
    so2, o2, flow = ("02", "S01", "B02") if v2005 else ("a21026", "a19001", "a00000")
    return {
        so2: {"Avg": 10 + i % 7 + 0.25, "Min": 9.5, "Max": 20.0, "ZsAvg": 12.5, "Flag": "N"},
        o2: {"Avg": 8.5, "Flag": "N"},
        flow: {"Avg": 120.5, "Cou": 7230.0, "Flag": "N"},
        "a99999": {"Avg": 1.0},  # made-up code: not in the glossary -> value_long
    }


def flue_file(path: Path, n: int = 30) -> list[bytes]:
    """n minute packets of a 2017 logger and n of a 2005 logger, from 2024-05-01 09:30 CST."""
    lines = []
    t0 = dt.datetime(2024, 5, 1, 9, 30)
    for i in range(n):
        t = (t0 + dt.timedelta(minutes=i)).strftime("%Y%m%d%H%M%S")
        lines.append(
            build_packet(
                st="31",
                cn="2051",
                pw="123456",
                mn=MN17,
                data_time=t,
                values=minute_values(i),
                qn=f"{t}000",
            )
        )
        lines.append(
            build_packet(
                st="31",
                cn="2051",
                pw="123456",
                mn=MN05,
                data_time=t,
                values=minute_values(i, True),
                version="2005",
            )
        )
    path.write_bytes(b"".join(lines))
    return lines


def run_import(path: Path, db: Path, *extra: str):
    return runner.invoke(
        app,
        ["import", "packets", str(path), "--db", str(db), *extra],
        env={"LANTIAN_NO_PROGRESS": "1"},
    )


def test_flue_file_round_trip_2017_and_2005(tmp_path, db_path):
    f = tmp_path / "flue.txt"
    flue_file(f, 30)
    r = run_import(f, db_path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["lines"], summary["accepted"], summary["duplicate"], summary["rejected"]) == (
        60,
        60,
        0,
        0,
    )
    con = connect(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 60
    # 2005 codes land in the same columns, minute 09:33 -> i = 3 -> so2 = 13.25
    got = con.execute(
        "SELECT so2_mg_m3, so2_zs, o2_pct, flow_m3_s, flow_cou, sent_codes FROM flue_minute "
        "WHERE mn = ? AND ts = '2024-05-01 09:33:00'",
        [MN05],
    ).fetchone()
    assert got == (13.25, 12.5, 8.5, 120.5, 7230.0, "so2=02;o2=S01;flow=B02")
    # the export gives back every packet's values exactly as sent, with the codes as sent
    for mn, v2005 in ((MN17, False), (MN05, True)):
        recs = list(export_records(con, mn=mn))
        assert [r["values"] for r in recs] == [minute_values(i, v2005) for i in range(30)]
        assert recs[0]["data_time"] == dt.datetime(2024, 5, 1, 9, 30)
        assert {r["cn"] for r in recs} == {"2051"}
    con.close()


def test_reimport_is_all_duplicates_and_writes_nothing_twice(tmp_path, db_path):
    f = tmp_path / "flue.txt"
    flue_file(f, 5)
    assert run_import(f, db_path).exit_code == 0
    r = run_import(f, db_path, "--format", "json")
    s = json.loads(r.stdout)
    assert (s["accepted"], s["duplicate"]) == (0, 10)
    con = connect(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 10
    assert con.execute("SELECT count(*) FROM value_long").fetchone()[0] == 10
    assert (
        con.execute("SELECT count(*) FROM packet_journal WHERE verdict = 'duplicate'").fetchone()[0]
        == 10
    )
    con.close()


def test_bad_lines_reported_by_number_and_good_lines_stored(tmp_path, db_path):
    good = flue_file(tmp_path / "g.txt", 3)
    bad_crc = good[0][:-6] + b"FFFF\r\n"  # line 2
    lines = [good[0], bad_crc, b"this is not a packet\n", b"\n", good[1], good[2] + b"\tcomment"]
    f = tmp_path / "mixed.txt"
    f.write_bytes(b"".join(x if x.endswith(b"\n") else x + b"\n" for x in lines))
    # data already stored must survive an import that meets bad lines
    other = tmp_path / "other.txt"
    other.write_bytes(good[3])
    assert run_import(other, db_path).exit_code == 0
    r = run_import(f, db_path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["lines"], s["accepted"], s["rejected"]) == (5, 3, 2)
    assert sum(s["rejected_by_reason"].values()) == 2
    err = r.stderr
    assert "mixed.txt:2: rejected" in err and "CRC" in err.upper()
    assert "mixed.txt:3: rejected" in err
    con = connect(db_path)
    assert con.execute("SELECT count(*) FROM flue_minute").fetchone()[0] == 4
    rows = con.execute(
        "SELECT source, verdict, raw FROM packet_journal "
        "WHERE verdict LIKE 'rejected:%' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["file:mixed.txt:2", "file:mixed.txt:3"]
    assert rows[1][2] == b"this is not a packet"
    con.close()


def test_missing_file_and_locked_db_fail_with_one_line(tmp_path, db_path):
    r = run_import(tmp_path / "nope.txt", db_path)
    assert r.exit_code != 0 and r.stdout == ""
    assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_clean_line_rules():
    assert clean_line(b"##abc\r\n") == b"##abc"
    assert clean_line(b"##abc\tfrom 10.0.0.1\r\n") == b"##abc"
    assert clean_line(b"##abc") == b"##abc"
    assert clean_line(b"##a\rb\n") == b"##a\rb"  # CR inside the line is kept


def test_import_lines_in_small_batches_equals_one_batch(tmp_path):
    lines = flue_file(tmp_path / "f.txt", 10)
    from lantian.hj212.bulk import decode_lines

    def tables(batch_size):
        con = connect(tmp_path / f"b{batch_size}.duckdb")
        s = import_packet_lines(
            PacketStore(con),
            lines + lines[:3],
            lambda x: decode_lines(x),
            source="f",
            batch_size=batch_size,
        )
        rows = con.execute(
            "SELECT * EXCLUDE (packet_id) FROM flue_minute ORDER BY mn, ts"
        ).fetchall()
        con.close()
        return (s.accepted, s.duplicate), rows

    small, large = tables(7), tables(1000)
    assert small == large
    assert small[0] == (20, 3) and len(small[1]) == 20


@pytest.mark.slow
def test_simulator_log_water_codes_go_to_value_long(db_path):
    log = dataset("hj212-simulator-log") / "packets.txt"
    r = run_import(log, db_path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    n_lines = sum(1 for ln in log.read_bytes().split(b"\n") if ln.strip())
    assert s["lines"] == n_lines == 4503
    assert s["accepted"] + s["duplicate"] + s["rejected"] == 4503
    assert s["rejected"] == 0
    con = connect(db_path)
    # water data: nothing of it fits the flue-gas wide tables
    assert con.execute("SELECT count(*) FROM flue_rtd").fetchone()[0] == 0
    codes = {r[0] for r in con.execute("SELECT DISTINCT code FROM value_long").fetchall()}
    assert {"w01018", "w21003", "w21011", "w21001", "w01001"} <= codes
    n2011 = con.execute(
        "SELECT count(DISTINCT data_time) FROM packet_journal "
        "WHERE cn = '2011' AND verdict = 'accepted'"
    ).fetchone()[0]
    assert (
        n2011
        == con.execute(
            "SELECT count(DISTINCT packet_id) FROM value_long WHERE cn = '2011'"
        ).fetchone()[0]
    )
    # a record comes back as sent: the first 2011 line of the file
    first = next(ln for ln in log.read_bytes().split(b"\n") if b"CN=2011" in ln)
    from lantian.hj212 import parse_packet

    p = parse_packet(first.rstrip(b"\r"))
    dtm = dt.datetime.strptime(p.data_time, "%Y%m%d%H%M%S")
    [rec] = list(
        export_records(con, mn=p.mn, cn="2011", start=dtm, end=dtm + dt.timedelta(seconds=1))
    )
    assert rec["values"] == p.values
    con.close()


def odd_packets() -> list[bytes]:
    """Packets that exercise every routing rule."""
    t = "20240501100000"
    b = []
    b.append(
        build_packet(
            st="31",
            cn="2011",
            pw="1",
            mn=MN17,
            data_time=t,
            values={
                "a21026": {
                    "Rtd": 1.5,
                    "Avg": 9.9,
                    "ZsRtd": 2.0,
                    "Flag": "N",
                },  # Avg in real time: long
                "i12001": {"Info": "1"},
                "w01018": {"Rtd": 3.0},
                "a19001": {"Rtd": 8.0, "EFlag": "A1"},
            },
        )
    )
    b.append(
        build_packet(
            st="31",
            cn="2051",
            pw="1",
            mn=MN17,
            data_time=t,
            values={
                "a21026": {"Avg": 1.0},
                "02": {"Avg": 2.0, "Flag": "N"},  # same parameter twice
                "S01": {"Avg": 7.0},
            },
        )
    )
    b.append(
        build_packet(
            st="31",
            cn="2061",
            pw="1",
            mn=MN05,
            data_time=t,
            version="2005",
            values={"02": {"Avg": 2.0, "Cou": 0.5}, "01": {"Avg": 3.0}},
        )
    )
    b.append(
        build_packet(
            st="31",
            cn="2031",
            pw="1",
            mn=MN05,
            data_time="20240501000000",
            version="2005",
            values={"03": {"Avg": 20.0, "Min": 1.0, "Flag": "N"}},
        )
    )
    b.append(
        build_packet(
            st="31",
            cn="2021",
            pw="1",
            mn=MN17,
            data_time=t,
            values={"SB1": {"RS": 1}, "i12001": {"Info": "0"}},
        )
    )
    b.append(build_packet(st="31", cn="9014", pw="1", mn=MN17, qn="20240501100000123"))
    return b


def test_columnar_and_packet_paths_write_identical_tables(tmp_path):
    from lantian.commands.importing import column_decoder
    from lantian.hj212.bulk import decode_lines

    lines = flue_file(tmp_path / "f.txt", 8) + odd_packets()
    lines = lines + lines[:4] + [b"##0010garbage"]

    def tables(columnar: bool):
        con = connect(tmp_path / f"c{columnar}.duckdb")
        kw = (
            {"decode_columns": column_decoder(True)}
            if columnar
            else {"decode": lambda x: decode_lines(x)}
        )
        s = import_packet_lines(PacketStore(con), lines, source="f", batch_size=9, **kw)
        out = stored_tables(con, journal_exclude="received_at, verdict")
        out["verdicts"] = [
            v[0].split(":")[0]
            for v in con.execute("SELECT verdict FROM packet_journal ORDER BY id").fetchall()
        ]
        con.close()
        return (s.accepted, s.duplicate, s.rejected), out

    packets, columns = tables(False), tables(True)
    assert packets[0] == columns[0] == (len(lines) - 5, 4, 1)
    for name in packets[1]:
        assert packets[1][name] == columns[1][name], name
    assert len(packets[1]["value_long"]) > 10


def test_locked_database_gives_one_line_saying_what_to_do(tmp_path, db_path):
    import subprocess
    import sys

    connect(db_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(60)",
            str(db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        f = tmp_path / "f.txt"
        flue_file(f, 1)
        r = run_import(f, db_path)
        assert r.exit_code != 0 and r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1
        assert "lantian serve" in r.stderr
        r = runner.invoke(app, ["data", "export", "--db", str(db_path), "--mn", MN17])
        assert r.exit_code != 0 and "lantian serve" in r.stderr
    finally:
        holder.kill()
        holder.wait()
