//! Fuchsia: `zx_clock_get_monotonic` from the Zircon vDSO, the clock
//! `zx_futex_wait`'s absolute deadlines are on (`futex/fuchsia.rs`).

use core::time::Duration;

#[link(name = "zircon")]
extern "C" {
    fn zx_clock_get_monotonic() -> i64;
}

pub(super) fn now() -> Duration {
    // No arguments; cannot fail.
    // SAFETY: see SAFETY.md, "Wait layer: Fuchsia futex".
    let t = unsafe { zx_clock_get_monotonic() };
    // Nanoseconds since boot: never negative.
    Duration::from_nanos(t as u64)
}
