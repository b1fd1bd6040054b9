//! Argon2id off the async threads: each hash costs tens of milliseconds and 19 MiB, so
//! it runs on the blocking pool, at most one per core at a time. A flood of password
//! requests then queues here instead of starving every other request or the memory.

use gatehouse_core::Secret;
use gatehouse_core::entropy::Entropy;
use gatehouse_core::user::password::{self, PasswordError};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why hashing or checking a password did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// The password breaks the rule, or the stored hash is unreadable.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// No randomness for the salt.
    #[error("the system random number generator is unavailable")]
    Entropy,
    /// The blocking task ended without an answer (shutdown).
    #[error("password hashing was interrupted")]
    Interrupted,
}

/// The bounded Argon2id worker.
#[derive(Debug, Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl Passwords {
    /// A fresh Argon2id PHC string for `password` (checked against the rule first).
    pub async fn hash(&self, password: Secret<String>) -> Result<String, HashingError> {
        password::check(&password)?;
        let mut salt = [0u8; 16];
        crate::entropy::OsEntropy
            .fill(&mut salt)
            .map_err(|_| HashingError::Entropy)?;
        self.run(move || password::hash(&password, &salt).map_err(HashingError::from))
            .await
    }

    /// Whether `password` matches `stored`.
    pub async fn verify(
        &self,
        password: Secret<String>,
        stored: String,
    ) -> Result<bool, HashingError> {
        self.run(move || password::verify(&password, &stored).map_err(HashingError::from))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashingError::Interrupted)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| HashingError::Interrupted)?
    }
}
