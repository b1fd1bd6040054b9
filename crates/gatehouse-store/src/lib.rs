//! The [`Store`] trait: everything Gatehouse persists, behind one interface.
//!
//! Backends (`gatehouse-store-sqlite`, later PostgreSQL) implement it and prove it by
//! running the [`conformance`] suite against a real database. The trait speaks in core's
//! domain types, never SQL; it holds no cache and makes no decisions — the server keeps
//! the in-memory indexes and core decides.
//!
//! Start at [`Store`], then the suite in [`conformance`].

pub mod conformance;

use async_trait::async_trait;
use gatehouse_core::UnixTime;
use gatehouse_core::api_key::KeyDigest;
use gatehouse_core::api_key::KeyRecord;
use gatehouse_core::audit::{AuditEvent, ChainHash, Outcome};
use gatehouse_core::mtls::CertificateRecord;
use gatehouse_core::oauth::ClientRecord;
use gatehouse_core::oauth::refresh::RefreshRecord;
use gatehouse_core::user::{Consent, UserRecord, Username};

/// What went wrong in the store. Never carries secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A record with the same identity exists already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The usage of a key since the last flush, written behind the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageUpdate {
    /// The key.
    pub id: String,
    /// Last successful verification.
    pub last_used_at: Option<UnixTime>,
    /// Verifications left, when limited.
    pub remaining: Option<u64>,
}

/// Sort order of audit queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Ascending,
    /// Newest first.
    #[default]
    Descending,
}

/// A filtered page of the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events of this principal.
    pub principal: Option<String>,
    /// Only events with this credential id.
    pub credential_id: Option<String>,
    /// Only events of this action.
    pub action: Option<String>,
    /// Only events with this outcome.
    pub outcome: Option<Outcome>,
    /// Only events at or after this time.
    pub since: Option<UnixTime>,
    /// Only events before this time.
    pub until: Option<UnixTime>,
    /// Cursor: only events after this sequence number in `order`.
    pub after_seq: Option<u64>,
    /// Sort order.
    pub order: Order,
    /// Page size.
    pub limit: u32,
}

/// What a retention run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Events deleted.
    pub deleted: u64,
    /// Where the trail now starts as far as retention knows: one past the newest event
    /// this run deleted; `None` if it deleted nothing. It is taken from what the run
    /// deleted, not from the oldest event left, so events deleted by other means are
    /// never passed off as pruned.
    pub starts_at: Option<u64>,
}

