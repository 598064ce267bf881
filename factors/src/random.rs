//! Random bytes from the kernel (`getrandom(2)`): fork-safe, no user-space state.

use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// Fills `buf` with random bytes from the operating system.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::Random(e.to_string()))
}

/// Returns `n` random bytes in a buffer that is wiped when dropped.
pub fn secret_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    fill(&mut v)?;
    Ok(v)
}

/// Returns a uniformly distributed number in `0..bound` (`bound` > 0), without modulo bias.
pub fn below(bound: u32) -> Result<u32> {
    assert!(bound > 0, "bound must be positive");
    // Reject values in the incomplete last block of the u32 range.
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let mut b = [0u8; 4];
        fill(&mut b)?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok(v % bound);
        }
    }
}
