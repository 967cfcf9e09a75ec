-- Core schema: registry (minimal, extended by later migrations), packet journal, long side table.
-- All times are China Standard Time wall-clock (TIMESTAMP without zone), as the loggers send them.

CREATE SEQUENCE IF NOT EXISTS seq_enterprise START 1;
CREATE TABLE IF NOT EXISTS enterprise (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_enterprise'),
    name          VARCHAR NOT NULL UNIQUE,
    credit_code   VARCHAR,              -- unified social credit code (统一社会信用代码)
    sector        VARCHAR,              -- cement, coking, steel, power, foundry, boiler ...
    district_code VARCHAR,              -- administrative code (province/city/district)
    grade         VARCHAR,              -- performance grade A/B/C/D/leading (绩效分级)
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE SEQUENCE IF NOT EXISTS seq_outlet START 1;
CREATE TABLE IF NOT EXISTS outlet (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_outlet'),
    enterprise_id BIGINT,
    name          VARCHAR NOT NULL,
    source_type   VARCHAR,              -- cement_kiln, coke_oven_stack, sinter_head, ...
    jurisdiction  VARCHAR,              -- provincial layer of the limit catalogue, e.g. CN-43 (Hunan)
    stop_flow_threshold DOUBLE,         -- flow below which the source is stopped [same unit as flow]
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE TABLE IF NOT EXISTS monitoring_point (
    mn            VARCHAR PRIMARY KEY,  -- data-logger id as sent (HJ 212 MN)
    password      VARCHAR NOT NULL,     -- HJ 212 PW
    outlet_id     BIGINT,
    source_type   VARCHAR,
    protocol      VARCHAR,              -- 2005 / 2017 / 2025 (last seen)
    parameters    VARCHAR[],            -- glossary keys the point is registered to monitor
    flow_unit     VARCHAR NOT NULL DEFAULT 'm3/s',  -- unit the logger sends a00000 in
    sm4_key       VARCHAR,              -- hex SM4 key for HJ 212-2025 encrypted data areas
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

-- Append-only journal of every packet the gateway or an importer saw (raw bytes unchanged).
CREATE SEQUENCE IF NOT EXISTS seq_packet START 1;
CREATE TABLE IF NOT EXISTS packet_journal (
    id            BIGINT PRIMARY KEY,
    received_at   TIMESTAMP NOT NULL,   -- CST wall-clock at the platform
    source        VARCHAR NOT NULL,     -- peer "ip:port" or "file:<name>"
    mn            VARCHAR,
    st            VARCHAR,
    cn            VARCHAR,
    qn            VARCHAR,
    data_time     TIMESTAMP,
    version       VARCHAR,
    verdict       VARCHAR NOT NULL,     -- accepted / duplicate / rejected:<reason>
    raw           BLOB NOT NULL
);

-- Values outside the glossary (and every i1xxxx/i2xxxx/i3xxxx info item), long format.
CREATE TABLE IF NOT EXISTS value_long (
    packet_id     BIGINT NOT NULL,
    mn            VARCHAR NOT NULL,
    cn            VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,   -- DataTime (period start for 2051/2061/2031)
    code          VARCHAR NOT NULL,     -- factor code as sent
    field         VARCHAR NOT NULL,     -- suffix as sent: Rtd, Avg, Flag, Info, ...
    num           DOUBLE,
    text          VARCHAR
);

-- Corrections are overlays: raw data is never overwritten.
CREATE SEQUENCE IF NOT EXISTS seq_correction START 1;
CREATE TABLE IF NOT EXISTS correction (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_correction'),
    mn            VARCHAR NOT NULL,
    tbl           VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,
    col           VARCHAR NOT NULL,
    old_value     VARCHAR,
    new_value     VARCHAR,
    who           VARCHAR NOT NULL,
    made_at       TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    why           VARCHAR NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS seq_audit START 1;
CREATE TABLE IF NOT EXISTS audit_log (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_audit'),
    made_at       TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    who           VARCHAR NOT NULL,
    action        VARCHAR NOT NULL,
    target        VARCHAR,
    detail        VARCHAR
);
