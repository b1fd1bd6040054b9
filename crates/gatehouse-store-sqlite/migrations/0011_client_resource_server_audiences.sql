-- The audiences a client serves as a resource server: it may introspect tokens whose
-- aud names one of them (RFC 7662 §2.1). A JSON array like `audiences`; clients
-- stored before this column existed serve none.
ALTER TABLE oauth_clients ADD COLUMN resource_server_audiences TEXT NOT NULL DEFAULT '[]';
