-- OAuth clients: only the SHA-256 digest of a client secret is stored.
CREATE TABLE oauth_clients (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    secret_digest   BLOB NOT NULL,
    auth_method     TEXT NOT NULL,
    grant_types     TEXT NOT NULL,  -- JSON array
    scopes          TEXT NOT NULL,  -- JSON array
    audiences       TEXT NOT NULL,  -- JSON array
    access_ttl_secs INTEGER,
    enabled         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
