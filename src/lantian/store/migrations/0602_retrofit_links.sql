-- Which outlets belong to which production line (for the dynamic list: a retrofitted line
-- whose outlets fail the monthly ULE test leaves the list). Owner: ledgers.
CREATE TABLE IF NOT EXISTS production_line_outlet (
    line_id       BIGINT NOT NULL,
    outlet_id     BIGINT NOT NULL,
    PRIMARY KEY (line_id, outlet_id)
);
