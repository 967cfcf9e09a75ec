"""`lantian users add --db PATH --name N --role R [--scope CODE...]` and password hashing."""

from __future__ import annotations

import json
import re

import duckdb
from typer.testing import CliRunner

from lantian.api.auth import authenticate, hash_password, verify_password
from lantian.cli import app

runner = CliRunner()


def test_add_admin_prints_generated_password_once_on_stderr(db_path):
    r = runner.invoke(app, ["users", "add", "--db", str(db_path), "--name", "root",
                            "--role", "admin"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    found = re.findall(r"password: (\S+)", r.stderr)
    assert len(found) == 1
    con = duckdb.connect(str(db_path))
    stored = con.execute("SELECT password_hash FROM app_user WHERE name = 'root'").fetchone()[0]
    assert stored.startswith("$argon2id$") and found[0] not in stored
    p = authenticate(con, "root", found[0])
    assert p is not None and p.role.value == "admin"
    assert authenticate(con, "root", found[0] + "x") is None
    con.close()


def test_password_stdin_and_scopes(db_path):
    r = runner.invoke(app, ["users", "add", "--db", str(db_path), "--name", "reg",
                            "--role", "regulator", "--scope", "43", "--scope", "1403",
                            "--password-stdin"], input="a-long-secret\n")
    assert r.exit_code == 0, r.stderr
    assert "password:" not in r.stderr
    con = duckdb.connect(str(db_path))
    p = authenticate(con, "reg", "a-long-secret")
    con.close()
    assert p is not None and p.scope == ("1403", "43")
    listed = runner.invoke(app, ["users", "list", "--db", str(db_path), "--format", "json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows == [{"id": rows[0]["id"], "name": "reg", "role": "regulator", "disabled": False,
                     "scope": ["1403", "43"]}]


def test_bad_input_one_line_error_and_nothing_stored(db_path):
    cases = [
        (["--name", "r1", "--role", "regulator"], "needs at least one --scope"),
        (["--name", "r2", "--role", "regulator", "--scope", "Hunan"], "district codes"),
        (["--name", "a1", "--role", "admin", "--scope", "43"], "takes no --scope"),
        (["--name", "a2", "--role", "admin", "--password", "short"], "at least 8"),
        (["--name", "bad name!", "--role", "admin"], "user name"),
    ]
    for args, needle in cases:
        r = runner.invoke(app, ["users", "add", "--db", str(db_path), *args])
        assert r.exit_code != 0, args
        assert needle in r.stderr and r.stderr.count("\n") == 1, r.stderr
    con = duckdb.connect(str(db_path))
    assert con.execute("SELECT count(*) FROM app_user").fetchone()[0] == 0
    con.close()


def test_duplicate_name_rejected(db_path):
    args = ["users", "add", "--db", str(db_path), "--name", "m", "--role", "maintainer",
            "--scope", "MN1", "--password", "password-1"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_unknown_role_rejected(db_path):
    r = runner.invoke(app, ["users", "add", "--db", str(db_path), "--name", "x",
                            "--role", "superuser"])
    assert r.exit_code != 0


def test_hash_verify_roundtrip():
    h = hash_password("pässwort-中文")
    assert verify_password(h, "pässwort-中文")
    assert not verify_password(h, "passwort")
    assert not verify_password("not-a-hash", "x")
