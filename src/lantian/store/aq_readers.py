"""Readers of ambient air-quality files into one hourly table.

The readers live in the store layer because they know file layouts only, no protocol and no
rule. Each maps its source's names onto Lantian's pollutant keys in exactly one table
(``*_MAP`` below). Every reader returns a :class:`pandas.DataFrame` with

``station`` (str), ``ts`` (naive datetime, China Standard Time, the file's own hour label;
:func:`read_hourly` with ``period_start=True`` turns end-of-hour labels into starts),
``so2 no2 pm10 pm2_5 o3`` [µg/m³] and ``co`` [mg/m³] as floats (NaN = missing), plus the
source's extra columns where it has them (national files: ``aqi_official``, ``so2_24h``,
``no2_24h``, ``pm10_24h``, ``pm2_5_24h``, ``co_24h``, ``o3_8h``), and ``city`` where the
source knows it.

Formats
-------
``national``  CNEMC/quotsoft ``china_sites_YYYYMMDD.csv``: ``date,hour,type,<station>…``,
              one row per hour and type.
``beijing``   UCI Beijing multi-site ``PRSA_Data_<Station>_….csv`` (CO in µg/m³ there:
              divided by 1000 here); a folder reads every ``PRSA_Data_*.csv`` in it.
``long``      Lantian's long CSV ``station,time,pollutant,value`` (``time`` ISO
              ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD HH:MM``, CST; ``pollutant`` one of
              ``so2 no2 pm10 pm2_5 co o3``; units µg/m³, CO mg/m³).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lantian.errors import InputFileError

__all__ = [
    "BEIJING_MAP",
    "END_LABELLED",
    "NATIONAL_MAP",
    "POLLUTANT_COLUMNS",
    "detect_format",
    "read_beijing",
    "read_dust_days",
    "read_hourly",
    "read_long",
    "read_national",
    "read_stations",
    "read_targets",
]

POLLUTANT_COLUMNS: tuple[str, ...] = ("so2", "no2", "pm10", "pm2_5", "co", "o3")

#: National wide format: ``type`` value → column.
NATIONAL_MAP: dict[str, str] = {
    "AQI": "aqi_official",
    "SO2": "so2",
    "SO2_24h": "so2_24h",
    "NO2": "no2",
    "NO2_24h": "no2_24h",
    "PM10": "pm10",
    "PM10_24h": "pm10_24h",
    "PM2.5": "pm2_5",
    "PM2.5_24h": "pm2_5_24h",
    "CO": "co",
    "CO_24h": "co_24h",
    "O3": "o3",
    "O3_8h": "o3_8h",
}

#: Beijing multi-site: source column → (column, factor to µg/m³ or mg/m³).
BEIJING_MAP: dict[str, tuple[str, float]] = {
    "SO2": ("so2", 1.0),
    "NO2": ("no2", 1.0),
    "PM10": ("pm10", 1.0),
    "PM2.5": ("pm2_5", 1.0),
    "CO": ("co", 0.001),  # µg/m³ in the source, mg/m³ in HJ 633
    "O3": ("o3", 1.0),
}

_LONG_ALIASES: dict[str, str] = {"pm2.5": "pm2_5", "pm25": "pm2_5"}

#: Station-registry headers: CNEMC station list (Chinese) → registry column.
_STATION_HEADERS: dict[str, str] = {
    "监测点编码": "station",
    "监测点名称": "name",
    "城市": "city",
    "经度": "lon",
    "纬度": "lat",
}


def detect_format(path: Path) -> str:
    """Return ``national``, ``beijing`` or ``long`` from the file header (or folder)."""
    path = Path(path)
    if path.is_dir():
        return "beijing"
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline().strip().replace('"', "").lower()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    cols = header.split(",")
    if cols[:3] == ["date", "hour", "type"]:
        return "national"
    if {"year", "month", "day", "hour", "station"} <= set(cols):
        return "beijing"
    if {"station", "time", "pollutant", "value"} <= set(cols):
        return "long"
    raise InputFileError(f"{path}: unknown air-quality file layout (header {header[:80]!r})")


def read_national(path: Path) -> pd.DataFrame:
    """Read a CNEMC national-station wide file (``china_sites_YYYYMMDD.csv``)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, encoding="utf-8-sig", dtype={"date": str, "type": str})
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: {exc}") from exc
    missing = {"date", "hour", "type"} - set(raw.columns)
    if missing:
        raise InputFileError(f"{path}: missing column(s) {sorted(missing)}")
    raw = raw[raw["type"].isin(NATIONAL_MAP)]
    stations = [c for c in raw.columns if c not in ("date", "hour", "type")]
    try:
        ts = pd.to_datetime(raw["date"], format="%Y%m%d") + pd.to_timedelta(
            raw["hour"].astype(int), unit="h"
        )
    except (ValueError, TypeError) as exc:
        raise InputFileError(f"{path}: bad date/hour ({exc})") from exc
    values = raw[stations].apply(pd.to_numeric, errors="coerce")
    values.index = pd.MultiIndex.from_arrays([ts, raw["type"].map(NATIONAL_MAP)], names=["ts", "k"])
    stacked = values.stack(future_stack=True) if _pandas_has_future_stack() else values.stack()
    stacked.index = stacked.index.set_names(["ts", "k", "station"])
    wide = stacked.unstack("k").reset_index()
    wide.columns.name = None
    for col in NATIONAL_MAP.values():
        if col not in wide:
            wide[col] = np.nan
    return _canonical(wide)


