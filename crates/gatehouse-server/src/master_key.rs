//! The master key, which encrypts signing keys and the CA key at rest.
//!
//! It never lives in the config file: it comes from `GATEHOUSE_MASTER_KEY` (64 hex
//! digits), or from the file named by `GATEHOUSE_MASTER_KEY_FILE`, or — in dev mode,
//! with neither set — from `<data-dir>/master.key`, generated with mode 0600 on first
//! start. The store remembers a check value so a start with a different key fails
//! loudly instead of silently failing to decrypt later.

use gatehouse_core::{Entropy, Secret};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The 256-bit master key.
#[derive(Debug, Clone)]
pub struct MasterKey(Secret<[u8; 32]>);

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `GATEHOUSE_MASTER_KEY`.
    Environment,
    /// `GATEHOUSE_MASTER_KEY_FILE`.
    File(PathBuf),
    /// Dev mode: generated (or reused) in the data directory.
    DevFile(PathBuf),
}

/// Why the master key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The value is not 64 hex digits.
    #[error(
        "{0}: the master key must be 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`"
    )]
    Malformed(String),
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Dev mode on a store that was set up with a master key from the environment.
    #[error(
        "this store was set up with a master key from GATEHOUSE_MASTER_KEY or \
         GATEHOUSE_MASTER_KEY_FILE, and neither is set"
    )]
    Missing,
    /// No randomness to generate a key.
    #[error("cannot generate a master key: the system random number generator is unavailable")]
    NoEntropy,
}

impl MasterKey {
    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str, origin: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = hex::decode(text).map_err(|_| MasterKeyError::Malformed(origin.to_owned()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| MasterKeyError::Malformed(origin.to_owned()))?;
        Ok(Self(Secret::new(key)))
    }

    /// Loads the key from the environment values given, or dev mode in `data_dir`.
    /// `store_exists` says whether the store was created before: dev mode never makes a
    /// new key for an existing store (it could only be the wrong one).
    pub fn load(
        env_key: Option<&str>,
        env_file: Option<&Path>,
        data_dir: &Path,
        store_exists: bool,
    ) -> Result<(Self, MasterKeySource), MasterKeyError> {
        if let Some(text) = env_key {
            return Ok((
                Self::from_hex(text, "GATEHOUSE_MASTER_KEY")?,
                MasterKeySource::Environment,
            ));
        }
        if let Some(path) = env_file {
            let text = read(path)?;
            return Ok((
                Self::from_hex(&text, &path.display().to_string())?,
                MasterKeySource::File(path.to_owned()),
            ));
        }
        let path = data_dir.join("master.key");
        if path.exists() {
            let text = read(&path)?;
            return Ok((
                Self::from_hex(&text, &path.display().to_string())?,
                MasterKeySource::DevFile(path),
            ));
        }
        if store_exists {
            return Err(MasterKeyError::Missing);
        }
        let mut key = [0u8; 32];
        crate::entropy::OsEntropy
            .fill(&mut key)
            .map_err(|_| MasterKeyError::NoEntropy)?;
        let master = Self(Secret::new(key));
        key.fill(0);
        write_private(&path, &hex::encode(master.0.expose()))?;
        Ok((master, MasterKeySource::DevFile(path)))
    }

    /// A value that identifies the key without revealing it, kept in the store.
    pub fn check_value(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"gatehouse-master-key-check-v1");
        h.update(self.0.expose());
        hex::encode(h.finalize())
    }

    /// A key for one purpose, derived as HMAC-SHA256(master, purpose): what one
    /// purpose's ciphertexts reveal says nothing about another's key.
    pub(crate) fn subkey(&self, purpose: &str) -> Secret<[u8; 32]> {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.0.expose());
        let tag = aws_lc_rs::hmac::sign(&key, purpose.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Secret::new(out)
    }
}

fn read(path: &Path) -> Result<String, MasterKeyError> {
    std::fs::read_to_string(path).map_err(|source| MasterKeyError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates `path` with mode 0600 and writes `text`; never overwrites.
fn write_private(path: &Path, text: &str) -> Result<(), MasterKeyError> {
    let io = |source| MasterKeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mode_generates_a_private_file_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = MasterKey::load(None, None, dir.path(), false).unwrap();
        let path = dir.path().join("master.key");
        assert_eq!(source, MasterKeySource::DevFile(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (second, _) = MasterKey::load(None, None, dir.path(), false).unwrap();
        assert_eq!(first.check_value(), second.check_value());
    }

    #[test]
    fn environment_wins_and_malformed_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "ab".repeat(32);
        let (_, source) = MasterKey::load(Some(&hex), None, dir.path(), false).unwrap();
        assert_eq!(source, MasterKeySource::Environment);
        assert!(!dir.path().join("master.key").exists());
        assert!(MasterKey::load(Some("short"), None, dir.path(), false).is_err());
        assert!(MasterKey::load(Some(&"zz".repeat(32)), None, dir.path(), false).is_err());
    }

    #[test]
    fn dev_mode_refuses_to_invent_a_key_for_an_existing_store() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            MasterKey::load(None, None, dir.path(), true),
            Err(MasterKeyError::Missing)
        ));
        assert!(!dir.path().join("master.key").exists());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = MasterKey::from_hex(&"ab".repeat(32), "test").unwrap();
        assert!(!format!("{key:?}").contains("abab"));
    }
}
