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
//! The clock (`time/clock/wasm.rs`): WASI's monotonic clock on WASI
//! preview 1; elsewhere the clock registered with `rallypoint::set_clock`.
//!
//! Only on nightly: `target_feature = "atomics"` is not visible to `cfg` on
//! stable, and `core::arch::wasm32::memory_atomic_wait32` is unstable
//! (`stdarch_wasm_atomic_wait`, enabled in `lib.rs` for exactly this cfg).

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::arch::wasm32;

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
