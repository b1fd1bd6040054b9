-- People who log in (authorization code flow). Only an Argon2id PHC string of a
-- password is stored, never the password; NULL until one is set, so the user cannot
-- log in yet.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    -- Core folds usernames to lowercase before they get here, so a byte-wise UNIQUE
    -- is enough to keep `Alice` and `alice` one account.
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    email               TEXT,
    password_hash       TEXT,
    scopes              TEXT NOT NULL,  -- JSON array, as for keys and clients
    enabled             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    password_changed_at INTEGER
) STRICT;
