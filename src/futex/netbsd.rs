//! NetBSD (9 and later): the Linux-compatible `__futex` system call
//! (`SYS___futex`, number 166), with `FUTEX_WAIT_BITSET |
//! FUTEX_PRIVATE_FLAG` and an *absolute* `CLOCK_MONOTONIC` deadline, as on
//! Linux.
//!
//! NetBSD's `__futex` takes one argument more than Linux's (`val2`, between
//! `uaddr2` and `val3`), which `libc` does not wrap: we call `syscall(2)`
//! with the number, as Rust std did while it used this call and as
//! Boost.Atomic's `detail/futex.hpp` does. The number is not in `libc`'s
//! NetBSD module, so it is spelled here (`sys/syscall.h`: `SYS___futex
//! 166`). An OS "timed out" is re-checked against our clock.

use super::unix::{clock, errno};
use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::ptr;
use core::time::Duration;

/// `SYS___futex` in NetBSD's `sys/syscall.h` (NetBSD 9.0 onwards).
const SYS___FUTEX: libc::c_int = 166;

pub(super) fn now() -> Duration {
    clock(libc::CLOCK_MONOTONIC)
}

/// The deadline as a `timespec`, or `None` if `time_t` cannot hold it
/// (then the wait is untimed: "too far to represent" means forever).
fn to_timespec(deadline: Deadline) -> Option<libc::timespec> {
    let at = deadline.since_origin();
    Some(libc::timespec {
        tv_sec: libc::time_t::try_from(at.as_secs()).ok()?,
        tv_nsec: at.subsec_nanos() as _,
    })
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    let timespec = deadline.and_then(to_timespec);
    let timeout = timespec
        .as_ref()
        .map_or(ptr::null(), |ts| ts as *const libc::timespec);
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        // - `word` is a live, aligned `AtomicU32` for the whole call;
        // - `timeout` is null or points to `timespec`, alive for the call;
        // - uaddr2 (null) and val2 (0) are unused by FUTEX_WAIT_BITSET;
        //   val3 is the bitset (all ones: match every wake).
        // SAFETY: see SAFETY.md, "Wait layer: NetBSD __futex".
        let r = unsafe {
            libc::syscall(
                SYS___FUTEX,
                word.as_ptr(),
                libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                expected,
                timeout,
                ptr::null::<u32>(),
                0,
                !0u32,
            )
        };
        if r >= 0 {
            return true; // Woken, maybe spuriously: the caller re-checks.
        }
        match errno() {
            libc::EAGAIN => return true,
            // Re-check on our clock rather than trusting the kernel's.
            libc::ETIMEDOUT => {
                if deadline.is_some_and(Deadline::has_passed) {
                    return false;
                }
            }
            libc::EINTR => {}
            e => {
                debug_assert!(false, "unexpected __futex wait error {e}");
                return true;
            }
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; FUTEX_WAKE reads no other
    // argument. Waking an address nobody waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: NetBSD __futex".
    let r = unsafe {
        libc::syscall(
            SYS___FUTEX,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
    debug_assert!(r >= 0, "__futex wake failed: errno {}", errno());
}
