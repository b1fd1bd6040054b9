-- The certificate a tls_client_auth client (RFC 8705) must present: JSON such as
-- {"subject": "spiffe://example.org/batch"} or {"sha256": "<hex>"}; NULL for clients
-- that authenticate otherwise.
ALTER TABLE oauth_clients ADD COLUMN tls_client_auth TEXT;
