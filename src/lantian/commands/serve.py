"""``lantian serve``: the HJ 212 gateway and, when available, the HTTP API in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lantian.commands._common import DbOption, echo_err, fail
from lantian.errors import LantianError

__all__ = ["register", "run_server"]

log = logging.getLogger("lantian.serve")


def _cst_time(secs: float | None) -> time.struct_time:
    """Log time stamps as China Standard Time (UTC+8) whatever the machine's zone."""
    return time.gmtime((secs if secs is not None else time.time()) + 8 * 3600)


def _make_api(gw: Any, host: str, port: int) -> Any | None:
    """Return a uvicorn Server for ``lantian.api.app.create_app``, or None when absent.

    The app shares the gateway's database connection (one writer per DuckDB file); its
    ``state.gateway`` is the running :class:`~lantian.hj212.gateway.Gateway` (status).
    """
    try:
        from lantian.api.app import create_app
    except ImportError as exc:
        log.warning("HTTP API not available (%s): serving the gateway only", exc)
        return None
    import uvicorn

    app = create_app(gw.db_path, con=gw.connection)
    app.state.gateway = gw
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # lantian serve owns SIGTERM/SIGINT (it stops the gateway too): uvicorn must not take them
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    return server


async def run_server(db: Path, host: str, gateway_port: int, http_port: int | None,
                     forward_to: str | None = None, settings: Path | None = None,
                     status_file: Path | None = None) -> None:
    """Run until SIGTERM/SIGINT; then stop accepting, commit what is queued, close.

    With ``status_file`` the final counters (``GET /live/gateway``'s fields, among them the
    materialiser's lag and CPU) are written there as one JSON object after the stop.
    """
    from lantian.hj212.gateway import Gateway
    from lantian.hj212.gwsettings import load_settings

    gw = Gateway(db, load_settings(settings), forward_to=forward_to)
    await gw.open()
    # build the HTTP app (imports, routers) before loggers can connect: it runs on this loop
    api = _make_api(gw, host, http_port) if http_port else None
    port = await gw.start(host, gateway_port)
    from lantian.hj212.gwruntime import apply_runtime

    gw.status.counts.update(apply_runtime(gw.settings.runtime))  # gc, GIL ([runtime])
    echo_err(f"lantian gateway on {host}:{port} (HJ 212), database {db}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    api_task = None
    if api is not None:
        api_task = asyncio.create_task(api.serve())
        echo_err(f"lantian HTTP API on http://{host}:{http_port}/")
    try:
        await stop.wait()
    finally:
        echo_err("lantian serve: stopping")
        if api is not None and api_task is not None:
            api.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(api_task, 10)
        await gw.stop()
        if status_file is not None:
            status_file.write_text(json.dumps(gw.status.as_dict()) + "\n", "utf-8")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""

    @app.command("serve")
    def serve(
        db: DbOption,
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        gateway_port: Annotated[
            int, typer.Option("--gateway-port", help="HJ 212 TCP port (0 = any free port).")
        ] = 9212,
        http_port: Annotated[
            int, typer.Option("--http-port", help="HTTP API port (0 = no HTTP API).")
        ] = 8000,
        forward_to: Annotated[
            str | None,
            typer.Option("--forward-to", help="host:port of an upstream platform to relay "
                         "accepted packets to (off by default)."),
        ] = None,
        log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
        settings: Annotated[
            Path | None,
            typer.Option("--settings", help="Gateway settings file (TOML, all keys of the "
                         "packaged catalog/data/gateway.toml); the packaged one by default."),
        ] = None,
        status_file: Annotated[
            Path | None,
            typer.Option("--status-file", help="On stop, write the final gateway counters "
                         "(JSON object) to this file."),
        ] = None,
    ) -> None:
        """Run the HJ 212 gateway (and the HTTP API) over one database. Logs on stderr.

        Survives kill -9: every acknowledged packet was in the journal log (<db>.journal,
        flushed with fsync) before its 9014 reply; the materialiser copies journal lines,
        de-dup keys and values into DuckDB within about a second, and a restart writes every
        record past its watermark before it listens.
        """
        handler = logging.StreamHandler(sys.stderr)
        fmt = logging.Formatter("%(asctime)s CST %(levelname)s %(name)s: %(message)s")
        fmt.converter = _cst_time
        handler.setFormatter(fmt)
        root = logging.getLogger("lantian")
        root.addHandler(handler)
        root.setLevel(log_level.upper())
        try:
            asyncio.run(run_server(db, host, gateway_port, http_port or None, forward_to,
                                   settings, status_file))
        except LantianError as exc:
            fail(exc)
        except OSError as exc:
            fail(f"cannot listen on {host}:{gateway_port}: {exc}")
        finally:
            root.removeHandler(handler)
