-- Remote quality control (远程质控): detector events, monthly trust scores, O&M records.
-- All times are China Standard Time wall-clock (TIMESTAMP without zone).

CREATE SEQUENCE IF NOT EXISTS seq_quality_event START 1;
CREATE TABLE IF NOT EXISTS quality_event (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_quality_event'),
    month       VARCHAR NOT NULL,       -- YYYY-MM the run judged
    detector    VARCHAR NOT NULL,       -- constant, zero, over_range, pinned_under_limit, ...
    mn          VARCHAR NOT NULL,
    pollutant   VARCHAR,                -- glossary key (so2, o2, flow ...) or NULL for the point
    start_ts    TIMESTAMP NOT NULL,     -- first minute/hour start concerned
    end_ts      TIMESTAMP NOT NULL,     -- last minute/hour start concerned (inclusive)
    severity    VARCHAR NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high')),
    evidence    VARCHAR NOT NULL,       -- JSON of the numbers that triggered the event
    created_at  TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE TABLE IF NOT EXISTS trust_score (
    mn          VARCHAR NOT NULL,
    month       VARCHAR NOT NULL,
    trust       DOUBLE NOT NULL,        -- 0..100
    events      INTEGER NOT NULL,
    explanation VARCHAR,                -- JSON list of {detector, severity, points, zh, en}
    computed_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    PRIMARY KEY (mn, month)
);

-- Maintenance and calibration records of the O&M contractor (运维记录), imported from CSV/Excel.
CREATE SEQUENCE IF NOT EXISTS seq_maintenance START 1;
CREATE TABLE IF NOT EXISTS maintenance_record (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_maintenance'),
    mn          VARCHAR NOT NULL,
    start_ts    TIMESTAMP NOT NULL,
    end_ts      TIMESTAMP NOT NULL,
    kind        VARCHAR NOT NULL,       -- maintenance / calibration / repair / check
    contractor  VARCHAR,
    note        VARCHAR,
    source_file VARCHAR,
    imported_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
