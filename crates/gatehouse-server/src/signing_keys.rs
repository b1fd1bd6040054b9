//! The token signing key ring: keys decrypted once at start, the one that signs now,
//! the ones published in the JWK Set, and rotation.
//!
//! A key's life, by its stored times: published from `created_at`; signs from
//! `active_at` until a newer key's `active_at`; unpublished at `expires_at`, which a
//! rotation sets to the successor's activation plus the longest token lifetime (and a
//! minute of leeway), so every token it signed verifies until the token expires.
//! Rotation publishes the successor `publish_lead_secs` before it signs.

use crate::config::{SigningSettings, TokenSettings};
use crate::master_key::MasterKey;
use crate::sealed;
use gatehouse_core::jose::{
    Alg, Expected, JwkSet, SigningKey, TokenError, VerifiedToken, VerifyingKey, verify_jwt,
};
use gatehouse_core::{Secret, UnixTime};
use gatehouse_store::{Store, StoredSigningKey};
use parking_lot::RwLock;
use std::sync::Arc;

/// Sealing purpose of signing keys (see [`sealed`]).
const PURPOSE: &str = "signing-key";
/// Extra time a superseded key stays published beyond the longest token lifetime.
const EXPIRY_MARGIN_MS: i64 = 60_000;

/// One key of the ring.
#[derive(Debug)]
pub struct RingKey {
    /// The private key.
    pub signer: SigningKey,
    /// Its public half, parsed for verification.
    pub verifier: VerifyingKey,
    /// Published from.
    pub created_at: UnixTime,
    /// Signs from.
    pub active_at: UnixTime,
    /// Unpublished from.
    pub expires_at: Option<UnixTime>,
}

impl RingKey {
    fn published_at(&self, now: UnixTime) -> bool {
        self.created_at <= now && self.expires_at.is_none_or(|t| now < t)
    }
}

/// Where a key is in its life, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signing.
    Active,
    /// Superseded, still published for tokens it signed.
    Retired,
    /// No longer published.
    Expired,
}

/// What [`SigningKeys::withdraw`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The key is gone.
    Done,
    /// It is the key that signs now; nothing changed.
    Active,
    /// No key has that id.
    NotFound,
}

/// The key ring, shared by the token endpoint, verification and the JWKS handler.
#[derive(Debug)]
pub struct SigningKeys {
    /// Oldest activation first; replaced whole on a change.
    ring: RwLock<Arc<Vec<Arc<RingKey>>>>,
    settings: SigningSettings,
    tokens: TokenSettings,
    master: MasterKey,
    /// Serializes rotations.
    rotating: tokio::sync::Mutex<()>,
}

impl SigningKeys {
    /// Loads and decrypts every stored key; makes the first one when there is none.
    pub async fn load(
        store: &dyn Store,
        master: &MasterKey,
        settings: &SigningSettings,
        tokens: &TokenSettings,
        now: UnixTime,
    ) -> anyhow::Result<Self> {
        let keys = Self {
            ring: RwLock::new(Arc::new(Vec::new())),
            settings: settings.clone(),
            tokens: *tokens,
            master: master.clone(),
            rotating: tokio::sync::Mutex::new(()),
        };
        keys.reload(store).await?;
        if keys.signer(now).is_none() {
            keys.add(store, now, now).await?;
        }
        Ok(keys)
    }

    /// The key that signs at `now`: of the published keys whose time has come, one not
    /// yet superseded (no expiry) wins, then the latest activation.
    pub fn signer(&self, now: UnixTime) -> Option<Arc<RingKey>> {
        let ring = self.ring.read();
        ring.iter()
            .filter(|k| k.active_at <= now && k.published_at(now))
            .max_by_key(|k| (k.expires_at.is_none(), k.active_at))
            .cloned()
    }

    /// A published key by `kid`, to verify a token Gatehouse issued.
    pub fn verifier(&self, kid: &str, now: UnixTime) -> Option<Arc<RingKey>> {
        let ring = self.ring.read();
        ring.iter()
            .find(|k| k.verifier.kid() == kid && k.published_at(now))
            .cloned()
    }

