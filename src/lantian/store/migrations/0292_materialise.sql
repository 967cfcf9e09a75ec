-- Journal-first acknowledgement (issue 2, engineer "gateway", session 4).
-- The gateway commits the journal and the de-duplication keys first and acknowledges (9014);
-- a materialiser writes the wide/long value rows of journalled packets later. Times are
-- China Standard Time wall-clock.

-- Last journal id whose values are in the wide / long tables, written in the SAME
-- transaction as the rows it covers (one row per materialiser, name 'gateway').
CREATE TABLE IF NOT EXISTS materialise_watermark (
    name          VARCHAR PRIMARY KEY,
    last_id       BIGINT NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Accepted (journalled, acknowledged) packets whose values could not be written: reported
-- here, never lost (the raw bytes stay in packet_journal) and never blocking later packets.
CREATE TABLE IF NOT EXISTS materialise_failure (
    packet_id     BIGINT PRIMARY KEY,
    failed_at     TIMESTAMP NOT NULL,
    reason        VARCHAR NOT NULL
);
