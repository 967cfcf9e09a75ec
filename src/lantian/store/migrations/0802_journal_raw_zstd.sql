-- packet_journal.raw compressed with ZSTD (issue 2, engineer "impd12", session 12).
-- DuckDB picks DICT_FSST for the raw bytes by itself; FSST's symbol table does little for
-- 700-byte HJ 212 packets whose lines differ in their digits (≈ 200 of ≈ 720 bytes a line kept)
-- and costs the writer ≈ 3.5 us of CPU a line to analyse and compress. ZSTD over a vector of
-- lines finds the repeated field names and keys across packets: minute packets with
-- analyser-noise values 110 instead of 206 bytes a line, ≈ 1.3 us less CPU a line to write
-- (session 12, benchmarks/RESULTS.md); a full scan of raw reads ≈ 0.8 us a line slower,
-- and raw is read rarely (the record of what arrived). The table is rebuilt (DuckDB cannot
-- change a column's compression in place), rows in id order, every column as 0801 left it.
CREATE TABLE packet_journal_rebuilt (
    id            BIGINT NOT NULL,      -- assigned by the single writer; unique, increasing
    received_at   TIMESTAMP NOT NULL,   -- CST wall-clock at the platform
    source        VARCHAR NOT NULL,     -- peer "ip:port" or "file:<name>"
    mn            VARCHAR,
    st            VARCHAR,
    cn            VARCHAR,
    qn            VARCHAR,
    data_time     TIMESTAMP,
    version       VARCHAR,
    verdict       VARCHAR NOT NULL,     -- accepted / duplicate / rejected:<reason>
    raw           BLOB USING COMPRESSION zstd NOT NULL
);
INSERT INTO packet_journal_rebuilt
SELECT id, received_at, source, mn, st, cn, qn, data_time, version, verdict, raw
FROM packet_journal ORDER BY id;
DROP TABLE packet_journal;
ALTER TABLE packet_journal_rebuilt RENAME TO packet_journal;
