//! OpenBSD: `futex(2)` with `FUTEX_WAIT` / `FUTEX_WAKE`.
//!
//! OpenBSD's `FUTEX_WAIT` takes a *relative* timeout, so each round
//! recomputes the time left on our clock (`CLOCK_MONOTONIC`) and an OS
//! "timed out" is re-checked against it: a retry after `EINTR` never
//! stretches the deadline and an early kernel timeout never ends the wait
//! early. Neither call uses `FUTEX_PRIVATE_FLAG`, like Rust std
//! (`library/std/src/sys/pal/unix/futex.rs`): wait and wake must agree.

use super::unix::{after_error, errno, timespec};
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::ptr;

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        // `None`: untimed (or beyond `time_t`, which means forever too).
        let timespec = match deadline {
            None => None,
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return false;
                }
                timespec(left)
            }
        };
        let timeout = timespec
            .as_ref()
            .map_or(ptr::null(), |ts| ts as *const libc::timespec);
        // - `word` is a live, aligned `AtomicU32` for the whole call;
        // - `timeout` is null or points to `timespec`, alive for the call;
        // - uaddr2 is unused by FUTEX_WAIT (null).
        // SAFETY: see SAFETY.md, "Wait layer: OpenBSD futex".
        let r = unsafe {
            libc::futex(
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected as i32,
                timeout,
                ptr::null_mut(),
            )
        };
        if r == 0 {
            return true; // Woken, maybe spuriously: the caller re-checks.
        }
        // A restarted wait (ECANCELED) is retried like a signal (EINTR);
        // the kernel's relative timer is re-checked on our clock.
        let e = match errno() {
            libc::ECANCELED => libc::EINTR,
            e => e,
        };
        if let Some(woken) = after_error(e, deadline) {
            return woken;
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; FUTEX_WAKE reads no other
    // pointer. Waking an address nobody waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: OpenBSD futex".
    let r = unsafe {
        libc::futex(
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            ptr::null(),
            ptr::null_mut(),
        )
    };
    debug_assert!(r >= 0, "futex wake failed: errno {}", errno());
}
