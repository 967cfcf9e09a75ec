"""``lantian aq``: ambient air quality (环境空气质量) — AQI, statistics, composite index, targets.

Commands (all times China Standard Time; ``--format json`` = JSON Lines on stdout):

* ``aq aqi --input FILE`` hourly station AQI as CNEMC publishes it;
* ``aq daily --input FILE`` daily AQI (日报) per station and day;
* ``aq composite --stats FILE`` composite index and joint ranks from period statistics;
* ``aq report --input FILE --from DATE --to DATE`` period statistics per station and city;
* ``aq import --input FILE --db PATH`` hourly data (and registry) into ``aq_hour``;
* ``aq targets --targets FILE --db PATH`` district/city targets: gap and year projection.

See docs/air_quality.md for the output fields.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lantian.catalog import aq as cat
from lantian.commands._common import DbOption, OutputFormat, echo_err, emit_rows, fail
from lantian.engine.composite import (
    ROUNDINGS,
    change_rate,
    composite_index,
    joint_ranks,
    round_statistic,
)
from lantian.errors import LantianError

if TYPE_CHECKING:
    import ibis
    import pandas as pd

__all__ = ["aq_app", "register"]

aq_app = typer.Typer(
    help="Air quality (环境空气质量): AQI, HJ 663 statistics, composite index, targets. "
    "Times are China Standard Time.",
    no_args_is_help=True,
)

InputOption = Annotated[
    Path,
    typer.Option("--input", help="Hourly file: national wide, Beijing CSV/folder, or long CSV."),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="json: JSON Lines on stdout.")]
StationsOption = Annotated[
    Path | None,
    typer.Option("--stations", help="Station registry CSV (station,name,city,district,lon,lat)."),
]


def register(app: typer.Typer) -> None:
    """Attach the ``aq`` group to the root app."""
    app.add_typer(aq_app, name="aq")


def _output(rows: list[dict[str, Any]], fmt: OutputFormat) -> None:
    import pandas as pd

    if fmt is OutputFormat.json:
        emit_rows(rows)
        return
    frame = pd.DataFrame(rows)
    if fmt is OutputFormat.csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        sys.stdout.write(frame.to_string(index=False) + "\n")


def _time(value: Any) -> str:
    import pandas as pd

    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")


def _primary(text: Any) -> list[str]:
    return [p for p in str(text or "").split(",") if p]


@aq_app.command("aqi")
def aqi_cmd(
    input_file: InputOption,
    fmt: FormatOpt = OutputFormat.json,
    detail: Annotated[
        bool, typer.Option("--detail", help="Add each IAQI, category and the moving-mean IAQI.")
    ] = False,
) -> None:
    """Hourly station AQI (实时报) as CNEMC publishes it, rules by date (HJ 633-2012/-2026).

    ``--detail`` adds category, colour, every IAQI and ``exceeding`` (超标污染物, 2012 rules).

    One object per station-hour with data: station, time (the file's hour label, CST), aqi,
    primary (so2 no2 pm10 pm2_5 co o3; empty when AQI ≤ 50), level (1–6).
    """
    import ibis
    import pandas as pd

    from lantian.engine.aq_stats import moving_means
    from lantian.engine.aqi import PRIMARY_ORDER, exceeding, hourly_aqi
    from lantian.store.aq_readers import read_hourly

    try:
        hourly = read_hourly(input_file)
    except LantianError as exc:
        fail(exc)
    table = ibis.memtable(hourly)
    if detail:
        # Moving means the file lacks (O3 8-h as CNEMC, PM 24-h), with their own IAQI.
        table = moving_means(table)
    result = hourly_aqi(table).order_by(["station", "ts"]).execute()
    result = result[result["aqi"].notna()]
    rows = []
    for r in result.to_dict("records"):
        row: dict[str, Any] = {
            "station": r["station"],
            "time": _time(r["ts"]),
            "aqi": int(r["aqi"]),
            "primary": _primary(r["primary"]),
            "level": int(r["level"]),
        }
        if detail:
            lv = cat.level_for(int(r["aqi"]))
            row["category"] = lv.category_zh
            row["category_en"] = lv.category_en
            row["colour"] = lv.colour
            for k, v in r.items():
                if str(k).startswith("iaqi_"):
                    row[str(k)] = None if pd.isna(v) else int(v)
            version = cat.aqi_version_for(pd.Timestamp(r["ts"]).date())
            row["exceeding"] = list(
                exceeding({p: row.get(f"iaqi_{p}") for p in PRIMARY_ORDER}, version)
            )
        rows.append(row)
    _output(rows, fmt)
    msg = f"{len(rows)} station-hours"
    if "aqi_official" in result:
        official = result[result["aqi_official"].notna()]
        if len(official):
            same = int((official["aqi"] == official["aqi_official"]).sum())
            msg += f"; equal to the official AQI in {same}/{len(official)}"
    echo_err(msg)


@aq_app.command("composite")
def composite_cmd(
    stats: Annotated[Path, typer.Option("--stats", help="CSV place,so2,no2,pm10,pm2_5,co,o3.")],
    rounding: Annotated[
        str, typer.Option("--rounding", help="per-item (GB/T 8170 each I_i, default) or at-end.")
    ] = "per-item",
    standard: Annotated[
        str, typer.Option("--standard", help="S_i of GB 3095-2012 (default) or 2026.")
    ] = "2012",
    fmt: FormatOpt = OutputFormat.json,
) -> None:
    """Composite index (综合指数) and joint ranks (并列) from period statistics."""
    import pandas as pd

    from lantian.store.aq_readers import POLLUTANT_COLUMNS

    if rounding not in ROUNDINGS:
        fail(f"--rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}")
    if standard not in ("2012", "2026"):
        fail(f"--standard must be 2012 or 2026, not {standard!r}")
    try:
        frame = pd.read_csv(stats, dtype=str)
    except (OSError, ValueError) as exc:
        fail(f"{stats}: {exc}")
    missing = {"place", *POLLUTANT_COLUMNS} - set(frame.columns)
    if missing:
        fail(f"{stats}: missing column(s) {', '.join(sorted(missing))}")
    results = []
    for i, r in frame.iterrows():
        values: dict[str, str | None] = {}
        for p in POLLUTANT_COLUMNS:
            cell = r[p]
            if pd.isna(cell) or str(cell).strip() == "":
                values[p] = None
                continue
            try:
                float(cell)
            except ValueError:
                fail(f"{stats}: row {int(str(i)) + 2} column {p!r}: not a number {cell!r}")
            values[p] = str(cell).strip()
        try:
            res = composite_index(values, standard=standard, rounding=rounding)
        except LantianError as exc:
            fail(f"{stats}: row {int(str(i)) + 2}: {exc}")
        if res.missing:
            echo_err(f"warning: {r['place']}: no {', '.join(res.missing)}; not ranked")
        results.append((str(r["place"]), res))
    ranks = joint_ranks([res.index for _, res in results])
    rows = [
        {
            "place": place,
            "composite_index": res.index,
            "primary": list(res.primary),
            "rank": rank,
        }
        for (place, res), rank in zip(results, ranks, strict=True)
    ]
    rows.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["place"]))
    _output(rows, fmt)


def _parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, not {text!r}")


_STAT_FIELDS = (
    "so2", "no2", "pm10", "pm2_5", "co", "o3_8h",
    "so2_p98", "no2_p98", "pm10_p95", "pm2_5_p95", "co_p95", "o3_8h_p90",
)  # fmt: skip


def _report_rows(
    stats: pd.DataFrame, kind: str, city_of: dict[str, str], standard: str, rounding: str
) -> list[dict[str, Any]]:
    import pandas as pd

    rows = []
    for r in stats.to_dict("records"):
        c = {
            "so2": r["so2"], "no2": r["no2"], "pm10": r["pm10"], "pm2_5": r["pm2_5"],
            "co": r["co_p95"], "o3": r["o3_8h_p90"],
        }  # fmt: skip
        res = composite_index(c, standard=standard, rounding=rounding, round_inputs=True)
        row: dict[str, Any] = {"kind": kind, "place": r["station"]}
        if kind == "station":
            row["city"] = city_of.get(str(r["station"]))
        row["period"] = r["period"]
        for f in _STAT_FIELDS:
            v = r.get(f)
            row[f] = None if v is None or pd.isna(v) else round(float(v), 3)
        for p in ("so2", "no2", "pm10", "pm2_5", "co", "o3_8h"):
            row[f"days_{p}"] = int(r[f"days_{p}"])
            ok = r.get(f"{p}_complete")
            row[f"{p}_complete"] = None if ok is None or pd.isna(ok) else bool(ok)
        row["composite_index"] = res.index
        row["primary"] = list(res.primary)
        row["aqi_days"] = int(r["aqi_days"])
        row["good_days"] = int(r["good_days"])
        row["good_ratio"] = None if pd.isna(r["good_ratio"]) else round(float(r["good_ratio"]), 1)
        row["heavy_days"] = int(r["heavy_days"])
        rows.append(row)
    by_period: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_period.setdefault(str(row["period"]), []).append(row)
    for group in by_period.values():
        for row, rank in zip(
            group, joint_ranks([g["composite_index"] for g in group]), strict=True
        ):
            row["rank"] = rank
    if all(str(row["period"]).isdigit() for row in rows):  # yearly: year-on-year change
        index = {(row["place"], str(row["period"])): row for row in rows}
        for row in rows:
            prev = index.get((row["place"], str(int(row["period"]) - 1)))
            row["composite_index_yoy_pct"] = change_rate(
                row["composite_index"], prev["composite_index"] if prev else None
            )
            for p in ("pm2_5", "no2", "so2"):
                cur = round_statistic(p, row[p])
                before = round_statistic(p, prev[p]) if prev else None
                row[f"{p}_yoy_pct"] = change_rate(cur, before)
    return rows


@aq_app.command("daily")
def daily_cmd(
    input_file: InputOption,
    fmt: FormatOpt = OutputFormat.json,
) -> None:
    """Daily AQI (日报) per station and day from hourly data (HJ 633 by date, HJ 663 validity).

    One object per station-day with a daily AQI: station, date (CST), aqi, primary, level,
    and the daily values used (24-h means, O3 max 1-h and max 8-h; null when invalid).
    """
    import ibis
    import pandas as pd

    from lantian.engine.aq_stats import daily_stats
    from lantian.engine.aqi import daily_aqi
    from lantian.store.aq_readers import POLLUTANT_COLUMNS, read_hourly

    try:
        hourly = read_hourly(input_file, period_start=True)
    except LantianError as exc:
        fail(exc)
    daily = daily_stats(ibis.memtable(hourly[["station", "ts", *POLLUTANT_COLUMNS]]))
    result = daily_aqi(daily).order_by(["station", "day"]).execute()
    result = result[result["aqi"].notna()]
    rows = []
    for r in result.to_dict("records"):
        row: dict[str, Any] = {
            "station": r["station"],
            "date": pd.Timestamp(r["day"]).date(),
            "aqi": int(r["aqi"]),
            "primary": _primary(r["primary"]),
            "level": int(r["level"]),
        }
        for c in ("so2", "no2", "pm10", "pm2_5", "co", "o3_1h", "o3_8h"):
            row[c] = None if pd.isna(r[c]) else round(float(r[c]), 3)
        rows.append(row)
    _output(rows, fmt)
    echo_err(f"{len(rows)} station-days (CST)")


@aq_app.command("report")
def report_cmd(
    input_file: InputOption,
    date_from: Annotated[str, typer.Option("--from", help="First day YYYY-MM-DD (CST).")],
    date_to: Annotated[str, typer.Option("--to", help="Last day YYYY-MM-DD (CST), inclusive.")],
    period: Annotated[
        str, typer.Option("--period", help="all (whole range, default), year or month.")
    ] = "all",
    stations: StationsOption = None,
    rounding: Annotated[str, typer.Option("--rounding", help="per-item or at-end.")] = "per-item",
    dust_days: Annotated[
        Path | None,
        typer.Option("--dust-days", help="CSV place,date of sand-dust days (place * = all)."),
    ] = None,
    fmt: FormatOpt = OutputFormat.json,
) -> None:
    """Period statistics (HJ 663), composite index, good-day ratio, heavy days per station and city.

    Rules (AQI version, GB 3095 limits) follow each day's date; the composite index uses the
    S_i of the standard in force on --from.
    """
    import ibis
    import pandas as pd

    from lantian.engine.aq_stats import daily_stats, flag_dust, period_stats, place_hourly
    from lantian.store.aq_readers import (
        POLLUTANT_COLUMNS,
        read_dust_days,
        read_hourly,
        read_stations,
    )

    start, end = _parse_date(date_from, "--from"), _parse_date(date_to, "--to")
    if end < start:
        fail("--to is before --from")
    if period not in ("all", "year", "month"):
        fail(f"--period must be all, year or month, not {period!r}")
    if rounding not in ROUNDINGS:
        fail(f"--rounding must be one of {', '.join(ROUNDINGS)}")
    try:
        hourly = read_hourly(input_file, period_start=True)
        registry = read_stations(stations) if stations else None
        dust = read_dust_days(dust_days) if dust_days else None
    except LantianError as exc:
        fail(exc)
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end) + pd.Timedelta(days=1)
    hourly = hourly[(hourly["ts"] >= lo) & (hourly["ts"] < hi)]
    if hourly.empty:
        fail(f"no hourly data between {start} and {end} in {input_file}")
    city_of: dict[str, str] = {}
    if "city" in hourly:
        first = hourly.dropna(subset=["city"]).groupby("station")["city"].first()
        city_of.update({str(k): str(v) for k, v in first.items()})
    if registry is not None:
        known = registry.dropna(subset=["city"])
        city_of.update(
            dict(zip(known["station"].astype(str), known["city"].astype(str), strict=True))
        )
    standard = cat.aqi_version_for(start)
    h = ibis.memtable(hourly[["station", "ts", *POLLUTANT_COLUMNS]])

    def daily_of(hours: ibis.Table) -> ibis.Table:
        d = daily_stats(hours)
        return flag_dust(d, ibis.memtable(dust)) if dust is not None else d

    st = period_stats(daily_of(h), period=period).execute()
    rows = _report_rows(
        st.sort_values(["period", "station"]), "station", city_of, standard, rounding
    )
    if city_of:
        reg = ibis.memtable(
            pd.DataFrame({"station": list(city_of), "city": list(city_of.values())})
        )
        ct = period_stats(daily_of(place_hourly(h, reg, "city")), period=period).execute()
        rows += _report_rows(ct.sort_values(["period", "station"]), "city", {}, standard, rounding)
    else:
        echo_err("warning: no city known for any station (give --stations); city rows left out")
    _output(rows, fmt)
    echo_err(f"{len(rows)} rows, {start}..{end} (CST), composite S_i of GB 3095-{standard}")


@aq_app.command("import")
def import_cmd(
    input_file: InputOption,
    db: DbOption,
    stations: StationsOption = None,
    fmt: FormatOpt = OutputFormat.json,
) -> None:
    """Import hourly data into ``aq_hour`` (and the station registry into ``aq_station``)."""
    import pandas as pd

    from lantian.store.aq_readers import detect_format, read_hourly, read_stations
    from lantian.store.aq_tables import upsert_hours, upsert_stations
    from lantian.store.db import connect

    try:
        kind = detect_format(input_file)
        hourly = read_hourly(input_file, kind, period_start=True)
        registry = read_stations(stations) if stations else None
        con = connect(db)
    except LantianError as exc:
        fail(exc)
    try:
        if registry is None and "city" in hourly:
            known = {r[0] for r in con.execute("SELECT station FROM aq_station").fetchall()}
            first = hourly.dropna(subset=["city"]).groupby("station")["city"].first()
            new = first[~first.index.isin(known)]
            registry = pd.DataFrame(
                {"station": new.index, "name": new.index, "city": new.to_numpy(),
                 "district": None, "lon": None, "lat": None}
            )  # fmt: skip
        n_st = upsert_stations(con, registry) if registry is not None else 0
        n = upsert_hours(con, hourly, kind)
    except LantianError as exc:
        fail(exc)
    finally:
        con.close()
    _output([{"rows": n, "stations": n_st, "format": kind}], fmt)
    echo_err(f"imported {n} station-hours ({kind}) and {n_st} registry rows into {db}")


@aq_app.command("targets")
def targets_cmd(
    targets: Annotated[
        Path, typer.Option("--targets", help="Target CSV place,level,year,pollutant,target.")
    ],
    db: DbOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last day counted (default: last day with data).")
    ] = None,
    fmt: FormatOpt = OutputFormat.json,
) -> None:
    """District/city targets (考核目标): year-to-date mean, gap and projection for the year.

    The targets are stored in ``aq_target``; the places' hourly values are the means of their
    stations in ``aq_hour`` (registry ``aq_station``: city and district).
    """
    import ibis
    import pandas as pd

    from lantian.engine.aq_stats import daily_stats, place_hourly
    from lantian.engine.aq_targets import target_progress
    from lantian.store.aq_readers import read_targets
    from lantian.store.aq_tables import upsert_targets
    from lantian.store.db import connect

    try:
        tg = read_targets(targets)
        con = connect(db)
    except LantianError as exc:
        fail(exc)
    try:
        upsert_targets(con, tg)
        last = con.execute("SELECT max(ts) FROM aq_hour").fetchone()
        if as_of is not None:
            day = _parse_date(as_of, "--as-of")
        elif last is None or last[0] is None:
            fail("aq_hour is empty: run `lantian aq import` first")
        else:
            day = pd.Timestamp(last[0]).date()
        backend = ibis.duckdb.from_connection(con)
        hourly = backend.table("aq_hour")
        registry = backend.table("aq_station")
        rows: list[dict[str, Any]] = []
        for level in ("district", "city"):
            level_targets = tg[tg["level"] == level]
            if level_targets.empty:
                continue
            daily = daily_stats(place_hourly(hourly, registry, level))
            res = target_progress(daily, ibis.memtable(level_targets), as_of=day).execute()
            for r in res.sort_values(["place", "pollutant"]).to_dict("records"):
                row = {
                    k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()
                }
                row["as_of"] = day  # a date (CST), not a timestamp
                rows.append(row)
    finally:
        con.close()
    if not rows:
        echo_err(f"warning: no target for {day.year} in {targets}")
    _output(rows, fmt)
    echo_err(f"{len(rows)} targets checked as of {day} (CST)")
