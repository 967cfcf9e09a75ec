-- File journal log in front of DuckDB (issue 2, engineer "gwjournal", session 5).
-- The gateway acknowledges (9014) once a packet's record is fsync'd in the journal log
-- (<db>.journal/*.seg, lantian.store.journal_log); the materialiser copies records into
-- packet_journal / packet_key / the wide tables / value_long and advances this watermark in
-- the SAME transaction. A segment file is deleted only once the watermark is past its end.
CREATE TABLE IF NOT EXISTS journal_log_watermark (
    name          VARCHAR PRIMARY KEY,
    segment       BIGINT NOT NULL,   -- segment number of the last record written to DuckDB
    "offset"      BIGINT NOT NULL,   -- byte offset just past that record [bytes]
    updated_at    TIMESTAMP NOT NULL -- China Standard Time wall-clock
);
