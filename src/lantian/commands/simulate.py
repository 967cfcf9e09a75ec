"""``lantian simulate``: simulated flue-gas data loggers sending HJ 212 to a gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from lantian.commands._common import echo_err, emit_json, fail
from lantian.errors import LantianError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the CLI."""

    @app.command("simulate")
    def simulate(
        port: Annotated[int, typer.Option("--port", help="Gateway TCP port.")],
        loggers: Annotated[int, typer.Option("--loggers", min=1, help="Number of loggers.")],
        rate: Annotated[
            float, typer.Option("--rate", min=0.001,
                                help="Speed-up: real-time data every 30/R s, minute data "
                                     "every 60/R s.")
        ] = 1.0,
        duration: Annotated[float, typer.Option("--duration", min=0.0, help="Seconds to run.")]
        = 60.0,
        seed: Annotated[int, typer.Option("--seed", help="Random seed (fleet and values).")] = 0,
        host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
        register_db: Annotated[
            Path | None,
            typer.Option("--db", help="Database whose registry gets the simulated MNs "
                         "(with --register)."),
        ] = None,
        do_register: Annotated[
            bool, typer.Option("--register", help="Add the simulated MNs to the registry of "
                               "--db first, then run (or only register when --duration 0).")
        ] = False,
        timeout: Annotated[
            float, typer.Option("--timeout", help="Reply timeout before a retransmission [s] "
                                "(HJ 212-2017 Table 1: 10 s).")
        ] = 10.0,
    ) -> None:
        """Run N simulated data loggers against a gateway; print one JSON summary on stdout.

        Fleet: cement kiln, coke-oven stack, sinter head, coal and gas boilers, foundry
        furnace; mostly HJ 212-2017, some HJ/T 212-2005, a few misbehaving. Progress and
        warnings on stderr.
        """
        from lantian.hj212.gateway import raise_nofile_limit
        from lantian.hj212.simulator import make_fleet, register_fleet, run_fleet

        fleet = make_fleet(loggers, seed)
        if do_register:
            if register_db is None:
                fail("--register needs --db PATH")
            try:
                n = register_fleet(register_db, fleet)
            except LantianError as exc:
                fail(exc)
            echo_err(f"registered {n} new loggers in {register_db}")
        if duration <= 0:
            emit_json({"loggers": loggers, "registered": do_register})
            return
        raise_nofile_limit()
        t0 = time.monotonic()
        echo_err(f"simulating {loggers} loggers against {host}:{port} for {duration:g} s "
                 f"(rate ×{rate:g})")
        stats = asyncio.run(run_fleet(fleet, host, port, rate=rate, duration=duration,
                                      seed=seed, timeout=timeout))
        out = {"loggers": loggers, "seconds": round(time.monotonic() - t0, 3), **dict(stats)}
        if stats.get("connections", 0) == 0:
            emit_json(out)
            fail(f"no connection could be made to {host}:{port}")
        emit_json(out)
