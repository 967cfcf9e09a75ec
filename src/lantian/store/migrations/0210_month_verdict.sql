-- Monthly ULE verdicts as computed by `lantian assess` (engine), one row per point and month.
-- Recomputable from the minute data at any time; stored so pages, ledgers and reports can
-- read them without re-running the engine. month = 'YYYY-MM' (China Standard Time).
CREATE TABLE IF NOT EXISTS month_ule_verdict (
    mn               VARCHAR NOT NULL,
    month            VARCHAR NOT NULL,
    source_type      VARCHAR,
    production_hours INTEGER,
    valid_hours      INTEGER,
    compliant_hours  INTEGER,
    compliance_ratio DOUBLE,      -- unrounded; ule_pass compares it with 0.95
    ule_pass         BOOLEAN,
    exceedance_hours JSON,        -- {pollutant: hours}
    invalid_hours    JSON,        -- {pollutant: hours}
    engine           VARCHAR,
    computed_at      TIMESTAMP DEFAULT current_localtimestamp(),
    PRIMARY KEY (mn, month)
);
