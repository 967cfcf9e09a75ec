"""Simulated flue-gas data loggers (数采仪) speaking HJ 212 to a gateway over TCP.

A fleet mixes source types (cement kiln, coke-oven stack, sinter head, coal and gas boilers,
foundry furnace), mostly HJ 212-2017 loggers, some HJ/T 212-2005 ones, and a few that
misbehave (bad CRC, garbage between packets, slow writer, wrong password, drifting clock).

Each logger sends real-time data (2011) every 30 s / ``rate``, minute data (2051) every
60 s / ``rate`` and hour data (2061) every 60 minutes of its own period clock. With the A bit
set it waits for the 9014 reply and retransmits after the timeout (HJ 212-2017 Table 1:
10 s, 3 retries). It answers 2051/2061 history fetches (9011, data, 9012) and 1012
set-time requests. The minute/hour period clock starts in the past so that after
``duration`` seconds it reaches the present; all times are China Standard Time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lantian.hj212 import gwcodec

__all__ = ["PROFILES", "LoggerSpec", "make_fleet", "register_fleet", "run_fleet", "run_logger"]

_FMT = "%Y%m%d%H%M%S"

# Typical values per source type: code -> (mean, standard deviation) [mg/m3, %, m3/s, °C,
# kPa]. Simulation inputs of plausible magnitude, not limits (limits live in the catalogue).
PROFILES: dict[str, dict[str, tuple[float, float]]] = {
    "cement_kiln": {"a34013": (6, 2), "a21026": (25, 10), "a21002": (70, 15), "a19001": (10.5, 1),
                    "a00000": (95, 8), "a01012": (115, 6), "a01013": (-0.3, 0.05),
                    "a01014": (6, 1), "a21001": (4, 1.5)},
    "coke_oven_stack": {"a34013": (5, 2), "a21026": (18, 6), "a21002": (90, 20),
                        "a19001": (9, 1), "a00000": (60, 5), "a01012": (190, 10),
                        "a01013": (-0.2, 0.05), "a01014": (8, 1)},
    "sinter_head": {"a34013": (6, 2), "a21026": (20, 8), "a21002": (40, 10), "a19001": (16, 1),
                    "a00000": (300, 20), "a01012": (140, 8), "a01013": (-0.5, 0.1),
                    "a01014": (9, 1)},
    "coal_boiler": {"a34013": (4, 1.5), "a21026": (22, 8), "a21002": (35, 8), "a19001": (6, 0.8),
                    "a00000": (40, 4), "a01012": (55, 5), "a01013": (-0.1, 0.03),
                    "a01014": (10, 1)},
    "gas_boiler": {"a34013": (2, 0.8), "a21026": (3, 1.5), "a21002": (25, 6), "a19001": (3.5, 0.5),
                   "a00000": (12, 2), "a01012": (90, 8), "a01013": (-0.05, 0.02),
                   "a01014": (9, 1)},
    "foundry_furnace": {"a34013": (8, 3), "a21026": (30, 12), "a21002": (60, 15),
                        "a19001": (14, 2), "a00000": (20, 3), "a01012": (80, 10),
                        "a01013": (-0.1, 0.05), "a01014": (4, 1)},
}
_CONCENTRATIONS = {"a34013", "a21026", "a21002", "a21001"}
_2005_CODES = {"a34013": "01", "a21026": "02", "a21002": "03", "a19001": "S01",
               "a00000": "B02", "a01012": "S03", "a01013": "S08", "a01014": "S05"}
MISBEHAVIOURS = ("bad_crc", "garbage", "slow", "wrong_password", "clock_drift")


@dataclass(frozen=True)
class LoggerSpec:
    """One simulated logger."""

    mn: str
    password: str
    source_type: str
    version: str = "2017"          # "2017" or "2005"
    misbehaviour: str | None = None


def make_fleet(n: int, seed: int = 0) -> list[LoggerSpec]:
    """``n`` loggers: ~85 % HJ 212-2017, ~10 % 2005, ~5 % misbehaving (at least one if n ≥ 20)."""
    rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
    types = list(PROFILES)
    fleet = []
    for i in range(n):
        kind = types[i % len(types)]
        r = rng.random()
        bad = None
        version = "2017"
        if (n >= 20 and i % 20 == 19) or r < 0.03:
            bad = MISBEHAVIOURS[(i // 20) % len(MISBEHAVIOURS)]
        elif r < 0.13:
            version = "2005"
        if version == "2005":
            mn = f"{seed % 100:02d}{i:012d}"
        else:
            mn = f"LT{seed % 100:02d}{types.index(kind):02d}{i:018d}"
        fleet.append(LoggerSpec(mn, f"{rng.randrange(10**6):06d}", kind, version, bad))
    return fleet


def register_fleet(db_path: str | Path, fleet: list[LoggerSpec]) -> int:
    """Add the fleet's MNs and passwords to the registry; return how many were new."""
    from lantian.ledger.registry import add_point
    from lantian.store.db import connect

    con = connect(db_path)
    try:
        have = {r[0] for r in con.execute("SELECT mn FROM monitoring_point").fetchall()}
        new = [s for s in fleet if s.mn not in have]
        for s in new:
            add_point(con, mn=s.mn, password=s.password, source_type=s.source_type,
                      outlet=f"{s.source_type} {s.mn[-4:]}", enterprise="蓝天模拟企业 (simulated)")
        return len(new)
    finally:
        con.close()


