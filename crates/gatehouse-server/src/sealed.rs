//! Secrets at rest: AES-256-GCM under a key derived from the master key, each sealed
//! value bound to what it is (`label`, e.g. a signing key's kid) so a ciphertext
//! moved to another row does not open.

use crate::master_key::MasterKey;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use gatehouse_core::{Entropy, Secret};

/// A sealed value does not open: tampered, mislabelled, or another master key.
#[derive(Debug, thiserror::Error)]
#[error("a secret at rest does not decrypt (wrong master key or tampered data)")]
pub struct OpenError;

/// Encrypts `plaintext` for `purpose` and `label`: nonce ‖ ciphertext ‖ tag.
pub fn seal(
    master: &MasterKey,
    purpose: &str,
    label: &str,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let key = aead_key(master, purpose)?;
    let mut nonce = [0u8; NONCE_LEN];
    crate::entropy::OsEntropy.fill(&mut nonce)?;
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(label.as_bytes()),
        &mut sealed,
    )
    .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    Ok([&nonce[..], &sealed].concat())
}

/// Decrypts what [`seal`] made for the same `purpose` and `label`.
pub fn open(
    master: &MasterKey,
    purpose: &str,
    label: &str,
    sealed: &[u8],
) -> Result<Secret<Vec<u8>>, OpenError> {
    let key = aead_key(master, purpose).map_err(|_| OpenError)?;
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(OpenError)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
    let mut buffer = Secret::new(ciphertext.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(label.as_bytes()), buffer.expose_mut())
        .map_err(|_| OpenError)?
        .len();
    buffer.expose_mut().truncate(len);
    Ok(buffer)
}

fn aead_key(master: &MasterKey, purpose: &str) -> anyhow::Result<LessSafeKey> {
    let subkey = master.subkey(purpose);
    let key = UnboundKey::new(&AES_256_GCM, subkey.expose())
        .map_err(|_| anyhow::anyhow!("bad AES key"))?;
    Ok(LessSafeKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: &str) -> MasterKey {
        MasterKey::from_hex(&byte.repeat(32), "test").unwrap()
    }

    #[test]
    fn opens_what_it_sealed_and_nothing_else() {
        let m = master("42");
        let sealed = seal(&m, "signing-key", "kid-1", b"private").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(
            open(&m, "signing-key", "kid-1", &sealed).unwrap().expose(),
            b"private"
        );
        assert!(open(&m, "signing-key", "kid-2", &sealed).is_err());
        assert!(open(&m, "ca-key", "kid-1", &sealed).is_err());
        assert!(open(&master("43"), "signing-key", "kid-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(open(&m, "signing-key", "kid-1", &tampered).is_err());
        assert!(open(&m, "signing-key", "kid-1", &sealed[..5]).is_err());
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let m = master("42");
        assert_ne!(
            seal(&m, "p", "l", b"same").unwrap(),
            seal(&m, "p", "l", b"same").unwrap()
        );
    }
}
