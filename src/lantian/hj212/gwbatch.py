"""The gateway's batch path: raw upload frames decoded together, stored as columns.

Connection readers only frame; a frame whose header CN is one of the upload CNs is queued
raw (:func:`looks_like_upload`, one ``bytes.find``). The writer task decodes the whole
queue at once with the codec's vectorised :func:`lantian.hj212.columnar.decode_batch`
(lenient, the verdicts of ``parse_packet``) and keeps on this path only the rows that are
decoded, CRC-correct, plain (not split, not encrypted) uploads; every other row goes back
to the per-packet path, which treats it exactly as before (HJ 212-2017 §6.3.3 split
messages, 2025 SM4 areas, bad CRC, errors).

:func:`column_batch` builds the store's :class:`~lantian.store.columns.ColumnBatch` of the
selected rows, so one ``PacketStore.ingest_columns`` call journals and stores them in one
transaction; :class:`Head` carries the header fields the replies (9014, same QN) and the
talk-back need. Times are China Standard Time wall-clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lantian.hj212.columnar import DecodedBatch, code_ids, decode_batch
from lantian.hj212.gwreply import data_replies
from lantian.ledger.registry import AuthVerdict, MonitoringPoint, authenticate
from lantian.store.columns import ColumnBatch

__all__ = ["OTHER", "PLAIN", "REJECT", "Head", "SortedUploads", "column_batch", "decode_batch",
           "decode_journal", "decode_uploads", "head_of", "heads_of", "keep_rows",
           "looks_like_upload", "sort_uploads", "warm_up"]

PLAIN, OTHER, REJECT = 0, 1, 2
"""Kinds of a queued upload (:func:`sort_uploads`): stored as a column row and answered
from the batch; handed to the gateway's per-packet path; rejected (unknown MN, wrong
password, inactive point)."""


def decode_uploads(frames: Sequence[bytes]) -> DecodedBatch:
    """Decode queued upload frames as the gateway does (lenient, numbers without their text).

    ``number_text=False``: ``item_text`` holds the text of text fields only, as the store's
    bulk path expects; the stored rows are those of the per-packet path (tested).
    ``digit_warnings=False, header_warnings=False`` (session 5): the gateway keeps no parser
    warnings (the store batch has no column for them); writing the "more digits than the
    code table's format" texts was ≈ 5 of the ≈ 7.5 µs per packet of this decode, in Python,
    holding the GIL (1,000 load-generator packets, whose values all trip it), and the MN
    check a fixed cost of every (open-loop: 2-3 packet) batch. Verdicts and values are
    unchanged.
    """
    return decode_batch(frames, strict=False, number_text=False, digit_warnings=False,
                        header_warnings=False)


def decode_journal(frames: Sequence[bytes]) -> ColumnBatch:
    """Store batch of journalled raw uploads, decoded again as the writer decoded them.

    The materialiser's decoder after a restart (:func:`lantian.store.materialise.catch_up`):
    the same :func:`decode_uploads` and :func:`column_batch` as the live path, so the rows
    written are the same. Receive time and peer are not needed for value rows.
    """
    d = decode_uploads(frames)
    n = len(frames)
    return column_batch(d, range(n), frames, ["journal"] * n, [None] * n)


def looks_like_upload(frame: bytes, upload_cns: frozenset[bytes]) -> bool:
    """Cheap peek: the header's ``CN=`` is an upload CN.

    Only a hint for routing, read on the event loop for every frame; the writer decodes the
    header again (:func:`sort_uploads`) and hands everything that is not a plain upload —
    split parts (PNUM/PNO), bad CRCs, SM4 data areas, parse errors — to the per-packet
    path. Session 11: the search for ``PN`` between ``CN=`` and ``CP=`` (session 8) left
    the loop: it was ≈ 0.4-0.6 of the ≈ 0.6-1.05 µs this peek cost per frame, and the
    decode of the batch finds a split part anyway (a part now reaches the reassembler
    after its batch's decode, a few ms later; it is answered after its own commit as before).
    """
    k = frame.find(b"CN=")
    return k >= 0 and frame[k + 3:k + 7] in upload_cns


class Head:
    """Header fields of one decoded upload (strings as sent), enough to reply and talk back.

    Has the attributes of :class:`lantian.hj212.Packet` that ``build_data_reply`` and the
    gateway's talk-back read (``mn pw cn qn st flag version data_time rf pnum pno params``).
    A plain slotted class (read-only by convention): built once per packet on the event
    loop, where a frozen dataclass's ``__init__`` cost ≈ 3 µs a packet.
    """

    __slots__ = (
        "cn",
        "data_time",
        "flag",
        "mn",
        "params",
        "pno",
        "pnum",
        "pw",
        "qn",
        "rf",
        "st",
        "version",
    )

    def __init__(self, mn: str | None, pw: str | None, cn: str | None, qn: str | None,
                 st: str | None, flag: str | None, version: str | None,
                 data_time: str | None, rf: str | None, pnum: str | None = None,
                 pno: str | None = None, params: dict[str, str] | None = None) -> None:
        self.mn, self.pw, self.cn, self.qn, self.st, self.flag = mn, pw, cn, qn, st, flag
        self.version, self.data_time, self.rf, self.pnum, self.pno = (
            version, data_time, rf, pnum, pno)
        self.params = {} if params is None else params

    def __repr__(self) -> str:
        return f"Head(mn={self.mn!r}, cn={self.cn!r}, qn={self.qn!r}, flag={self.flag!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Head):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def needs_reply(self) -> bool:
        """Whether the A bit (bit 0) of Flag is set (HJ 212-2017 §6.3.2)."""
        return _a_bit(self.flag)


def _a_bit(f: str | None) -> bool:
    """Whether a Flag text has the A bit (bit 0) set (HJ 212-2017 §6.3.2)."""
    return f is not None and f.isdigit() and f.isascii() and int(f) & 1 == 1


def head_of(d: DecodedBatch, i: int) -> Head:
    """Return the :class:`Head` of row ``i`` of a decoded batch."""
    c = d.columns
    return Head(c["mn"][i], c["pw"][i], c["cn"][i], c["qn"][i], c["st"][i], c["flag"][i],
                c["version"][i], c["data_time"][i], c["rf"][i], c["pnum"][i], c["pno"][i],
                d.params.get(i))


def heads_of(d: DecodedBatch) -> list[Head]:
    """Return the :class:`Head` of every row of a decoded batch (one pass over the columns).

    ``map`` over the columns (session 11): no per-row tuple unpacking or ``params`` lookup
    (the rare parameters are placed first), ≈ 0.65 → 0.5 µs a row (1,000 frames, best of 60).
    """
    c = d.columns
    params: list[dict[str, str] | None] = [None] * len(c["mn"])
    for i, p in d.params.items():
        params[i] = p
    return list(map(Head, c["mn"], c["pw"], c["cn"], c["qn"], c["st"], c["flag"],
                    c["version"], c["data_time"], c["rf"], c["pnum"], c["pno"], params))


def warm_up() -> None:
    """Decode and answer one sample batch: the first loggers wait for no one-time set-up."""
    from lantian.hj212.builder import build_packet

    frame = build_packet(st="31", cn="2051", pw="123456", mn="0" * 24, flag=5,
                         qn="20240101000000000", data_time="20240101000000",
                         values={"a21026": {"Avg": 1.0, "Flag": "N"}})
    from lantian.hj212.gwreply import data_replies

    data_replies(heads_of(decode_uploads([frame] * 2)), dt.datetime(2024, 1, 1))


def column_batch(d: DecodedBatch, rows: Sequence[int], raw: Sequence[bytes],
                 source: Sequence[str],
                 received_at: Sequence[dt.datetime | None]) -> ColumnBatch:
    """Store batch of the decoded rows ``rows`` (in that order).

    ``raw``, ``source`` and ``received_at`` are given for the selected rows only.
    """
    n = len(d)
    idx = np.asarray(rows, dtype=np.int64)
    c = d.columns
    ids = code_ids(d)  # integer code/suffix ids: the store need not hash every value's names
    if len(idx) == n and bool((idx == np.arange(n)).all()):
        # every row, in order (the usual batch, session 8): whole columns, no row picking
        return ColumnBatch(
            raw=list(raw), source=list(source), received_at=list(received_at),
            ok=d.ok.copy(), error=list(d.error),
            mn=list(c["mn"]), st=list(c["st"]), cn=list(c["cn"]), qn=list(c["qn"]),
            data_time=list(c["data_time"]), version=list(c["version"]),
            item_row=d.item_packet.copy(), item_code=d.item_code, item_suffix=d.item_suffix,
            item_num=d.item_value, item_text=d.item_text,
            item_code_id=ids["item_code_id"], item_suffix_id=ids["item_suffix_id"],
            code_table=ids["code_table"], suffix_table=ids["suffix_table"],
        )
    new_of = np.full(n, -1, dtype=np.int64)
    new_of[idx] = np.arange(len(idx), dtype=np.int64)
    keep = new_of[d.item_packet] >= 0 if len(d.item_packet) else np.zeros(0, dtype=bool)

    def pick(name: str) -> list[str | None]:
        col = c[name]
        return [col[i] for i in rows]

    return ColumnBatch(
        raw=list(raw), source=list(source), received_at=list(received_at),
        ok=d.ok[idx], error=[d.error[i] for i in rows],
        mn=pick("mn"), st=pick("st"), cn=pick("cn"), qn=pick("qn"),
        data_time=pick("data_time"), version=pick("version"),
        item_row=new_of[d.item_packet[keep]], item_code=d.item_code[keep],
        item_suffix=d.item_suffix[keep], item_num=d.item_value[keep],
        item_text=d.item_text[keep],
        item_code_id=ids["item_code_id"][keep], item_suffix_id=ids["item_suffix_id"][keep],
        code_table=ids["code_table"], suffix_table=ids["suffix_table"],
    )


@dataclass
class SortedUploads:
    """Queued upload frames decoded, authenticated and made into a store batch.

    Per queued frame ``i``: ``kinds[i]`` (:data:`PLAIN`, :data:`OTHER`, :data:`REJECT`),
    ``heads[i]`` and, for a rejected one, ``reasons[i]`` (the :class:`AuthVerdict` value).
    ``rows`` are the plain frames in queue order, ``batch`` their store batch (None when
    there is none) and ``replies[k]`` the framed 9014 of ``rows[k]`` (None without the A
    bit) — built here, written only once the batch is durable; ``decoded`` the decode.
    """

    decoded: DecodedBatch
    kinds: list[int]
    heads: list[Head]
    reasons: list[str | None]
    rows: list[int]
    batch: ColumnBatch | None
    replies: list[bytes | None]


def sort_uploads(frames: Sequence[bytes], peers: Sequence[str],
                 received_at: Sequence[dt.datetime | None],
                 registry: Mapping[str, MonitoringPoint], upload_cns: frozenset[str],
                 now: dt.datetime) -> SortedUploads:
    """Decode queued uploads and do every per-row step that needs no connection state.

    Runs on the gateway's decoder thread for large batches (session 7: the per-row Python
    of a batch — headers, authentication, the column batch, the 9014 replies — was ≈ 8 µs
    per packet on the event loop). ``registry`` is a snapshot (read only). A row is
    :data:`PLAIN` when it decodes leniently with a correct CRC, is an upload CN
    (``upload_cns``) without PNUM/PNO, and its MN and PW authenticate against a point
    without an SM4 key; a wrong MN or PW is :data:`REJECT`; everything else (bad CRC,
    split messages, 2025 SM4 data areas, parse errors) is :data:`OTHER`, which the
    gateway's per-packet path decides exactly as before. ``now`` [CST] is the platform clock
    of HJ/T 212-2005 reply QNs (:func:`lantian.hj212.gwreply.data_replies`).
    """
    d = decode_uploads(frames)
    ok, crc_ok = d.ok.tolist(), d.crc_ok.tolist()
    heads = heads_of(d)
    n = len(frames)
    kinds = [OTHER] * n
    reasons: list[str | None] = [None] * n
    rows: list[int] = []
    for i, head in enumerate(heads):
        if not (ok[i] and crc_ok[i]) or head.cn not in upload_cns \
                or head.pnum is not None or head.pno is not None:
            continue
        verdict = authenticate(registry, head.mn, head.pw)  # constant-time PW compare
        if verdict is not AuthVerdict.ok:
            kinds[i], reasons[i] = REJECT, verdict.value
        elif not registry[head.mn or ""].sm4_key:  # an SM4 key: per packet (may be encrypted)
            kinds[i] = PLAIN
            rows.append(i)
    return _with_batch(d, heads, kinds, reasons, rows, frames, peers, received_at, now)


def _with_batch(d: DecodedBatch, heads: list[Head], kinds: list[int],
                reasons: list[str | None], rows: list[int], frames: Sequence[bytes],
                peers: Sequence[str], received_at: Sequence[dt.datetime | None],
                now: dt.datetime) -> SortedUploads:
    """Build the :class:`SortedUploads` of ``rows``: their store batch and 9014 replies."""
    if not rows:
        return SortedUploads(d, kinds, heads, reasons, rows, None, [])
    if len(rows) == len(frames):  # every frame is plain (the usual batch)
        batch = column_batch(d, rows, frames, peers, received_at)
    else:
        batch = column_batch(d, rows, [frames[i] for i in rows], [peers[i] for i in rows],
                             [received_at[i] for i in rows])
    flags = d.columns["flag"]
    a_bit = {f: _a_bit(f) for f in set(flags)}  # a batch's loggers send a few Flag texts
    wants = [a_bit[flags[i]] for i in rows]  # the A bit, read once per row
    built = iter(data_replies([heads[i] for i, w in zip(rows, wants, strict=True) if w], now))
    replies = [next(built) if w else None for w in wants]
    return SortedUploads(d, kinds, heads, reasons, rows, batch, replies)


def keep_rows(s: SortedUploads, keep: Sequence[int], frames: Sequence[bytes],
              peers: Sequence[str], received_at: Sequence[dt.datetime | None]
              ) -> SortedUploads:
    """``s`` with only the plain rows ``keep`` (a subsequence of ``s.rows``), same replies.

    The rare case where connection state rules rows out after sorting (a connection closed
    for failed authentication, the disk nearly full): the store batch is built again.
    """
    kept = set(keep)
    replies = [r for i, r in zip(s.rows, s.replies, strict=True) if i in kept]
    rows = [i for i in s.rows if i in kept]
    batch = column_batch(s.decoded, rows, [frames[i] for i in rows], [peers[i] for i in rows],
                         [received_at[i] for i in rows]) if rows else None
    return SortedUploads(s.decoded, s.kinds, s.heads, s.reasons, rows, batch, replies)
