-- Token signing keys. The private key is encrypted with the master key (AES-256-GCM,
-- nonce ‖ ciphertext ‖ tag); the store never sees it in the clear.
CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY NOT NULL,
    alg           TEXT NOT NULL,
    encrypted_key BLOB NOT NULL,
    created_at    INTEGER NOT NULL,  -- published in the JWKS from here
    active_at     INTEGER NOT NULL,  -- signs from here, until a newer key is active
    expires_at    INTEGER            -- unpublished from here (set when superseded)
) STRICT;
