//! Any other OS with `std` (the std fallback backend, `futex/fallback.rs`):
//! `std::time::Instant`, measured from the first reading.

use core::time::Duration;
use std::sync::OnceLock;
use std::time::Instant;

/// The origin of [`now`]'s clock: the first time anyone asked.
static ORIGIN: OnceLock<Instant> = OnceLock::new();

pub(super) fn now() -> Duration {
    ORIGIN.get_or_init(Instant::now).elapsed()
}
