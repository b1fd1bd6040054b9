-- Redirect URIs of OAuth clients allowed the authorization code flow: a JSON array of
-- strings, kept exactly as registered because matching compares strings. Existing
-- clients (client credentials only) have none.
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