/// Everything Gatehouse persists. Implementations must pass [`conformance`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A named setting of the store itself (bootstrap state, master-key check).
    async fn meta(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets a named setting unless it is set already; returns whether it was set now.
    async fn set_meta_if_absent(&self, name: &str, value: &str) -> Result<bool, StoreError>;

    /// Sets a named setting, replacing any value it had.
    async fn set_meta(&self, name: &str, value: &str) -> Result<(), StoreError>;

    /// Stores a new key. [`StoreError::Conflict`] if the id or digest exists.
    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// Replaces a key's record. [`StoreError::NotFound`] if absent.
    async fn update_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// Stores `new` and replaces `old`, atomically (a rotation).
    async fn rotate_key(&self, old: &KeyRecord, new: &KeyRecord) -> Result<(), StoreError>;

    /// Deletes a key. [`StoreError::NotFound`] if absent.
    async fn delete_key(&self, id: &str) -> Result<(), StoreError>;

    /// One key by id.
    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// A page of keys ordered by id, starting after `after`.
    async fn list_keys(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// How many keys there are (to size the in-memory index before loading it).
    async fn count_keys(&self) -> Result<u64, StoreError>;

    /// Writes usage counters; updates for keys deleted meanwhile are ignored.
    async fn record_usage(&self, usage: &[UsageUpdate]) -> Result<(), StoreError>;

    /// Appends events, in one transaction. [`StoreError::Conflict`] on a taken `seq`.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// The newest event's sequence number and hash, to continue the chain.
    async fn audit_head(&self) -> Result<Option<(u64, ChainHash)>, StoreError>;

    /// A page of events matching `query`.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Retention: deletes the events from the start of the trail up to the newest one
    /// older than `before`, so the trail keeps no hole. The newest event is always kept
    /// so the chain can continue.
    async fn prune_audit(&self, before: UnixTime) -> Result<Pruned, StoreError>;

    /// Stores a new signing key. [`StoreError::Conflict`] if the kid exists.
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Every signing key, oldest activation first.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Sets when a superseded key leaves the JWK Set. [`StoreError::NotFound`] if absent.
    async fn set_signing_key_expiry(
        &self,
        kid: &str,
        expires_at: UnixTime,
    ) -> Result<(), StoreError>;

    /// Deletes a signing key. [`StoreError::NotFound`] if absent.
    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError>;

    /// Stores a new OAuth client. [`StoreError::Conflict`] if the id exists.
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// Replaces a client's record. [`StoreError::NotFound`] if absent.
    async fn update_client(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// Deletes a client. [`StoreError::NotFound`] if absent.
    async fn delete_client(&self, id: &str) -> Result<(), StoreError>;

    /// Every client, by id (clients are few; the server keeps them all in memory).
    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError>;

    /// Stores a new user. [`StoreError::Conflict`] if the id or the username exists.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// Replaces a user's record. [`StoreError::NotFound`] if absent;
    /// [`StoreError::Conflict`] if the new username belongs to another user.
    async fn update_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// Deletes a user. [`StoreError::NotFound`] if absent.
    async fn delete_user(&self, id: &str) -> Result<(), StoreError>;

    /// One user by id.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// One user by username.
    async fn user_by_username(&self, username: &Username)
    -> Result<Option<UserRecord>, StoreError>;

    /// Users in id order after `after` (exclusive), at most `limit`.
    async fn list_users(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StoreError>;

    /// Stores a new refresh token. [`StoreError::Conflict`] if the id or digest exists.
    async fn insert_refresh_token(&self, token: &RefreshRecord) -> Result<(), StoreError>;

    /// One refresh token by the SHA-256 of the token, whatever its state.
    async fn refresh_token(&self, digest: &KeyDigest) -> Result<Option<RefreshRecord>, StoreError>;

    /// A rotation: marks the token with digest `old` spent at `at` and stores `new`, in
    /// one transaction, but only if `old` is neither spent nor revoked. Returns whether
    /// it did; of any number of concurrent calls for the same `old`, at most one
    /// returns true (the others found it spent and stored nothing).
    async fn rotate_refresh_token(
        &self,
        old: &KeyDigest,
        at: UnixTime,
        new: &RefreshRecord,
    ) -> Result<bool, StoreError>;

    /// Revokes every token of a family at `at` (those revoked already keep their
    /// time). Returns every access token issued with a token of the family, as
    /// (`jti`, time issued), so the caller can deny-list those still alive.
    async fn revoke_refresh_family(
        &self,
        family_id: &str,
        at: UnixTime,
    ) -> Result<Vec<(String, UnixTime)>, StoreError>;

    /// Revokes at `at` every refresh token of `user_id`, only those of `client_id`
    /// when given; returns their access tokens as [`Store::revoke_refresh_family`].
    async fn revoke_user_refresh_tokens(
        &self,
        user_id: &str,
        client_id: Option<&str>,
        at: UnixTime,
    ) -> Result<Vec<(String, UnixTime)>, StoreError>;

    /// Deletes the refresh tokens whose family ended at or before `before`; returns
    /// how many. Spent tokens of live families are kept: they detect reuse.
    async fn prune_refresh_tokens(&self, before: UnixTime) -> Result<u64, StoreError>;

    /// Stores a user's consent for a client, replacing the one they had.
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError>;

    /// A user's consent for one client.
    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<Consent>, StoreError>;

    /// Every consent of a user, by client id.
    async fn consents(&self, user_id: &str) -> Result<Vec<Consent>, StoreError>;

    /// Withdraws a user's consent for a client. [`StoreError::NotFound`] if absent.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<(), StoreError>;

    /// Stores a certificate the built-in CA issued. [`StoreError::Conflict`] if the
    /// serial or the fingerprint exists.
    async fn insert_certificate(&self, cert: &CertificateRecord) -> Result<(), StoreError>;

    /// Every certificate, by serial (the server keeps them all in memory).
    async fn certificates(&self) -> Result<Vec<CertificateRecord>, StoreError>;

    /// Marks a certificate revoked at `at`; a second revocation keeps the first time.
    /// [`StoreError::NotFound`] if absent.
    async fn revoke_certificate(&self, serial: &str, at: UnixTime) -> Result<(), StoreError>;

    /// Deny-lists an access token by `jti` until `expires_at`; revoking twice is fine.
    async fn revoke_token(&self, jti: &str, expires_at: UnixTime) -> Result<(), StoreError>;

    /// Every deny-listed token id and when it expires.
    async fn revoked_tokens(&self) -> Result<Vec<(String, UnixTime)>, StoreError>;

    /// Forgets deny-listed tokens that expired at or before `before`; returns how many.
    async fn prune_revoked_tokens(&self, before: UnixTime) -> Result<u64, StoreError>;
}

/// A token signing key as stored: the private key encrypted with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id (RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// The PKCS#8 private key, encrypted by the server; opaque here.
    pub encrypted_key: Vec<u8>,
    /// Published in the JWK Set from this time.
    pub created_at: UnixTime,
    /// Signs from this time, until a newer key is active.
    pub active_at: UnixTime,
    /// Leaves the JWK Set at this time; set when a newer key supersedes it.
    pub expires_at: Option<UnixTime>,
}
