//! Fuchsia: `zx_futex_wait` / `zx_futex_wake` from the Zircon vDSO.
//!
//! `zx_futex_wait` takes an *absolute* deadline on the monotonic clock
//! (`zx_clock_get_monotonic`, nanoseconds since boot), which is also our
//! clock, so a retry never stretches it; `ZX_TIME_INFINITE` waits forever.
//! We pass no new owner (`ZX_HANDLE_INVALID`): these are plain futexes, not
//! priority-inheriting locks. As Rust std does
//! (`library/std/src/sys/pal/unix/futex.rs`).

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;

type ZxHandle = u32;
type ZxStatus = i32;
type ZxTime = i64;

const ZX_HANDLE_INVALID: ZxHandle = 0;
const ZX_TIME_INFINITE: ZxTime = ZxTime::MAX;
const ZX_OK: ZxStatus = 0;
const ZX_ERR_BAD_STATE: ZxStatus = -20;
const ZX_ERR_TIMED_OUT: ZxStatus = -21;

#[link(name = "zircon")]
extern "C" {
    fn zx_futex_wait(
        value_ptr: *const u32,
        current_value: u32,
        new_futex_owner: ZxHandle,
        deadline: ZxTime,
    ) -> ZxStatus;
    fn zx_futex_wake(value_ptr: *const u32, wake_count: u32) -> ZxStatus;
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    // Too far for an i64 of nanoseconds (292 years): forever.
    let at = deadline
        .and_then(|d| ZxTime::try_from(d.since_origin().as_nanos()).ok())
        .unwrap_or(ZX_TIME_INFINITE);
    if word.load(Ordering::Relaxed) != expected {
        return true;
    }
    // `word` is a live, aligned `AtomicU32` for the whole call; the
    // value is passed by value; no owner handle.
    // SAFETY: see SAFETY.md, "Wait layer: Fuchsia futex".
    let r = unsafe { zx_futex_wait(word.as_ptr(), expected, ZX_HANDLE_INVALID, at) };
    match r {
        // Woken (maybe spuriously), or the value was not `expected`: the
        // caller re-checks and calls again with the same absolute deadline.
        ZX_OK | ZX_ERR_BAD_STATE => true,
        // Measured on our own clock, absolute, so this is a real timeout;
        // still re-checked on our clock, as every backend does (the
        // contract in `futex/mod.rs`: never a bare OS timeout).
        ZX_ERR_TIMED_OUT => !deadline.is_some_and(Deadline::has_passed),
        e => {
            debug_assert!(false, "unexpected zx_futex_wait status {e}");
            true
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; waking an address nobody
    // waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: Fuchsia futex".
    let r = unsafe { zx_futex_wake(word.as_ptr(), u32::MAX) };
    debug_assert_eq!(r, ZX_OK, "zx_futex_wake failed: status {r}");
}
