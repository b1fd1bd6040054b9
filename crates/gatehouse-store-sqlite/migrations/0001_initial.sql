-- Gatehouse SQLite schema, version 1.
-- Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- API keys: only the SHA-256 digest of a key is stored, never the key.
CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY NOT NULL,
    digest           BLOB NOT NULL UNIQUE,
    prefix           TEXT NOT NULL,
    start            TEXT NOT NULL,
    name             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    scopes           TEXT NOT NULL,      -- JSON array of scope strings
    metadata         TEXT NOT NULL,      -- JSON object
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    revoked_at       INTEGER,
    last_used_at     INTEGER,
    enabled          INTEGER NOT NULL,
    rate_limit       INTEGER,
    rate_duration_ms INTEGER,
    remaining        INTEGER
) STRICT;

-- The audit trail, hash-chained by seq.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY NOT NULL,
    time          INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT,
    principal     TEXT,
    credential_id TEXT,
    auth_method   TEXT,
    target        TEXT,
    route         TEXT,
    method        TEXT,
    path          TEXT,
    status        INTEGER,
    client_ip     TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_principal ON audit_events (principal, seq);
CREATE INDEX audit_events_credential ON audit_events (credential_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_time ON audit_events (time);