def _pandas_has_future_stack() -> bool:
    return int(pd.__version__.split(".")[0]) == 2


def read_beijing(path: Path, city: str = "北京") -> pd.DataFrame:
    """Read one Beijing multi-site CSV or a folder of them (``PRSA_Data_*.csv``)."""
    path = Path(path)
    files = sorted(path.glob("PRSA_Data_*.csv")) if path.is_dir() else [path]
    if not files:
        raise InputFileError(f"{path}: no PRSA_Data_*.csv files")
    frames = []
    for f in files:
        try:
            raw = pd.read_csv(f, na_values=["NA"])
        except (OSError, ValueError) as exc:
            raise InputFileError(f"{f}: {exc}") from exc
        need = {"year", "month", "day", "hour", "station", *BEIJING_MAP}
        missing = need - set(raw.columns)
        if missing:
            raise InputFileError(f"{f}: missing column(s) {sorted(missing)}")
        out = pd.DataFrame(
            {
                "station": raw["station"].astype(str),
                "ts": pd.to_datetime(raw[["year", "month", "day", "hour"]]),
            }
        )
        for src, (col, factor) in BEIJING_MAP.items():
            out[col] = pd.to_numeric(raw[src], errors="coerce") * factor
        out["city"] = city
        frames.append(out)
    return _canonical(pd.concat(frames, ignore_index=True))


def read_long(path: Path) -> pd.DataFrame:
    """Read Lantian's long CSV ``station,time,pollutant,value`` (optional ``city``)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype={"station": str, "pollutant": str, "time": str})
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: {exc}") from exc
    missing = {"station", "time", "pollutant", "value"} - set(raw.columns)
    if missing:
        raise InputFileError(f"{path}: missing column(s) {sorted(missing)}")
    pol = raw["pollutant"].str.strip().str.lower().replace(_LONG_ALIASES)
    bad = ~pol.isin(POLLUTANT_COLUMNS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFileError(
            f"{path}: row {i + 2} column 'pollutant': unknown pollutant {raw['pollutant'].iat[i]!r}"
            f" (expected one of {', '.join(POLLUTANT_COLUMNS)})"
        )
    ts = pd.to_datetime(raw["time"], errors="coerce", format="ISO8601")
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise InputFileError(f"{path}: row {i + 2} column 'time': bad time {raw['time'].iat[i]!r}")
    value = pd.to_numeric(raw["value"], errors="coerce")
    bad_v = value.isna() & raw["value"].notna()
    if bad_v.any():
        i = int(np.flatnonzero(bad_v.to_numpy())[0])
        raise InputFileError(
            f"{path}: row {i + 2} column 'value': not a number {raw['value'].iat[i]!r}"
        )
    long = pd.DataFrame({"station": raw["station"], "ts": ts, "k": pol, "value": value})
    dup = long.duplicated(["station", "ts", "k"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputFileError(f"{path}: row {i + 2}: duplicate station/time/pollutant")
    wide = long.pivot(index=["station", "ts"], columns="k", values="value").reset_index()
    wide.columns.name = None
    if "city" in raw.columns:
        cities = raw.drop_duplicates("station").set_index("station")["city"]
        wide["city"] = wide["station"].map(cities)
    return _canonical(wide)


#: Formats whose hour label marks the END of the hour (CNEMC: label 0 = 23:00–24:00 of the
#: day before; shown by the published O3 8-h values, which restart at label 1).
END_LABELLED: frozenset[str] = frozenset({"national"})


def read_hourly(path: Path, fmt: str | None = None, *, period_start: bool = False) -> pd.DataFrame:
    """Read any supported hourly file; ``fmt`` None detects the layout from the header.

    ``period_start=True`` moves end-labelled formats (``END_LABELLED``) back one hour so
    ``ts`` is the start of the hour, as the store and the daily statistics expect; the
    default keeps the file's own labels.
    """
    fmt = fmt or detect_format(Path(path))
    readers = {"national": read_national, "beijing": read_beijing, "long": read_long}
    if fmt not in readers:
        raise InputFileError(f"unknown air-quality format {fmt!r}")
    frame = readers[fmt](Path(path))
    if period_start and fmt in END_LABELLED:
        frame["ts"] = frame["ts"] - pd.Timedelta(hours=1)
    return frame


def read_stations(path: Path) -> pd.DataFrame:
    """Read a station registry: ``station,name,city,district,lon,lat`` or the CNEMC list.

    The CNEMC list (``监测点编码,监测点名称,城市,经度,纬度``) has no district column; it is left
    empty.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: {exc}") from exc
    raw = raw.rename(columns=_STATION_HEADERS)
    if not {"station", "city"} <= set(raw.columns):
        raise InputFileError(f"{path}: a station registry needs columns station and city")
    for col in ("name", "district", "lon", "lat"):
        if col not in raw:
            raw[col] = None
    out = raw[["station", "name", "city", "district", "lon", "lat"]].copy()
    out["lon"] = pd.to_numeric(out["lon"], errors="coerce")
    out["lat"] = pd.to_numeric(out["lat"], errors="coerce")
    return out.drop_duplicates("station", keep="last").reset_index(drop=True)


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    for col in POLLUTANT_COLUMNS:
        if col not in df:
            df[col] = np.nan
        df[col] = df[col].astype("float64")
    df["station"] = df["station"].astype(str)
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[us]")
    first = ["station", "ts", *POLLUTANT_COLUMNS]
    rest = sorted(c for c in df.columns if c not in first)
    return df[first + rest].sort_values(["station", "ts"], kind="stable").reset_index(drop=True)


