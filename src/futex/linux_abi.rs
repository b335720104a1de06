//! Linux, Android and NetBSD: the Linux futex ABI, which NetBSD's
//! `__futex` implements too. The wait loop (`FUTEX_WAIT_BITSET |
//! FUTEX_PRIVATE_FLAG` with an *absolute* `CLOCK_MONOTONIC` deadline) and
//! the wake (`FUTEX_WAKE`) are here, once; each OS's file (`linux.rs`,
//! `netbsd.rs`, compiled as `sys`) spells only its system call.
//!
//! `FUTEX_WAIT_BITSET` takes an absolute deadline (plain `FUTEX_WAIT` takes
//! a relative one, which a retry after `EINTR` would stretch); the all-ones
//! bitset makes it match every `FUTEX_WAKE`. Wait and wake both use
//! `FUTEX_PRIVATE_FLAG`: private and shared futexes hash to different keys,
//! so they must agree. This is what Rust std does
//! (`library/std/src/sys/pal/unix/futex.rs`).

use super::unix::{after_error, errno, timespec};
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;

use sys::futex;

// `futex(word, op, val, timeout) -> bool`: one call of the OS's futex
// system call on `word` with `op`, `val` and `timeout` (its other
// arguments as `FUTEX_WAIT_BITSET` wants them: no second address, the
// all-ones bitset); whether it succeeded (else `errno` says why).
#[cfg(rallypoint_backend = "linux")]
#[path = "linux.rs"]
mod sys;

#[cfg(rallypoint_backend = "netbsd")]
#[path = "netbsd.rs"]
mod sys;

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    // The kernel measures the absolute deadline on CLOCK_MONOTONIC, the
    // crate's clock here (`time/clock.rs`), so a retry never stretches it.
    let timespec = deadline.and_then(|d| timespec(d.since_origin()));
    loop {
        // No need to enter the kernel if the value already moved on.
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let op = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
        if futex(word, op, expected, timespec.as_ref()) {
            return true; // Woken, maybe spuriously: the caller re-checks.
        }
        if let Some(woken) = after_error(errno(), deadline) {
            return woken;
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // Waking an address nobody waits on is harmless.
    let woke = futex(
        word,
        libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
        i32::MAX as u32,
        None,
    );
    debug_assert!(woke, "futex wake failed: errno {}", errno());
}
