"""Gateway settings, read from ``catalog/data/gateway.toml`` (no thresholds in code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from lantian.errors import ConfigurationError
from lantian.hj212.gwruntime import RuntimeSettings
from lantian.hj212.talkback import TalkbackSettings

__all__ = ["GatewaySettings", "load_settings"]


@dataclass(frozen=True)
class GatewaySettings:
    """Every tunable of the gateway; see ``gateway.toml`` for sources and units."""

    reply_timeout_s: float
    retries: int
    max_frame: int
    idle_timeout_s: float
    auth_fail_limit: int
    write_buffer_high: int
    write_buffer_max: int
    max_pending_per_conn: int
    batch_max: int
    batch_wait_s: float
    pipeline: bool
    pipeline_min: int
    decode_thread_min: int
    min_free_bytes: int
    checkpoint_threshold_mib: int
    registry_refresh_s: float
    sweep_interval_s: float
    forward_retry_interval_s: float
    forward_batch_max: int
    journal_first: bool
    materialise_interval_s: float
    materialise_max_pending: int
    journal_log: bool
    journal_segment_mib: int
    materialise_memory_max: int
    talkback: TalkbackSettings
    materialise_nice: int = 0  # [materialise] nice: the materialiser thread's niceness
    materialise_max_lag_s: float = 0.0  # [materialise] max_lag_s: bound on DuckDB's lag [s]
    duckdb_threads: int = 0  # [materialise] duckdb_threads: DuckDB's threads (0: its default)
    #: [materialise] duckdb_max_vacuum_tasks: DuckDB's max_vacuum_tasks (None: its default)
    duckdb_max_vacuum_tasks: int | None = None
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)  # [runtime], by serve

    def with_(self, **changes: Any) -> GatewaySettings:
        """Copy with some fields changed (tests, CLI overrides)."""
        return replace(self, **changes)


def load_settings(path: str | Path | None = None) -> GatewaySettings:
    """Load the settings file (the packaged one when ``path`` is None).

    Raises
    ------
    ConfigurationError
        When a key is missing or unknown.

    """
    if path is None:
        text = resources.files("lantian.catalog").joinpath("data/gateway.toml").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read gateway settings {path}: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"gateway settings {path} are not valid TOML: {exc}") from None
    try:
        tb_keys = {f.name for f in fields(TalkbackSettings)}
        tb_doc = doc["talkback"]
        unknown = set(tb_doc) - tb_keys - {"source", "confidence", "sweep_interval_s"}
        if unknown:
            raise ConfigurationError(f"unknown [talkback] keys in gateway settings: {unknown}")
        tb = TalkbackSettings(**{k: float(v) for k, v in tb_doc.items() if k in tb_keys})
        return GatewaySettings(
            reply_timeout_s=float(doc["protocol"]["reply_timeout_s"]),
            retries=int(doc["protocol"]["retries"]),
            max_frame=int(doc["framing"]["max_frame"]),
            idle_timeout_s=float(doc["connection"]["idle_timeout_s"]),
            auth_fail_limit=int(doc["connection"]["auth_fail_limit"]),
            write_buffer_high=int(doc["connection"]["write_buffer_high"]),
            write_buffer_max=int(doc["connection"]["write_buffer_max"]),
            max_pending_per_conn=int(doc["connection"]["max_pending_per_conn"]),
            batch_max=int(doc["commit"]["batch_max"]),
            batch_wait_s=float(doc["commit"]["batch_wait_s"]),
            pipeline=bool(doc["commit"]["pipeline"]),
            pipeline_min=int(doc["commit"]["pipeline_min"]),
            decode_thread_min=int(doc["commit"]["decode_thread_min"]),
            min_free_bytes=int(doc["commit"]["min_free_bytes"]),
            checkpoint_threshold_mib=int(doc["commit"]["checkpoint_threshold_mib"]),
            registry_refresh_s=float(doc["commit"]["registry_refresh_s"]),
            sweep_interval_s=float(tb_doc["sweep_interval_s"]),
            forward_retry_interval_s=float(doc["forward"]["retry_interval_s"]),
            forward_batch_max=int(doc["forward"]["batch_max"]),
            journal_first=bool(doc["materialise"]["journal_first"]),
            materialise_interval_s=float(doc["materialise"]["interval_s"]),
            materialise_max_pending=int(doc["materialise"]["max_pending"]),
            journal_log=bool(doc["materialise"]["journal_log"]),
            journal_segment_mib=int(doc["materialise"]["segment_mib"]),
            materialise_memory_max=int(doc["materialise"]["memory_max"]),
            materialise_nice=int(doc["materialise"].get("nice", 0)),
            materialise_max_lag_s=float(doc["materialise"].get("max_lag_s", 0.0)),
            duckdb_threads=int(doc["materialise"].get("duckdb_threads", 0)),
            duckdb_max_vacuum_tasks=_vacuum_tasks(doc["materialise"]),
            runtime=_runtime(doc.get("runtime", {})),
            talkback=tb,
        )
    except KeyError as exc:
        raise ConfigurationError(f"gateway settings lack {exc}") from exc


def _vacuum_tasks(doc: dict[str, Any]) -> int | None:
    """``[materialise] duckdb_max_vacuum_tasks`` (optional: absent leaves DuckDB's default)."""
    n = doc.get("duckdb_max_vacuum_tasks")
    if n is None:
        return None
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ConfigurationError(
            f"[materialise] duckdb_max_vacuum_tasks must be an integer ≥ 0, not {n!r}")
    return n


def _runtime(doc: dict[str, Any]) -> RuntimeSettings:
    """``[runtime]`` (optional; absent keys leave Python's own values)."""
    unknown = set(doc) - {"gc_freeze", "gc_threshold", "switch_interval_s", "source",
                          "confidence"}
    if unknown:
        raise ConfigurationError(f"unknown [runtime] keys in gateway settings: {unknown}")
    th = doc.get("gc_threshold")
    sw = doc.get("switch_interval_s")
    if th is not None and (not isinstance(th, list) or not 1 <= len(th) <= 3
                           or not all(isinstance(x, int) and x >= 0 for x in th)):
        raise ConfigurationError(f"[runtime] gc_threshold must be 1-3 integers ≥ 0, not {th!r}")
    if sw is not None and not (isinstance(sw, int | float) and sw > 0):
        raise ConfigurationError(f"[runtime] switch_interval_s must be > 0 s, not {sw!r}")
    return RuntimeSettings(gc_freeze=bool(doc.get("gc_freeze", False)),
                           gc_threshold=None if th is None else tuple(th),
                           switch_interval_s=None if sw is None else float(sw))
