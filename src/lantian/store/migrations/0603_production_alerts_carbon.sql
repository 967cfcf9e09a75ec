-- Ledgers part 2 (issue 9): production control, heavy-pollution alerts, emissions/carbon.
-- Owner: ledgers. Times CST wall-clock.

-- Staggered-production agreements (错峰生产协议), one row per rule. line NULL = whole plant.
-- rule: max_hours_per_day (value h) / rest_weekday (value ISO weekday, 7 = Sunday) /
--       rest_days_per_month (value days) / halt_window (from_md..to_md, 'MM-DD', may wrap)
CREATE TABLE IF NOT EXISTS production_agreement (
    enterprise_id BIGINT NOT NULL,
    line          VARCHAR,
    rule          VARCHAR NOT NULL,
    value         DOUBLE,
    from_md       VARCHAR,
    to_md         VARCHAR,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    source        VARCHAR NOT NULL
);
-- Power use per line and hour (where available) [kWh]; idle power of a line [kW].
CREATE TABLE IF NOT EXISTS power_reading (
    enterprise_id BIGINT NOT NULL,
    line          VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,   -- hour start, CST
    kwh           DOUBLE NOT NULL,
    PRIMARY KEY (enterprise_id, line, ts)
);
ALTER TABLE production_line ADD COLUMN IF NOT EXISTS idle_kw DOUBLE;

-- Heavy-pollution alert periods (重污染天气预警), per district code prefix.
CREATE SEQUENCE IF NOT EXISTS seq_alert_period START 1;
CREATE TABLE IF NOT EXISTS alert_period (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_alert_period'),
    district_code VARCHAR NOT NULL,     -- prefix: '43' province, '4301' city, '430102' district
    level         VARCHAR NOT NULL,     -- yellow / orange / red
    start_ts      TIMESTAMP NOT NULL,
    end_ts        TIMESTAMP NOT NULL,
    source        VARCHAR,              -- notice number
    entered_by    VARCHAR NOT NULL,
    entered_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

-- Monthly production and energy records per enterprise (产量/能耗台账).
CREATE TABLE IF NOT EXISTS production_record (
    enterprise_id BIGINT NOT NULL,
    month         VARCHAR NOT NULL,     -- YYYY-MM
    product       VARCHAR NOT NULL,     -- calcium_carbide, clinker, coke, ...
    output_t      DOUBLE NOT NULL,      -- [t]
    energy_kgce   DOUBLE,               -- comprehensive energy use [kgce]
    power_kwh     DOUBLE,               -- furnace / process power [kWh]
    co2_t         DOUBLE,               -- CO2 emitted [t]
    PRIMARY KEY (enterprise_id, month, product)
);

-- Offsets for new projects (倍量削减替代): the project's new load and the reductions credited.
CREATE SEQUENCE IF NOT EXISTS seq_offset_project START 1;
CREATE TABLE IF NOT EXISTS offset_project (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_offset_project'),
    name          VARCHAR NOT NULL,
    enterprise_id BIGINT,
    district_code VARCHAR NOT NULL,
    pollutant     VARCHAR NOT NULL,
    new_load_t    DOUBLE NOT NULL,      -- annual load the project adds [t/a]
    approved_on   DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS offset_source (
    project_id    BIGINT NOT NULL,
    source        VARCHAR NOT NULL,     -- retrofit plan, closure, ...
    reduction_t   DOUBLE NOT NULL,      -- annual reduction credited [t/a]
    verified_on   DATE
);