@dataclass
class _Logger:
    spec: LoggerSpec
    rng: random.Random
    rate: float
    stats: Counter[str]
    clock_offset: float = 0.0  # seconds the logger's clock is ahead of the platform
    qn_seq: int = 0
    last_rtd: dt.datetime | None = None
    waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    writer: asyncio.StreamWriter | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def now(self) -> dt.datetime:
        return gwcodec.now_cst() + dt.timedelta(seconds=self.clock_offset)

    def rtd_time(self) -> dt.datetime:
        """DataTime of the next real-time packet: the logger's clock, strictly increasing.

        With ``rate`` > 1 two real-time packets can fall in the same second; a real logger
        sends one per interval, so the simulator moves the later one on by a second.
        """
        t = self.now().replace(microsecond=0)
        if self.last_rtd is not None and t <= self.last_rtd:
            t = self.last_rtd + dt.timedelta(seconds=1)
        self.last_rtd = t
        return t

    def qn(self) -> str:
        self.qn_seq = (self.qn_seq + 1) % 1000
        return self.now().strftime(_FMT) + f"{self.qn_seq:03d}"

    def values(self, cn: str) -> dict[str, dict[str, float | str]]:
        out: dict[str, dict[str, float | str]] = {}
        for code, (mean, sd) in PROFILES[self.spec.source_type].items():
            v = round(max(mean + self.rng.gauss(0, sd), 0.0 if mean >= 0 else mean * 3), 3)
            name = _2005_CODES.get(code, code) if self.spec.version == "2005" else code
            flag = "N" if self.rng.random() > 0.01 else self.rng.choice("FMCD")
            if cn == "2011":
                fields: dict[str, float | str] = {"Rtd": v, "Flag": flag}
            else:
                fields = {"Min": round(v * 0.9, 3), "Avg": v, "Max": round(v * 1.1, 3),
                          "Flag": flag}
            if code in _CONCENTRATIONS and self.spec.version == "2017":
                o2 = PROFILES[self.spec.source_type].get("a19001", (10, 0))[0]
                fields["ZsRtd" if cn == "2011" else "ZsAvg"] = round(v * (21 - 10) / (21 - o2), 3)
            out[name] = fields
        return out

    def packet(self, cn: str, data_time: dt.datetime, *, ack: bool = True) -> tuple[str, bytes]:
        qn = self.qn()
        pw = "999999" if self.spec.misbehaviour == "wrong_password" else self.spec.password
        flag = 0 if self.spec.version == "2005" else (5 if ack else 4)
        raw = gwcodec.build_packet(st="31", cn=cn, pw=pw, mn=self.spec.mn, flag=flag, qn=qn,
                                   data_time=data_time.strftime(_FMT), values=self.values(cn),
                                   version=self.spec.version)
        return qn, bytes(raw)

    async def write(self, raw: bytes) -> None:
        w = self.writer
        if w is None:
            raise ConnectionError("not connected")
        mb = self.spec.misbehaviour
        if mb == "bad_crc" and self.rng.random() < 0.3:
            raw = raw[:-6] + b"0000\r\n"
            self.stats["sent_bad_crc"] += 1
        if mb == "garbage":
            w.write(bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40))))
        if mb == "slow":
            for i in range(0, len(raw), 16):
                w.write(raw[i : i + 16])
                await w.drain()
                await asyncio.sleep(0.01)
            return
        w.write(raw)
        await w.drain()

    async def send(self, cn: str, data_time: dt.datetime, timeout: float, retries: int) -> None:
        """Send one upload; with the A bit wait for 9014 and retransmit on timeout."""
        qn, raw = self.packet(cn, data_time)
        needs_ack = self.spec.version != "2005"
        for attempt in range(retries + 1):
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if needs_ack:
                self.waiting[qn] = fut
            async with self.lock:
                await self.write(raw)
            self.stats["sent" if attempt == 0 else "retransmitted"] += 1
            if not needs_ack:
                return
            try:
                await asyncio.wait_for(fut, timeout)
                self.stats["acked"] += 1
                return
            except TimeoutError:
                continue
            finally:
                self.waiting.pop(qn, None)
        self.stats["gave_up"] += 1

    async def reader(self, reader: asyncio.StreamReader, timeout: float, retries: int) -> None:
        framer = gwcodec.Framer()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for frame in framer.feed(data):
                if isinstance(frame, bytes):
                    await self.handle(frame, timeout, retries)

    async def handle(self, frame: bytes, timeout: float, retries: int) -> None:
        """React to one frame from the platform."""
        try:
            p = gwcodec.parse_packet(frame, strict=False)
        except gwcodec.PacketError:
            return
        cn = p.cn or ""
        if cn == "9014":
            fut = self.waiting.get(p.qn or "")
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif cn == "1012":
            st = p.params.get("SystemTime")
            if st:
                target = gwcodec.data_time_to_datetime(str(st))
                self.clock_offset = (target - gwcodec.now_cst()).total_seconds()
            self.stats["set_time"] += 1
            await self.reply(p, "9011", {"QnRtn": 1})
            await self.reply(p, "9012", {"ExeRtn": 1})
        elif cn in {"2051", "2061"}:
            self.stats[f"history_request_{cn}"] += 1
            task = asyncio.get_running_loop().create_task(self.answer_history(p, timeout, retries))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def reply(self, req: object, cn: str, params: dict[str, object]) -> None:
        raw = gwcodec.build_request(cn, st="91", pw=self.spec.password, mn=self.spec.mn,
                                    qn=getattr(req, "qn", None), params=params,  # type: ignore[arg-type]
                                    version=self.spec.version, now=self.now())
        async with self.lock:
            await self.write(bytes(raw))

    async def answer_history(self, req: object, timeout: float, retries: int) -> None:
        """Answer a 2051/2061 fetch: 9011, the periods asked for (each acknowledged), 9012."""
        try:
            await self._answer_history(req, timeout, retries)
        except (ConnectionError, OSError):
            self.stats["history_interrupted"] += 1

    async def _answer_history(self, req: object, timeout: float, retries: int) -> None:
        params = getattr(req, "params", {})
        try:
            begin = gwcodec.data_time_to_datetime(str(params["BeginTime"]))
            end = gwcodec.data_time_to_datetime(str(params["EndTime"]))
        except (KeyError, ValueError):
            await self.reply(req, "9011", {"QnRtn": 100})
            return
        await self.reply(req, "9011", {"QnRtn": 1})
        cn = str(getattr(req, "cn", "2051"))
        step = dt.timedelta(minutes=1) if cn == "2051" else dt.timedelta(hours=1)
        t = begin
        while t <= end:
            await self.send(cn, t, timeout, retries)
            self.stats["history_sent"] += 1
            t += step
        await self.reply(req, "9012", {"ExeRtn": 1})


