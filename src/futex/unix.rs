//! What the Unix backends (Linux, Android, the BSDs, Apple, Emscripten)
//! share: errno, the `timespec` conversion, and what a failed wait call's
//! errno means.

use crate::time::Deadline;
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

/// `d` as a `timespec`, or `None` if `time_t` cannot hold it (then the
/// wait is untimed: "too far to represent" means forever).
#[allow(dead_code)] // Apple, DragonFly, Emscripten: other units, other errnos
pub(super) fn timespec(d: Duration) -> Option<libc::timespec> {
    Some(libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).ok()?,
        tv_nsec: d.subsec_nanos() as _,
    })
}

/// What a wait loop does after its futex call failed with `errno`:
/// `Some(result)` to return `result`, `None` to call again.
///
/// - `ETIMEDOUT`: `false` only if `deadline` has passed on our clock (the
///   contract in `futex/mod.rs`: never a bare OS timeout), else call again
///   (with an absolute deadline the kernel measured on the same clock this
///   does not happen; a relative one is recomputed by the caller);
/// - `EINTR`: call again, with the same deadline;
/// - `EAGAIN`: the word did not hold `expected` when the kernel looked;
/// - anything else is unexpected: a debug assertion, else `true` (a
///   spurious return; the caller re-checks).
#[allow(dead_code)] // Apple, DragonFly, Emscripten: other units, other errnos
pub(super) fn after_error(errno: i32, deadline: Option<Deadline>) -> Option<bool> {
    match errno {
        libc::ETIMEDOUT => deadline.is_some_and(Deadline::has_passed).then_some(false),
        libc::EINTR => None,
        libc::EAGAIN => Some(true),
        e => {
            debug_assert!(false, "unexpected futex wait error {e}");
            Some(true)
        }
    }
}
