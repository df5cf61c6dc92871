//! The small shared vocabulary every rosgate crate speaks.
//!
//! It exists so that domain crates agree on what an id, a caller, a page and
//! "now" are without depending on each other. It imports nothing of ours and
//! nothing of infrastructure: no SQL, no HTTP, no OIDC.

pub mod clock;
pub mod entropy;
pub mod environment;
pub mod id;
pub mod net;
pub mod page;
pub mod principal;
pub mod ratelimit;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use environment::{Environment, EnvironmentSet};
pub use id::*;
pub use page::{Page, PageRequest};
pub use principal::{AuthMethod, Principal};
pub use ratelimit::{Decision, MemoryRateLimiter, Quota, RateLimiter};
pub use store::{CachePort, LockPort, MemoryCache, MemoryLocks};

pub mod error;
pub use error::StoreError;
