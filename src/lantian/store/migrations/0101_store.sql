-- Store side tables (issue 2, engineer "store"). Times are China Standard Time wall-clock.

-- De-duplication keys of accepted packets: (MN, CN, DataTime) or, for packets without a
-- DataTime, (MN, CN, 'QN:' || QN). k holds DataTime exactly as sent (YYYYMMDDhhmmss).
-- ts = DataTime, or the receive time when the packet has none (used to roll by month).
CREATE TABLE IF NOT EXISTS packet_key (
    mn            VARCHAR NOT NULL,
    cn            VARCHAR NOT NULL,
    k             VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,
    packet_id     BIGINT NOT NULL,
    PRIMARY KEY (mn, cn, k)
);

-- Traffic the gateway refused before storing anything (unknown MN, wrong password):
-- counted and logged here only, never in the journal or the data tables.
CREATE SEQUENCE IF NOT EXISTS seq_rejected_traffic START 1;
CREATE TABLE IF NOT EXISTS rejected_traffic (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_rejected_traffic'),
    received_at   TIMESTAMP NOT NULL,   -- CST wall-clock at the platform
    peer          VARCHAR NOT NULL,     -- "ip:port"
    mn            VARCHAR,
    reason        VARCHAR NOT NULL,     -- unknown_mn / wrong_password / ...
    head          BLOB                  -- first bytes of the packet (at most 64)
);

-- Factor codes as sent where they differ from the 2017 code of the glossary entry
-- (HJ/T 212-2005 codes such as 02 for a21026): "so2=02;nox=03". NULL when all were 2017 codes.
ALTER TABLE flue_rtd ADD COLUMN IF NOT EXISTS sent_codes VARCHAR;
ALTER TABLE flue_minute ADD COLUMN IF NOT EXISTS sent_codes VARCHAR;
ALTER TABLE flue_hour ADD COLUMN IF NOT EXISTS sent_codes VARCHAR;
ALTER TABLE flue_day ADD COLUMN IF NOT EXISTS sent_codes VARCHAR;

-- Store settings (e.g. lake_root: where rolled months live as Parquet).
CREATE TABLE IF NOT EXISTS store_setting (
    name          VARCHAR PRIMARY KEY,
    value         VARCHAR NOT NULL
);
