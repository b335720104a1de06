//! DragonFly BSD: `umtx_sleep(2)` / `umtx_wakeup(2)`.
//!
//! `umtx_sleep(ptr, value, timeout)` takes a *relative* timeout in
//! **microseconds** (0 means forever) and the kernel caps every sleep at
//! `kern.umtx_timeout_max` (2 s by default), reporting a timeout as
//! `EWOULDBLOCK`. So each round recomputes the time left on our clock
//! (`CLOCK_MONOTONIC`), rounds it up to whole microseconds (a zero would
//! mean "forever"), and a kernel timeout only loops: our clock decides.
//! `EBUSY` means the value differed. (Rust std read the timeout as
//! milliseconds until it was fixed the same way.)

use super::unix::errno;
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::time::Duration;

/// Whole microseconds, rounded up (never 0, which means forever), capped
/// at `c_int::MAX` (the kernel caps lower still; we loop).
fn ceil_micros(d: Duration) -> libc::c_int {
    let us = d.as_nanos().div_ceil(1_000).max(1);
    libc::c_int::try_from(us).unwrap_or(libc::c_int::MAX)
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let timeout = match deadline {
            None => 0,
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return false;
                }
                ceil_micros(left)
            }
        };
        // `word` is a live, aligned `AtomicU32` (an `int` to the kernel)
        // for the whole call; no other pointer is passed.
        // SAFETY: see SAFETY.md, "Wait layer: DragonFly umtx".
        let r = unsafe { libc::umtx_sleep(word.as_ptr().cast(), expected as i32, timeout) };
        if r == 0 {
            return true; // Woken, maybe spuriously: the caller re-checks.
        }
        match errno() {
            libc::EBUSY => return true,
            // The kernel's (capped) timer, or a signal: our clock decides.
            libc::EWOULDBLOCK | libc::EINTR => {}
            e => {
                debug_assert!(false, "unexpected umtx_sleep error {e}");
                return true;
            }
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; waking an address nobody
    // waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: DragonFly umtx".
    let r = unsafe { libc::umtx_wakeup(word.as_ptr().cast(), i32::MAX) };
    debug_assert!(r >= 0, "umtx_wakeup failed: errno {}", errno());
}
