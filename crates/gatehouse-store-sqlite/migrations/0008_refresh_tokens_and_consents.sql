-- Refresh tokens: only the SHA-256 digest of a token is stored, never the token. A
-- spent token is kept until its family ends, so presenting it again is seen as reuse.
CREATE TABLE refresh_tokens (
    digest            BLOB PRIMARY KEY NOT NULL,
    id                TEXT NOT NULL UNIQUE,
    family_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scopes            TEXT NOT NULL,  -- JSON array, as for users
    auth_time         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    family_expires_at INTEGER NOT NULL,
    access_jti        TEXT,
    spent_at          INTEGER,
    revoked_at        INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
-- Serves revoking a user's tokens, all of them or one client's.
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id, client_id);

-- The scopes each user has approved for each client.
CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,  -- JSON array, as for users
    granted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;