#: Columns of a target file (``read_targets``); ``unit``, ``source`` and ``note`` optional.
TARGET_COLUMNS: tuple[str, ...] = ("place", "level", "year", "pollutant", "target")


def read_targets(path: Path) -> pd.DataFrame:
    """Read a district/city target file ``place,level,year,pollutant,target[,unit,source,note]``.

    ``level`` is ``district`` or ``city``; ``target`` the annual-mean ceiling [µg/m³; CO
    mg/m³]. Errors name the row and column.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", comment="#")
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: {exc}") from exc
    missing = set(TARGET_COLUMNS) - set(raw.columns)
    if missing:
        raise InputFileError(f"{path}: missing column(s) {sorted(missing)}")
    for col in ("unit", "source", "note"):
        if col not in raw:
            raw[col] = None
    for i, r in raw.iterrows():
        row = int(str(i)) + 2
        if r["level"] not in ("district", "city"):
            raise InputFileError(
                f"{path}: row {row} column 'level': {r['level']!r} (district or city)"
            )
        if r["pollutant"] not in POLLUTANT_COLUMNS:
            raise InputFileError(
                f"{path}: row {row} column 'pollutant': unknown {r['pollutant']!r}"
            )
        for col in ("year", "target"):
            try:
                float(r[col])
            except (TypeError, ValueError):
                raise InputFileError(
                    f"{path}: row {row} column {col!r}: not a number {r[col]!r}"
                ) from None
    out = raw[[*TARGET_COLUMNS, "unit", "source", "note"]].copy()
    out["year"] = out["year"].astype(int)
    out["target"] = out["target"].astype(float)
    return out


def read_dust_days(path: Path) -> pd.DataFrame:
    """Read sand-dust days ``place,date`` (``place`` a station, city or ``*`` for all)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", comment="#")
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: {exc}") from exc
    if not {"place", "date"} <= set(raw.columns):
        raise InputFileError(f"{path}: a dust-day file needs columns place and date")
    day = pd.to_datetime(raw["date"], errors="coerce", format="ISO8601")
    if day.isna().any():
        i = int(np.flatnonzero(day.isna().to_numpy())[0])
        raise InputFileError(f"{path}: row {i + 2} column 'date': bad date {raw['date'].iat[i]!r}")
    return pd.DataFrame({"place": raw["place"].astype(str).str.strip(), "day": day.dt.date})
