-- Ambient air quality (issue 5): station registry, hourly concentrations, targets.
-- Times are China Standard Time wall-clock, naive TIMESTAMP; ts = the source's hour label,
-- taken as the start of the hour. Units: ug/m3, CO mg/m3.
CREATE TABLE IF NOT EXISTS aq_station (
    station VARCHAR PRIMARY KEY,        -- station code (e.g. 1001A) or name (Dongsi)
    name VARCHAR,
    city VARCHAR,
    district VARCHAR,                   -- county-level district, for district targets
    lon DOUBLE,
    lat DOUBLE
);

CREATE TABLE IF NOT EXISTS aq_hour (
    station VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    so2 DOUBLE,
    no2 DOUBLE,
    pm10 DOUBLE,
    pm2_5 DOUBLE,
    co DOUBLE,                          -- mg/m3
    o3 DOUBLE,
    source VARCHAR,                     -- file format the row came from
    PRIMARY KEY (station, ts)
);

CREATE TABLE IF NOT EXISTS aq_target (
    place VARCHAR NOT NULL,             -- district or city name as in aq_station
    level VARCHAR NOT NULL,             -- 'district' or 'city'
    year INTEGER NOT NULL,
    pollutant VARCHAR NOT NULL,         -- so2 no2 pm10 pm2_5 co
    target DOUBLE NOT NULL,             -- annual mean ceiling
    unit VARCHAR,
    source VARCHAR,                     -- document and clause the target comes from
    note VARCHAR,
    PRIMARY KEY (place, year, pollutant)
);
