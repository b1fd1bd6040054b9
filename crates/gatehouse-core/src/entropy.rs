//! Randomness as a parameter, so key generation is deterministic under test.

/// A source of cryptographically secure random bytes.
///
/// The server implements this with the operating system's CSPRNG; tests use a
/// fixed sequence.
pub trait Entropy {
    /// Fills `dest` entirely with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable>;
}

/// The random source failed; nothing secret can be generated.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator is unavailable")]
pub struct EntropyUnavailable;
