-- OAuth clients: only the SHA-256 digest of a client secret is stored (for a
-- private_key_jwt client, of a random secret nobody was shown).
CREATE TABLE oauth_clients (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    secret_digest   BLOB NOT NULL,
    auth_method     TEXT NOT NULL,
    grant_types     TEXT NOT NULL,  -- JSON array
    scopes          TEXT NOT NULL,  -- JSON array
    audiences       TEXT NOT NULL,  -- JSON array
    access_ttl_secs INTEGER,
    jwks            TEXT,           -- JWK Set JSON, for private_key_jwt
    enabled         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
