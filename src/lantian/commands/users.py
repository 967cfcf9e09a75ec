"""``lantian users``: accounts of the web pages and API.

``lantian users add --db PATH --name N --role R [--scope CODE...]`` creates an account. Without
``--password`` a random password is generated and printed once on stderr;
``--password-stdin`` reads it from standard input instead. Never prompts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lantian.api.auth import Role, add_user, generate_password
from lantian.commands._common import DbOption, FormatOption, OutputFormat, echo_err, emit_rows, fail
from lantian.errors import LantianError
from lantian.store.db import connect

__all__ = ["register"]

users_app = typer.Typer(help="Accounts of the web pages and API (用户管理).", no_args_is_help=True)


@users_app.command("add")
def add(
    db: DbOption,
    name: Annotated[str, typer.Option("--name", help="User name.")],
    role: Annotated[Role, typer.Option("--role", help="admin, regulator, enterprise, maintainer.")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="regulator: district code prefix; enterprise: enterprise id or credit "
        "code; maintainer: monitoring point MN. Repeat for several.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="Password (else generated).")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
) -> None:
    """Create an account (prints a generated password once on stderr)."""
    if password is not None and password_stdin:
        fail("give either --password or --password-stdin, not both")
    generated = False
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password, generated = generate_password(), True
    try:
        con = connect(Path(db))
        try:
            uid = add_user(con, name, role, password, list(scope or []))
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    echo_err(f"user {name} (id {uid}, role {role.value}) created")
    if generated:
        echo_err(f"password: {password}")


@users_app.command("list")
def list_users(db: DbOption, fmt: FormatOption = OutputFormat.table) -> None:
    """List accounts with role and scope codes (never passwords)."""
    try:
        con = connect(Path(db))
        try:
            res = con.execute(
                "SELECT u.id, u.name, u.role, u.disabled, "
                "list(s.code ORDER BY s.code) FILTER (WHERE s.code IS NOT NULL) AS scope "
                "FROM app_user u LEFT JOIN app_user_scope s ON s.user_id = u.id "
                "GROUP BY ALL ORDER BY u.id")
            cols = [d[0] for d in res.description]
            rows = [dict(zip(cols, r, strict=True)) for r in res.fetchall()]
        finally:
            con.close()
    except LantianError as exc:
        fail(exc)
    if fmt is OutputFormat.json:
        emit_rows(rows)
    else:
        for r in rows:
            typer.echo(f"{r['id']}\t{r['name']}\t{r['role']}\t{','.join(r['scope'] or [])}")


def register(app: typer.Typer) -> None:
    """Add ``lantian users`` to the CLI."""
    app.add_typer(users_app, name="users")
