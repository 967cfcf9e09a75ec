"""A column batch made ready for the database without the database: the bulk write path.

:func:`prepare_batch` does, for a :class:`~lantian.store.columns.ColumnBatch`, everything of a
store transaction that does not depend on what is already stored — classification (decoded?
DataTime valid? de-duplication key), duplicates inside the batch, routing of every value of
the would-be accepted packets into wide-table frames and the long frame, and the journal
frame. It is a pure function of the batch, so it may run in another process (the bulk import
runs it next to the decoder, in worker processes, and ships the result back as Arrow
tables). Packet ids in its frames are row numbers inside the batch.

:func:`write_prepared` then runs the part that needs the database, inside the caller's
transaction: claim the keys in ``packet_key`` (``INSERT OR IGNORE … RETURNING``), turn the
retransmissions of earlier batches into ``duplicate``, drop their rows from the frames, add
the journal id base to the packet ids, insert the frames, journal every line. Several
prepared parts (consecutive pieces of a file) may go into one transaction; keys are claimed
part by part in order, so the first copy of a packet in file order is the one accepted —
the result is the one of a single sequential batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from lantian.store.columns import ColumnBatch, route_values
from lantian.store.times import cst_now, parse_cached, timestamps

if TYPE_CHECKING:  # the worker processes of an import need no database driver
    import duckdb

__all__ = [
    "JOURNAL_SCHEMA",
    "Classified",
    "Key",
    "PreparedBatch",
    "claim_keys",
    "classified_columns",
    "classify_fields",
    "first_copies",
    "insert_frame",
    "keys_frame",
    "prepare_batch",
    "rejected",
    "write_prepared",
]

JOURNAL_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("received_at", pa.timestamp("us")),
        ("source", pa.string()),
        ("mn", pa.string()),
        ("st", pa.string()),
        ("cn", pa.string()),
        ("qn", pa.string()),
        ("data_time", pa.timestamp("us")),
        ("version", pa.string()),
        ("verdict", pa.string()),
        ("raw", pa.binary()),
    ]
)
"""Columns of ``packet_journal`` (migration ``0001_core.sql``)."""


@dataclass(frozen=True)
class PreparedBatch:
    """A batch ready to be written (see the module docstring); picklable.

    ``verdict`` holds the provisional verdicts (``accepted`` for packets whose key is still
    to be claimed, ``duplicate`` for later copies inside the batch, ``rejected:<reason>``);
    ``keys`` the de-duplication keys of the first copies (``mn``, ``cn``, ``k``, ``ts``,
    ``row``); ``journal`` every line without ``id`` and ``verdict``; ``wide`` and ``long``
    the values of every provisionally accepted packet, ``packet_id`` = row in the batch;
    ``proto_row`` the rows that carry an MN and a protocol version (for
    ``monitoring_point.protocol``).
    """

    n: int
    verdict: list[str]
    keys: pa.Table | None
    journal: pa.Table
    wide: dict[str, pa.Table]
    long: pa.Table | None
    proto_row: npt.NDArray[np.int64]
    proto_mn: list[str]
    proto_version: list[str]

    def with_raw(self, raw: Sequence[bytes]) -> PreparedBatch:
        """Return this batch with the journal's ``raw`` column (the lines as read, in order)."""
        if len(raw) != self.n:
            raise ValueError(f"{len(raw)} raw lines for a batch of {self.n}")
        journal = self.journal.append_column("raw", pa.array(raw, pa.binary()))
        return dataclasses.replace(self, journal=journal)


Key = tuple[str, str, str]
Classified = tuple[str, dt.datetime | None, Key | None]
"""Provisional verdict, DataTime and de-duplication key (or None) of one item."""


def rejected(error: str | None) -> Classified:
    """Classify an item the codec could not decode (``error``: its reason)."""
    reason = (error or "undecodable").replace("\n", " ")
    return f"rejected:{reason}", None, None


