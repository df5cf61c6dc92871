//! Randomness as a port: secrets, tokens and ids draw their bytes from an
//! [`Entropy`] (ports.rs), so tests can be deterministic while production
//! uses the OS. Here are its adapters, the OS generator and a seeded one.

use crate::ports::Entropy;
use std::sync::Mutex;

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // The OS generator failing means the machine cannot make secrets at
        // all; continuing would hand out predictable tokens.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random generator failed");
    }
}

/// A deterministic generator (SplitMix64) for tests and benchmarks. Never for secrets.
#[derive(Debug)]
pub struct SeededEntropy {
    state: Mutex<u64>,
}

impl SeededEntropy {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, OffsetDateTime};
    use uuid::Uuid;

    #[test]
    fn ids_sort_by_time_within_a_millisecond() {
        let e = OsEntropy;
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut ids: Vec<Uuid> = (0..100)
            .map(|i| e.uuid_v7(t + Duration::microseconds(i * 9)))
            .collect();
        let made = ids.clone();
        ids.sort();
        assert_eq!(ids, made, "later ids sort later");
        assert!(made.iter().all(|u| u.get_version_num() == 7));
    }
}
