//! OpenBSD: `futex(2)` with `FUTEX_WAIT` / `FUTEX_WAKE`.
//!
//! OpenBSD's `FUTEX_WAIT` takes a *relative* timeout, so each round
//! recomputes the time left on our clock (`CLOCK_MONOTONIC`) and an OS
//! "timed out" is re-checked against it: a retry after `EINTR` never
//! stretches the deadline and an early kernel timeout never ends the wait
//! early. Neither call uses `FUTEX_PRIVATE_FLAG`, like Rust std
//! (`library/std/src/sys/pal/unix/futex.rs`): wait and wake must agree.

use super::unix::{clock, errno};
use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::ptr;
use core::time::Duration;

pub(super) fn now() -> Duration {
    clock(libc::CLOCK_MONOTONIC)
}

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
                libc::time_t::try_from(left.as_secs())
                    .ok()
                    .map(|secs| libc::timespec {
                        tv_sec: secs,
                        tv_nsec: left.subsec_nanos() as _,
                    })
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
        match errno() {
            // The value was not `expected` when the kernel looked.
            libc::EAGAIN => return true,
            // A signal (EINTR), a restarted wait (ECANCELED), or the kernel's
            // relative timer: loop, and let our clock decide.
            libc::EINTR | libc::ECANCELED | libc::ETIMEDOUT => continue,
            e => {
                debug_assert!(false, "unexpected futex wait error {e}");
                return true;
            }
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