def classify_fields(
    mn: str | None, cn: str | None, qn: str | None, data_time: str | None
) -> Classified:
    """Classify a decoded item by its header: DataTime valid? de-duplication key.

    The key is (MN, CN, DataTime as sent), or (MN, CN, ``QN:<qn>``) without DataTime, or None
    (no MN or CN: journalled, never de-duplicated). Distinct DataTime texts are parsed once
    (:func:`lantian.store.times.parse_cached`).
    """
    ts = None
    if data_time:
        try:
            ts = parse_cached(data_time)
        except ValueError as exc:
            return f"rejected:{exc}", None, None
    if not mn or not cn:
        return "accepted", ts, None
    if data_time:
        return "accepted", ts, (mn, cn, data_time)
    if qn:
        return "accepted", ts, (mn, cn, "QN:" + qn)
    return "accepted", ts, None


def classified_columns(
    classified: Sequence[Classified],
) -> tuple[list[str], list[dt.datetime | None], list[Key | None]]:
    """Split classifications into the verdict, DataTime and key lists."""
    return [c[0] for c in classified], [c[1] for c in classified], [c[2] for c in classified]


def _classify(
    b: ColumnBatch,
) -> tuple[list[str], list[dt.datetime | None], list[Key | None]]:
    """:func:`classify_fields` (or :func:`rejected`) of every item of ``b``."""
    return classified_columns([
        classify_fields(mn, cn, qn, t) if ok else rejected(err)
        for ok, err, mn, cn, qn, t in zip(
            b.ok.tolist(), b.error, b.mn, b.cn, b.qn, b.data_time, strict=True
        )
    ])


def first_copies(keys: Sequence[Key | None], verdict: list[str]) -> dict[Key, int]:
    """Return ``{key: row of its first copy}``; mark later copies ``duplicate`` in ``verdict``."""
    first: dict[Key, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            verdict[i] = "duplicate"
        else:
            first[key] = i
    return first


def keys_frame(first: dict[Key, int], ts_of: Sequence[dt.datetime | None],
               received: Sequence[dt.datetime]) -> pa.Table:
    """De-dup keys to claim, from ``{key: row}`` (:func:`first_copies`).

    Columns ``mn``, ``cn``, ``k``, ``ts`` (DataTime, else the receive time) and ``row`` (the
    packet's row in its batch).
    """
    rows = list(first.values())
    return pa.table(
        {
            "mn": pa.array([k[0] for k in first], pa.string()),
            "cn": pa.array([k[1] for k in first], pa.string()),
            "k": pa.array([k[2] for k in first], pa.string()),
            "ts": timestamps([ts_of[i] or received[i] for i in rows]),
            "row": pa.array(rows, pa.int64()),
        }
    )


def prepare_batch(b: ColumnBatch, *, with_raw: bool = True) -> PreparedBatch:
    """Classify, de-duplicate within the batch, route and journal ``b`` (no database).

    ``with_raw=False`` leaves the ``raw`` column out of the journal frame (a caller that
    still holds the lines adds it with :meth:`PreparedBatch.with_raw`, which spares sending
    the bytes back from a worker process).
    """
    n = len(b)
    verdict, ts_of, keys = _classify(b)
    first = first_copies(keys, verdict)
    now = cst_now()
    received = [r or now for r in b.received_at]
    key_table = keys_frame(first, ts_of, received) if first else None
    ts_arr = timestamps(ts_of)
    wide: dict[str, pa.Table] = {}
    long = None
    candidate = np.fromiter(
        (v == "accepted" and t is not None for v, t in zip(verdict, ts_of, strict=True)),
        dtype=bool,
        count=n,
    )
    if candidate.any():
        wide, long = route_values(b, candidate, ts_arr.to_numpy(zero_copy_only=False), 0)
    journal = pa.table(
        {
            "received_at": timestamps(received),
            "source": pa.array(b.source, pa.string()),
            "mn": pa.array(b.mn, pa.string()),
            "st": pa.array(b.st, pa.string()),
            "cn": pa.array(b.cn, pa.string()),
            "qn": pa.array(b.qn, pa.string()),
            "data_time": ts_arr,
            "version": pa.array(b.version, pa.string()),
            **({"raw": pa.array(b.raw, pa.binary())} if with_raw else {}),
        }
    )
    proto = [
        i
        for i, (mn, ver, v) in enumerate(zip(b.mn, b.version, verdict, strict=True))
        if mn and ver and v == "accepted"
    ]
    return PreparedBatch(
        n=n,
        verdict=verdict,
        keys=key_table,
        journal=journal,
        wide=wide,
        long=long,
        proto_row=np.array(proto, dtype=np.int64),
        proto_mn=[b.mn[i] or "" for i in proto],
        proto_version=[b.version[i] or "" for i in proto],
    )


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pa.Table) -> None:
    """``INSERT INTO table BY NAME`` the rows of the Arrow ``frame``."""
    con.register("_lantian_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _lantian_frame")
    finally:
        con.unregister("_lantian_frame")


