//! wasm32 with the `atomics` target feature (shared memory): the
//! `memory.atomic.wait32` / `memory.atomic.notify` instructions, through
//! `core::arch::wasm32` (as Rust std's `sys/pal/wasm/atomics/futex.rs`).
//!
//! `memory.atomic.wait32` takes a *relative* timeout in nanoseconds (-1:
//! forever) and returns 0 (woken), 1 (value differed) or 2 (timed out). So
//! each round recomputes the time left on our clock, and a "timed out" is
//! re-checked against it. Waiting traps on a thread that may not block (a
//! browser's main thread): as for std's own locks there.
//!
//! The clock: WASI's monotonic clock (`clock_time_get`) on WASI preview 1;
//! elsewhere (wasm32-unknown-unknown with threads) the host has no clock the
//! module can import by a fixed name, so timed waits use the clock
//! registered with `rallypoint::set_clock` (a browser app registers one
//! built on `performance.now()`).
//!
//! Only on nightly: `target_feature = "atomics"` is not visible to `cfg` on
//! stable, and `core::arch::wasm32::memory_atomic_wait32` is unstable
//! (`stdarch_wasm_atomic_wait`, enabled in `lib.rs` for exactly this cfg).

use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::arch::wasm32;
use core::time::Duration;

#[cfg(all(target_os = "wasi", target_env = "p1"))]
pub(super) fn now() -> Duration {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        /// `clock_time_get(id, precision, *time) -> errno` of WASI preview 1.
        fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
    }
    /// `clockid::monotonic`.
    const CLOCK_MONOTONIC: u32 = 1;
    let mut t = 0u64;
    // `t` is a valid, writable u64; the monotonic clock always exists.
    // SAFETY: see SAFETY.md, "Wait layer: clocks".
    let e = unsafe { clock_time_get(CLOCK_MONOTONIC, 1, &mut t) };
    debug_assert_eq!(e, 0, "clock_time_get(monotonic) failed: errno {e}");
    Duration::from_nanos(t)
}

#[cfg(not(all(target_os = "wasi", target_env = "p1")))]
pub(super) fn now() -> Duration {
    super::registered_clock::now()
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let timeout_ns = match deadline {
            None => -1,
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return false;
                }
                // Beyond i64 nanoseconds (292 years): forever.
                i64::try_from(left.as_nanos()).unwrap_or(-1)
            }
        };
        // `word` is a live, 4-aligned `AtomicU32` in linear memory for the
        // whole wait; the instruction only compares and sleeps.
        // SAFETY: see SAFETY.md, "Wait layer: wasm memory.atomic.wait32".
        let r = unsafe {
            wasm32::memory_atomic_wait32(word.as_ptr().cast::<i32>(), expected as i32, timeout_ns)
        };
        // 0: woken; 1: the value differed; 2: the host's timer, after
        // which our clock decides.
        if r != 2 {
            return true;
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, 4-aligned `AtomicU32`; notifying an address nobody
    // waits on returns 0 and does nothing.
    // SAFETY: see SAFETY.md, "Wait layer: wasm memory.atomic.wait32".
    unsafe { wasm32::memory_atomic_notify(word.as_ptr().cast::<i32>(), u32::MAX) };
}