async def run_logger(spec: LoggerSpec, host: str, port: int, *, rate: float, duration: float,
                     seed: int, stats: Counter[str], timeout: float = 10.0,
                     retries: int = 3) -> None:
    """Run one logger for ``duration`` seconds (reconnecting after the gateway closes it)."""
    rng = random.Random(f"{seed}:{spec.mn}")  # noqa: S311 - simulation
    lg = _Logger(spec, rng, rate, stats)
    if spec.misbehaviour == "clock_drift":
        lg.clock_offset = 600.0
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    rtd_every = 30.0 / rate
    min_every = 60.0 / rate
    total_minutes = max(1, int(duration / min_every))
    period = (gwcodec.now_cst().replace(second=0, microsecond=0)
              - dt.timedelta(minutes=total_minutes))
    next_rtd = loop.time() + rng.uniform(0, rtd_every)
    next_min = loop.time() + rng.uniform(0, min_every)
    while loop.time() < end:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            stats["connect_failed"] += 1
            await asyncio.sleep(min(1.0, max(0.0, end - loop.time())))
            continue
        stats["connections"] += 1
        lg.writer = writer
        rtask = loop.create_task(lg.reader(reader, timeout, retries))
        try:
            while loop.time() < end and not rtask.done():
                wait = min(next_rtd, next_min, end) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                now = loop.time()
                if now >= next_rtd:
                    next_rtd += rtd_every
                    await lg.send("2011", lg.rtd_time(), timeout, retries)
                if now >= next_min:
                    next_min += min_every
                    await lg.send("2051", period, timeout, retries)
                    period += dt.timedelta(minutes=1)
                    if period.minute == 0:
                        await lg.send("2061", period - dt.timedelta(hours=1), timeout, retries)
        except (ConnectionError, OSError):
            stats["disconnected"] += 1
        finally:
            if lg.tasks:  # finish answering history requests before hanging up
                await asyncio.wait(list(lg.tasks), timeout=timeout * (retries + 1))
            rtask.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await rtask
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        if loop.time() < end and spec.misbehaviour == "wrong_password":
            await asyncio.sleep(min(5.0, max(0.0, end - loop.time())))


async def run_fleet(fleet: list[LoggerSpec], host: str, port: int, *, rate: float,
                    duration: float, seed: int = 0, timeout: float = 10.0,
                    retries: int = 3) -> Counter[str]:
    """Run every logger of ``fleet`` concurrently; return the summed counters."""
    stats: Counter[str] = Counter()
    await asyncio.gather(*(
        run_logger(s, host, port, rate=rate, duration=duration, seed=seed, stats=stats,
                   timeout=timeout, retries=retries)
        for s in fleet
    ))
    return stats
