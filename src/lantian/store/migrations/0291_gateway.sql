-- Gateway side tables (issue 2, engineer "gateway"). Times are China Standard Time wall-clock.

-- Alerts raised by the gateway itself: a logger silent for longer than its interval allows
-- (offline, 掉线), the disk nearly full. cleared_at is set when the condition ends.
CREATE SEQUENCE IF NOT EXISTS seq_gateway_alert START 1;
CREATE TABLE IF NOT EXISTS gateway_alert (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_gateway_alert'),
    raised_at     TIMESTAMP NOT NULL,
    mn            VARCHAR,
    kind          VARCHAR NOT NULL,     -- offline / disk_full
    detail        VARCHAR,
    cleared_at    TIMESTAMP
);

-- Requests the platform sent to loggers (talk-back): 1012 set time, 2051/2061 history fetch
-- (补传), 9013 replies to 1013.
CREATE SEQUENCE IF NOT EXISTS seq_gateway_command START 1;
CREATE TABLE IF NOT EXISTS gateway_command (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_gateway_command'),
    sent_at       TIMESTAMP NOT NULL,
    mn            VARCHAR NOT NULL,
    cn            VARCHAR NOT NULL,
    qn            VARCHAR,
    reason        VARCHAR,              -- clock_drift / minute_gap / hour_gap / time_request
    begin_time    TIMESTAMP,
    end_time      TIMESTAMP,
    raw           BLOB
);

-- Persistent retry queue of accepted raw packets to forward to an upstream platform.
CREATE SEQUENCE IF NOT EXISTS seq_forward_queue START 1;
CREATE TABLE IF NOT EXISTS forward_queue (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_forward_queue'),
    queued_at     TIMESTAMP NOT NULL,
    target        VARCHAR NOT NULL,     -- host:port
    raw           BLOB NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0
);
