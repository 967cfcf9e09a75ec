-- Long work run in the background (imports, assessments, report generation) with progress.
-- All times are China Standard Time wall-clock (TIMESTAMP without zone).
CREATE SEQUENCE IF NOT EXISTS seq_job START 1;
CREATE TABLE IF NOT EXISTS job (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_job'),
    kind        VARCHAR NOT NULL,       -- monthly_report, ledgers, assess
    params      VARCHAR NOT NULL,       -- JSON of the request
    state       VARCHAR NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    done        INTEGER NOT NULL DEFAULT 0,   -- steps finished
    total       INTEGER NOT NULL DEFAULT 0,   -- steps planned (0 = unknown yet)
    message     VARCHAR,                -- current step or the failure reason
    result      VARCHAR,                -- JSON: files written, figures
    created_by  VARCHAR,                -- app_user.name
    created_at  TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    started_at  TIMESTAMP,
    finished_at TIMESTAMP
);
