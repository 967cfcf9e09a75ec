-- Ledgers (台账): registry history, enterprise marks, retrofit programmes, transport.
-- Owner: ledgers. All times are China Standard Time wall-clock (TIMESTAMP without zone).

-- Registry history, SCD-2 style: one row per version of one registry record. The open
-- version has valid_to NULL; a change closes it (valid_to = new valid_from) and adds a row.
-- entity: enterprise / line / outlet / monitoring_point / permit_limit / permit_allowance.
-- entity_key: the natural key (credit code or name, "enterprise|line", MN, ...).
CREATE SEQUENCE IF NOT EXISTS seq_registry_history START 1;
CREATE TABLE IF NOT EXISTS registry_history (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_registry_history'),
    entity        VARCHAR NOT NULL,
    entity_key    VARCHAR NOT NULL,
    attrs         JSON NOT NULL,         -- the full attribute set of this version
    valid_from    TIMESTAMP NOT NULL,
    valid_to      TIMESTAMP,
    changed_by    VARCHAR NOT NULL,
    changed_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    reason        VARCHAR
);

-- Production lines and facilities (生产线/设施), current state; history in registry_history.
CREATE SEQUENCE IF NOT EXISTS seq_production_line START 1;
CREATE TABLE IF NOT EXISTS production_line (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_production_line'),
    enterprise_id BIGINT NOT NULL,
    name          VARCHAR NOT NULL,
    kind          VARCHAR,               -- cement_kiln, coke_oven, cupola, gas_boiler, ...
    capacity      DOUBLE,                -- in capacity_unit
    capacity_unit VARCHAR,               -- t/d, t/h, MW, m (coke-oven height) ...
    status        VARCHAR NOT NULL DEFAULT 'operating',  -- operating / retired / stopped
    UNIQUE (enterprise_id, name)
);

-- Permit limits and total-load allowances (排污许可), current state.
CREATE TABLE IF NOT EXISTS permit_limit (
    enterprise_id BIGINT NOT NULL,
    outlet        VARCHAR NOT NULL,      -- outlet name within the enterprise
    pollutant     VARCHAR NOT NULL,      -- glossary key: so2, nox, pm, ...
    limit_mg_m3   DOUBLE NOT NULL,
    basis         VARCHAR,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    permit_no     VARCHAR
);
CREATE TABLE IF NOT EXISTS permit_allowance (
    enterprise_id BIGINT NOT NULL,
    pollutant     VARCHAR NOT NULL,
    year          INTEGER NOT NULL,
    allowance_t   DOUBLE NOT NULL,       -- annual total-load allowance [t]
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    permit_no     VARCHAR
);

-- Enterprise condition marks (标记). The engine honours status = 'accepted' only; quality
-- detectors see every row. kind: stopped / starting / shutting_down / faulty / maintenance.
-- The table may already exist (engine migration 02xx); columns are added if missing.
CREATE SEQUENCE IF NOT EXISTS seq_enterprise_mark START 1;
CREATE TABLE IF NOT EXISTS enterprise_mark (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_enterprise_mark'),
    outlet_id     BIGINT,
    mn            VARCHAR,
    kind          VARCHAR NOT NULL,
    start_ts      TIMESTAMP NOT NULL,
    end_ts        TIMESTAMP NOT NULL,
    status        VARCHAR NOT NULL DEFAULT 'pending'
);
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS reason VARCHAR;
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS entered_by VARCHAR;
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS entered_at TIMESTAMP;
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS reviewed_by VARCHAR;
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS reviewed_at TIMESTAMP;
ALTER TABLE enterprise_mark ADD COLUMN IF NOT EXISTS review_note VARCHAR;

-- Official holiday notices loaded by an administrator for years the calendar library lacks.
-- kind: holiday (法定节假日/调休休息日) or workday (调休上班日).
CREATE TABLE IF NOT EXISTS holiday_notice (
    day           DATE PRIMARY KEY,
    kind          VARCHAR NOT NULL,
    name          VARCHAR,
    source        VARCHAR NOT NULL,      -- e.g. 国办发明电〔2026〕x号
    loaded_by     VARCHAR NOT NULL,
    loaded_at     TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

-- Retrofit plans (超低排放改造/炉型替代/低氮改造) per line or facility and their milestones.
CREATE SEQUENCE IF NOT EXISTS seq_retrofit_plan START 1;
CREATE TABLE IF NOT EXISTS retrofit_plan (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_retrofit_plan'),
    programme     VARCHAR NOT NULL,      -- id in catalog/data/retrofit_programmes.csv
    enterprise_id BIGINT NOT NULL,
    line          VARCHAR NOT NULL,      -- production_line.name
    district_code VARCHAR,
    planned_done  DATE NOT NULL,         -- planned date of construction done
    created_by    VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (programme, enterprise_id, line)
);
-- milestone: construction_done / stable_month / assessment_monitoring / public_listing /
-- permit_change. done_on NULL = not done yet.
CREATE TABLE IF NOT EXISTS retrofit_milestone (
    plan_id       BIGINT NOT NULL,
    milestone     VARCHAR NOT NULL,
    done_on       DATE NOT NULL,
    evidence      VARCHAR,
    entered_by    VARCHAR NOT NULL,
    entered_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    PRIMARY KEY (plan_id, milestone)
);
-- Dynamic supervision list (动态管理清单) of lines publicly listed as ULE.
CREATE TABLE IF NOT EXISTS dynamic_list (
    plan_id       BIGINT NOT NULL,
    listed_on     DATE NOT NULL,
    removed_on    DATE,
    removed_reason VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS seq_notification START 1;
CREATE TABLE IF NOT EXISTS notification (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_notification'),
    made_at       TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    audience      VARCHAR NOT NULL,      -- regulator / enterprise / admin
    enterprise_id BIGINT,
    kind          VARCHAR NOT NULL,      -- dynamic_list_removed, retrofit_overdue, ...
    message_zh    VARCHAR NOT NULL,
    message_en    VARCHAR NOT NULL
);

-- Transport: gate records (门禁记录) and in-plant vehicle / non-road machinery registries.
CREATE SEQUENCE IF NOT EXISTS seq_gate_record START 1;
CREATE TABLE IF NOT EXISTS gate_record (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_gate_record'),
    enterprise_id BIGINT NOT NULL,
    ts            TIMESTAMP NOT NULL,    -- gate time, CST
    plate         VARCHAR,
    direction     VARCHAR NOT NULL,      -- in / out
    mode          VARCHAR NOT NULL,      -- road / rail / water / pipe / belt
    material      VARCHAR,
    tonnes        DECIMAL(18, 3) NOT NULL,
    emission_stage VARCHAR,              -- canonical: China III..China VI, NEV; NULL off-road
    fuel          VARCHAR,
    source        VARCHAR,               -- file name and row
    imported_at   TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
-- category: in_plant_vehicle / non_road_machinery
CREATE TABLE IF NOT EXISTS plant_vehicle (
    enterprise_id BIGINT NOT NULL,
    category      VARCHAR NOT NULL,
    ident         VARCHAR NOT NULL,      -- plate or machinery registration code
    kind          VARCHAR,               -- loader, forklift, heavy truck, ...
    emission_stage VARCHAR,              -- China V/VI, Stage III/IV, NEV
    fuel          VARCHAR,
    power_kw      DOUBLE,
    made_on       DATE,                  -- production / first registration date
    PRIMARY KEY (enterprise_id, category, ident)
);