    /// Verifies a token against the keys published at `now`.
    pub fn verify(
        &self,
        token: &str,
        expected: &Expected<'_>,
        now: UnixTime,
    ) -> Result<VerifiedToken, TokenError> {
        let ring = Arc::clone(&self.ring.read());
        verify_jwt(
            token,
            |kid| {
                ring.iter()
                    .find(|k| k.verifier.kid() == kid && k.published_at(now))
                    .map(|k| &k.verifier)
            },
            expected,
            now,
        )
    }

    /// The JWK Set at `now`: the next, active and retired keys.
    pub fn jwks(&self, now: UnixTime) -> JwkSet {
        let ring = self.ring.read();
        JwkSet {
            keys: ring
                .iter()
                .filter(|k| k.published_at(now))
                .map(|k| k.signer.public_jwk().clone())
                .collect(),
        }
    }

    /// Every key with its state at `now`, oldest first.
    pub fn list(&self, now: UnixTime) -> Vec<(Arc<RingKey>, KeyState)> {
        let active = self.signer(now);
        let ring = self.ring.read();
        ring.iter()
            .map(|k| {
                let state = if !k.published_at(now) {
                    KeyState::Expired
                } else if active.as_ref().is_some_and(|a| Arc::ptr_eq(a, k)) {
                    KeyState::Active
                } else if k.active_at > now {
                    KeyState::Next
                } else {
                    KeyState::Retired
                };
                (Arc::clone(k), state)
            })
            .collect()
    }

    /// Rotates: a new key, published now, signing after the publish lead (or at once
    /// with `immediate`). A key already waiting to sign is returned instead of making
    /// another, unless `immediate`.
    pub async fn rotate(
        &self,
        store: &dyn Store,
        now: UnixTime,
        immediate: bool,
    ) -> anyhow::Result<Arc<RingKey>> {
        let _one_at_a_time = self.rotating.lock().await;
        if let Some(next) = self.pending(now) {
            if !immediate {
                return Ok(next);
            }
            // It never signed: drop it rather than let it take over later.
            store.delete_signing_key(next.verifier.kid()).await?;
        }
        let lead = if immediate {
            0
        } else {
            i64::from(self.settings.publish_lead_secs) * 1000
        };
        let active_at = now.plus_millis(lead);
        // Every key that signs before the new one takes over is retired then.
        let expires_at = active_at
            .plus_millis(i64::from(self.tokens.max_access_ttl_secs) * 1000 + EXPIRY_MARGIN_MS);
        let superseded: Vec<String> = self
            .ring
            .read()
            .iter()
            .filter(|k| k.expires_at.is_none() && k.active_at <= active_at)
            .map(|k| k.verifier.kid().to_owned())
            .collect();
        for kid in &superseded {
            store.set_signing_key_expiry(kid, expires_at).await?;
        }
        let key = self.add(store, now, active_at).await?;
        tracing::info!(kid = key.verifier.kid(), alg = %key.signer.alg(), "signing key rotated");
        Ok(key)
    }

    /// Withdraws a key at once (a leaked key): unpublished, and every token it signed
    /// stops verifying. The key that signs now cannot be withdrawn; rotate with
    /// `immediate` first.
    pub async fn withdraw(
        &self,
        store: &dyn Store,
        kid: &str,
        now: UnixTime,
    ) -> anyhow::Result<Withdrawal> {
        let _one_at_a_time = self.rotating.lock().await;
        if self.signer(now).is_some_and(|k| k.verifier.kid() == kid) {
            return Ok(Withdrawal::Active);
        }
        if !self.ring.read().iter().any(|k| k.verifier.kid() == kid) {
            return Ok(Withdrawal::NotFound);
        }
        store.delete_signing_key(kid).await?;
        self.reload(store).await?;
        tracing::warn!(kid, "signing key withdrawn");
        Ok(Withdrawal::Done)
    }

