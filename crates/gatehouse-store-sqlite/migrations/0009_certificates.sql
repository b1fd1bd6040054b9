-- Client certificates issued by the built-in CA. Only the public certificate is kept;
-- the holder's private key never reaches the server. Revocation is a time, not a
-- deletion, so a revoked certificate is still known and refused.
CREATE TABLE certificates (
    serial     TEXT PRIMARY KEY NOT NULL,  -- lowercase hex
    principal  TEXT NOT NULL,
    -- SHA-256 of the DER: what the handshake looks a certificate up by.
    sha256     BLOB NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,  -- JSON array, as for users
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    revoked_at INTEGER,
    pem        TEXT NOT NULL
) STRICT;
