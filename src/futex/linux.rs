//! Linux and Android: `futex(2)` with `FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG`.
//!
//! `FUTEX_WAIT_BITSET` takes an *absolute* `CLOCK_MONOTONIC` deadline (plain
//! `FUTEX_WAIT` takes a relative one, which a retry after `EINTR` would
//! stretch); the all-ones bitset makes it match every `FUTEX_WAKE`. Wait and
//! wake both use `FUTEX_PRIVATE_FLAG`: private and shared futexes hash to
//! different keys, so they must agree. This is what Rust std does
//! (`library/std/src/sys/pal/unix/futex.rs`).

use super::unix::{clock, errno};
use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::ptr;
use core::time::Duration;

// riscv32 Linux has only the 64-bit-time futex syscall.
#[cfg(not(target_arch = "riscv32"))]
use libc::SYS_futex as SYS_FUTEX;
#[cfg(target_arch = "riscv32")]
use libc::SYS_futex_time64 as SYS_FUTEX;

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
        // No need to enter the kernel if the value already moved on.
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        // - `word` is a live, aligned `AtomicU32` for the whole call, since
        //   we hold a shared reference to it;
        // - `timeout` is null or points to `timespec`, which outlives the call;
        // - uaddr2 is unused by FUTEX_WAIT_BITSET (null), val3 is the bitset.
        // SAFETY: see SAFETY.md, "Wait layer: Linux futex".
        let r = unsafe {
            libc::syscall(
                SYS_FUTEX,
                word.as_ptr(),
                libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
                expected,
                timeout,
                ptr::null::<u32>(),
                !0u32,
            )
        };
        if r >= 0 {
            return true; // Woken (or spuriously: the caller re-checks).
        }
        match errno() {
            // The kernel measured the absolute deadline on CLOCK_MONOTONIC,
            // the clock `now()` reads, so this is a real timeout.
            libc::ETIMEDOUT => return false,
            // A signal: retry with the same absolute deadline.
            libc::EINTR => continue,
            // The value was not `expected` when the kernel looked.
            libc::EAGAIN => return true,
            e => {
                debug_assert!(false, "unexpected futex wait error {e}");
                return true;
            }
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; FUTEX_WAKE reads no other
    // argument. Waking an address nobody waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: Linux futex".
    let r = unsafe {
        libc::syscall(
            SYS_FUTEX,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
    debug_assert!(r >= 0, "futex wake failed: errno {}", errno());
}
