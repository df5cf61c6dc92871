//! Randomness as a port: secrets, tokens and ids draw their bytes from an
//! [`Entropy`], so tests can be deterministic while production uses the OS.

use std::sync::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

/// A source of random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A time-ordered UUIDv7 for `at`: ids sort by creation, which makes them
    /// usable as pagination cursors. The 12 bits after the millisecond hold
    /// the fraction of that millisecond (RFC 9562, method 3), so ids made
    /// within one millisecond still sort by time.
    fn uuid_v7(&self, at: OffsetDateTime) -> Uuid {
        let mut rand = [0u8; 10];
        self.fill(&mut rand);
        let nanos = at.unix_timestamp_nanos();
        let millis = u64::try_from(nanos / 1_000_000).unwrap_or(0);
        let fraction = u16::try_from((nanos.rem_euclid(1_000_000) * 4096) / 1_000_000).unwrap_or(0);
        let mut bytes = *uuid::Builder::from_unix_timestamp_millis(millis, &rand)
            .into_uuid()
            .as_bytes();
        bytes[6] = 0x70 | ((fraction >> 8) as u8 & 0x0f);
        bytes[7] = (fraction & 0xff) as u8;
        Uuid::from_bytes(bytes)
    }

    /// `n` random bytes.
    fn bytes(&self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.fill(&mut buf);
        buf
    }
}

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
    use time::Duration;

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