    /// The scheduled work: rotate when the active key is due, and forget keys that
    /// expired long ago. Returns the new key's kid when it rotated.
    pub async fn maintain(
        &self,
        store: &dyn Store,
        now: UnixTime,
    ) -> anyhow::Result<Option<String>> {
        let mut rotated = None;
        if self.settings.rotate_after_days > 0
            && self.pending(now).is_none()
            && let Some(active) = self.signer(now)
        {
            let age = now.as_millis() - active.active_at.as_millis();
            let due = i64::from(self.settings.rotate_after_days) * 86_400_000
                - i64::from(self.settings.publish_lead_secs) * 1000;
            if age >= due {
                rotated = Some(
                    self.rotate(store, now, false)
                        .await?
                        .verifier
                        .kid()
                        .to_owned(),
                );
            }
        }
        let stale: Vec<String> = self
            .ring
            .read()
            .iter()
            .filter(|k| {
                k.expires_at
                    .is_some_and(|t| t.plus_millis(86_400_000) <= now)
            })
            .map(|k| k.verifier.kid().to_owned())
            .collect();
        for kid in &stale {
            store.delete_signing_key(kid).await?;
        }
        if !stale.is_empty() {
            self.reload(store).await?;
        }
        Ok(rotated)
    }

    fn pending(&self, now: UnixTime) -> Option<Arc<RingKey>> {
        self.ring
            .read()
            .iter()
            .find(|k| k.active_at > now && k.published_at(now))
            .cloned()
    }

    async fn add(
        &self,
        store: &dyn Store,
        now: UnixTime,
        active_at: UnixTime,
    ) -> anyhow::Result<Arc<RingKey>> {
        let alg = self.settings.alg;
        let pkcs8 = generate(alg)?;
        let signer = SigningKey::from_pkcs8(alg, pkcs8.expose())?;
        let kid = signer.kid().to_owned();
        store
            .insert_signing_key(&StoredSigningKey {
                encrypted_key: sealed::seal(&self.master, PURPOSE, &kid, pkcs8.expose())?,
                kid: kid.clone(),
                alg: alg.as_str().to_owned(),
                created_at: now,
                active_at,
                expires_at: None,
            })
            .await?;
        self.reload(store).await?;
        self.ring
            .read()
            .iter()
            .find(|k| k.verifier.kid() == kid)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("signing key {kid} vanished after it was stored"))
    }

    /// Replaces the ring with the store's keys.
    async fn reload(&self, store: &dyn Store) -> anyhow::Result<()> {
        let mut ring = Vec::new();
        for stored in store.signing_keys().await? {
            ring.push(Arc::new(self.open(&stored)?));
        }
        *self.ring.write() = Arc::new(ring);
        Ok(())
    }

    fn open(&self, stored: &StoredSigningKey) -> anyhow::Result<RingKey> {
        let alg = Alg::from_name(&stored.alg).ok_or_else(|| {
            anyhow::anyhow!("signing key {}: unknown alg {}", stored.kid, stored.alg)
        })?;
        let pkcs8 = sealed::open(&self.master, PURPOSE, &stored.kid, &stored.encrypted_key)
            .map_err(|e| anyhow::anyhow!("signing key {}: {e}", stored.kid))?;
        let signer = SigningKey::from_pkcs8(alg, pkcs8.expose())?;
        anyhow::ensure!(
            signer.kid() == stored.kid,
            "signing key {}: the key does not match its id",
            stored.kid
        );
        let verifier = VerifyingKey::from_jwk(signer.public_jwk())?;
        Ok(RingKey {
            signer,
            verifier,
            created_at: stored.created_at,
            active_at: stored.active_at,
            expires_at: stored.expires_at,
        })
    }
}

/// A new private key for `alg`, PKCS#8, from the system's generator (via AWS-LC).
fn generate(alg: Alg) -> anyhow::Result<Secret<Vec<u8>>> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let failed = |_| anyhow::anyhow!("cannot generate a {alg} key");
    Ok(Secret::new(match alg {
        Alg::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(failed)?
                .as_ref()
                .to_vec()
        }
        Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Alg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            pair.as_der().map_err(failed)?.as_ref().to_vec()
        }
    }))
}
