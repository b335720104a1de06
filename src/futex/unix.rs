//! What the Unix backends (Linux, Android, the BSDs, Apple, Emscripten)
//! share: errno and the monotonic clock read.

use core::time::Duration;

/// The calling thread's `errno`, read right after a failed call.
#[cfg_attr(target_os = "emscripten", allow(dead_code))] // -errno there
pub(super) fn errno() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "dragonfly", target_os = "emscripten"))]
    // SAFETY: a libc function with no preconditions (SAFETY.md, "Wait layer: errno").
    let slot = unsafe { libc::__errno_location() };
    #[cfg(any(target_os = "android", target_os = "openbsd", target_os = "netbsd"))]
    // Bionic's and OpenBSD's/NetBSD's spelling of the same function.
    // SAFETY: as above (SAFETY.md, "Wait layer: errno").
    let slot = unsafe { libc::__errno() };
    #[cfg(any(target_os = "freebsd", target_vendor = "apple"))]
    // SAFETY: as above, the BSD spelling (SAFETY.md, "Wait layer: errno").
    let slot = unsafe { libc::__error() };
    // The calling thread's errno slot, valid and aligned for the
    // thread's whole life.
    // SAFETY: see SAFETY.md, "Wait layer: errno".
    unsafe { *slot }
}

/// `clock_gettime(clock)` as time since the clock's origin.
pub(super) fn clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // `ts` is a valid, writable timespec and the callers pass clocks
    // that exist on their OS.
    // SAFETY: see SAFETY.md, "Wait layer: clocks".
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    debug_assert_eq!(r, 0, "clock_gettime({clock}) failed");
    // Monotonic clocks are never negative.
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
