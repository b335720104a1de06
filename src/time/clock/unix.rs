//! The Unix clocks (Linux, Android, the BSDs, Apple, Emscripten):
//! `clock_gettime` on the clock the backend's futex call measures its
//! timeouts on.

use core::time::Duration;

/// `CLOCK_UPTIME_RAW` on Apple: std's `Instant` clock, in the
/// `mach_absolute_time` domain that `OS_CLOCK_MACH_ABSOLUTE_TIME` timeouts
/// count in. `CLOCK_MONOTONIC` elsewhere: the clock of `FUTEX_WAIT_BITSET`,
/// `UMTX_ABSTIME` and the relative timeouts' kernels (Emscripten implements
/// it with `performance.now()`).
#[cfg(target_vendor = "apple")]
const CLOCK: libc::clockid_t = libc::CLOCK_UPTIME_RAW;
#[cfg(not(target_vendor = "apple"))]
const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

/// `clock_gettime(CLOCK)` as time since the clock's origin.
pub(super) fn now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // `ts` is a valid, writable timespec and `CLOCK` exists on this OS.
    // SAFETY: see SAFETY.md, "Wait layer: clocks".
    let r = unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    debug_assert_eq!(r, 0, "clock_gettime({CLOCK}) failed");
    // Monotonic clocks are never negative.
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
