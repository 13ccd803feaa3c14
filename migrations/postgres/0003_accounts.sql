-- Shoppers' accounts and their login sessions. A customer id on carts and orders is an account's
-- id; carts and orders keep no foreign key to it, so guest carts and orders (customer_id NULL)
-- and orders placed before an account existed need nothing here.

CREATE TABLE accounts (
    customer_id   UUID        PRIMARY KEY,
    -- Trimmed and lowercased by the domain (`Email::parse`), so one address is one account.
    email         TEXT        NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    -- Argon2id in PHC string format; never the password.
    password_hash TEXT        NOT NULL CHECK (password_hash LIKE '$argon2%'),
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    -- The SHA-256 of the bearer token, hex: the token itself is never stored.
    token_digest TEXT        PRIMARY KEY CHECK (length(token_digest) = 64),
    customer_id  UUID        NOT NULL REFERENCES accounts (customer_id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at)
);

-- Pruning an account's expired and surplus sessions at each login walks its own sessions only.
CREATE INDEX sessions_by_customer ON sessions (customer_id, created_at DESC);
