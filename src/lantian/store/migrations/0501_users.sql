-- Accounts, role scopes and sessions of the HTTP API and web pages (workbench, issue 6).
-- Passwords are stored only as argon2 hashes; sessions only as SHA-256 of the token.
-- Times are China Standard Time wall-clock.

CREATE SEQUENCE IF NOT EXISTS seq_app_user START 1;
CREATE TABLE IF NOT EXISTS app_user (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_app_user'),
    name          VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,     -- argon2id encoded hash
    role          VARCHAR NOT NULL,     -- admin / regulator / enterprise / maintainer
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

-- What a user may see: regulator -> district code prefixes; enterprise -> enterprise id or
-- credit code; maintainer -> monitoring point MN. Admin rows are ignored.
CREATE TABLE IF NOT EXISTS app_user_scope (
    user_id       BIGINT NOT NULL,
    code          VARCHAR NOT NULL,
    PRIMARY KEY (user_id, code)
);

CREATE TABLE IF NOT EXISTS app_session (
    token_sha256  VARCHAR PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    expires_at    TIMESTAMP NOT NULL,
    client        VARCHAR               -- "cookie" (pages) or "bearer" (API)
);