def claim_keys(con: duckdb.DuckDBPyConnection, keys: pa.Table, base: int) -> npt.NDArray[np.int64]:
    """Insert the keys not yet stored; return the rows (in the part) whose key was new."""
    frame = keys.append_column("packet_id", pc.add(keys.column("row"), base)).drop(["row"])
    con.register("_lantian_keys", frame)
    try:
        got = con.execute(
            "INSERT OR IGNORE INTO packet_key BY NAME SELECT * FROM _lantian_keys "
            "RETURNING packet_id"
        ).fetchnumpy()["packet_id"]
    finally:
        con.unregister("_lantian_keys")
    return np.asarray(got, dtype=np.int64) - base


def _kept(frame: pa.Table, accepted: npt.NDArray[np.bool_], base: int) -> pa.Table | None:
    """Rows of packets finally accepted, with journal ids (``base`` + row)."""
    pid = frame.column("packet_id").to_numpy()
    keep = accepted[pid]
    if not keep.all():
        if not keep.any():
            return None
        frame = frame.filter(pa.array(keep))
    i = frame.schema.get_field_index("packet_id")
    return frame.set_column(i, "packet_id", pc.add(frame.column(i), base))


def write_prepared(
    con: duckdb.DuckDBPyConnection, p: PreparedBatch, base: int
) -> tuple[list[str], dict[str, str]]:
    """Write ``p`` with journal ids from ``base``, in the caller's open transaction.

    Returns the final verdicts and the protocol version last accepted per MN.
    """
    verdict = list(p.verdict)
    accepted = np.fromiter((v == "accepted" for v in verdict), dtype=bool, count=p.n)
    if p.keys is not None and p.keys.num_rows:
        rows = p.keys.column("row").to_numpy()
        fresh = np.zeros(p.n, dtype=bool)
        fresh[claim_keys(con, p.keys, base)] = True
        for i in rows[~fresh[rows]].tolist():
            verdict[i] = "duplicate"
            accepted[i] = False
    for table, frame in p.wide.items():
        kept = _kept(frame, accepted, base)
        if kept is not None:
            insert_frame(con, table, kept)
    if p.long is not None:
        kept = _kept(p.long, accepted, base)
        if kept is not None:
            insert_frame(con, "value_long", kept)
    journal = p.journal.append_column(
        "id", pa.array(np.arange(base, base + p.n, dtype=np.int64))
    ).append_column("verdict", pa.array(verdict, pa.string()))
    insert_frame(con, "packet_journal", journal)
    last: dict[str, str] = {}
    if len(p.proto_row):
        ok = accepted[p.proto_row].tolist()
        for mn, ver, a in zip(p.proto_mn, p.proto_version, ok, strict=True):
            if a:
                last[mn] = ver
    return verdict, last
