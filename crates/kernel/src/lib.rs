//! The small shared vocabulary every rosgate crate speaks.
//!
//! It exists so that domain crates agree on what an id, a caller, a page and
//! "now" are without depending on each other. It imports nothing of ours and
//! nothing of infrastructure: no SQL, no HTTP, no OIDC.
//!
//! Its ports are in [`ports`] ([`Clock`], [`Entropy`], [`RateLimiter`],
//! [`LockPort`], [`CachePort`]); the in-process adapters live beside their
//! subject ([`clock`], [`entropy`], [`ratelimit`], [`store`]), and what a
//! quota is, with the GCRA step every limiter runs, in [`quota`].
//!
//! # Using this crate
//!
//! Every port comes with an in-process adapter, so code built on them runs
//! without a server and tests move time instead of sleeping. Here a
//! [`ManualClock`] drives a [`MemoryRateLimiter`] through a quota of two
//! requests a minute:
//!
//! ```
//! use kernel::{Clock, ManualClock, MemoryRateLimiter, Quota, RateLimiter};
//! use time::{Duration, macros::datetime};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kernel::StoreError> {
//! let clock = ManualClock::new(datetime!(2026-01-01 0:00 UTC));
//! let limiter = MemoryRateLimiter::new();
//! let quota = Quota { limit: 2, period: Duration::minutes(1) };
//!
//! assert!(limiter.check("alice", quota, clock.now()).await?.allowed);
//! assert!(limiter.check("alice", quota, clock.now()).await?.allowed);
//! let refused = limiter.check("alice", quota, clock.now()).await?;
//! assert!(!refused.allowed);
//! // Someone else has a budget of their own.
//! assert!(limiter.check("bob", quota, clock.now()).await?.allowed);
//!
//! // Waiting as long as the refusal says is enough.
//! clock.advance(refused.retry_after.unwrap_or_default());
//! assert!(limiter.check("alice", quota, clock.now()).await?.allowed);
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod entropy;
pub mod environment;
pub mod id;
pub mod net;
pub mod page;
pub mod ports;
pub mod principal;
pub mod quota;
pub mod ratelimit;
pub mod store;

pub use clock::{ManualClock, SystemClock};
pub use entropy::{OsEntropy, SeededEntropy};
pub use environment::{Environment, EnvironmentSet};
pub use id::*;
pub use page::{Page, PageRequest};
pub use ports::{CachePort, Clock, Entropy, LockPort, RateLimiter};
pub use principal::{AuthMethod, Principal};
pub use quota::{Allowance, Quota};
pub use ratelimit::MemoryRateLimiter;
pub use store::{MemoryCache, MemoryLocks};

pub mod error;
pub use error::StoreError;
