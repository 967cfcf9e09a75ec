-- packet_journal without the PRIMARY KEY on id (issue 2, engineer "storewrite7", session 7).
-- Journal ids are assigned by the one writer of the database (lantian.store.ingest.PacketStore:
-- max(id) + 1 when it opens, then consecutive, committed in the same transaction as the
-- lines), so the uniqueness index only cost time: its ART maintenance at every insert and
-- COMMIT was 2-5 us of the 19-21 us per packet of the gateway's materialiser (session 7,
-- benchmarks/RESULTS.md). Lookups by id range keep working through the row groups' min/max
-- (ids grow with insertion order). The table is rebuilt (DuckDB cannot drop a constraint),
-- rows in id order, every other column and NOT NULL unchanged (0001_core.sql).
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
    raw           BLOB NOT NULL
);
INSERT INTO packet_journal_rebuilt
SELECT id, received_at, source, mn, st, cn, qn, data_time, version, verdict, raw
FROM packet_journal ORDER BY id;
DROP TABLE packet_journal;
ALTER TABLE packet_journal_rebuilt RENAME TO packet_journal;
