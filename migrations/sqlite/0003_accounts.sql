-- Shoppers' accounts and their login sessions (SQLite dialect of
-- migrations/postgres/0003_accounts.sql: same tables and meaning; ids are TEXT, instants unix ms).

CREATE TABLE accounts (
    customer_id   TEXT    PRIMARY KEY CHECK (length(customer_id) = 36),
    email         TEXT    NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    password_hash TEXT    NOT NULL CHECK (password_hash LIKE '$argon2%'),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_digest TEXT    PRIMARY KEY CHECK (length(token_digest) = 64),
    customer_id  TEXT    NOT NULL REFERENCES accounts (customer_id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL CHECK (expires_at > created_at)
) STRICT;

CREATE INDEX sessions_by_customer ON sessions (customer_id, created_at DESC);
