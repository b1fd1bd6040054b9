//! The operating system's CSPRNG as core's [`Entropy`].

use gatehouse_core::{Entropy, EntropyUnavailable};

/// Random bytes from the OS (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        getrandom::fill(dest).map_err(|_| EntropyUnavailable)
    }
}
