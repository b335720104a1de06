//! Emscripten with the `atomics` target feature (pthreads):
//! `emscripten_futex_wait` / `emscripten_futex_wake`, as Rust std does
//! (`library/std/src/sys/pal/unix/futex.rs`).
//!
//! `emscripten_futex_wait` takes a *relative* timeout in milliseconds as a
//! `double` (infinity: forever) and returns 0 or `-errno` (`-ETIMEDOUT`,
//! `-EWOULDBLOCK` when the value differed). Each round recomputes the time
//! left on our clock (`clock_gettime(CLOCK_MONOTONIC)`, which Emscripten
//! implements with `performance.now()`), and a "timed out" is re-checked.
//!
//! Only on nightly: `target_feature = "atomics"` is not visible to `cfg` on
//! stable; Emscripten built there takes the std fallback backend.

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;

extern "C" {
    fn emscripten_futex_wait(
        addr: *const u32,
        val: libc::c_uint,
        max_wait_ms: libc::c_double,
    ) -> libc::c_int;
    fn emscripten_futex_wake(addr: *const u32, count: libc::c_int) -> libc::c_int;
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let ms = match deadline {
            None => f64::INFINITY,
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return false;
                }
                left.as_secs_f64() * 1000.0
            }
        };
        // `word` is a live, aligned `AtomicU32` for the whole call.
        // SAFETY: see SAFETY.md, "Wait layer: Emscripten futex".
        let r = unsafe { emscripten_futex_wait(word.as_ptr(), expected, ms) };
        if r == 0 || r == -libc::EWOULDBLOCK {
            return true;
        }
        // -ETIMEDOUT (our clock decides) or -EINTR: loop.
        debug_assert!(
            r == -libc::ETIMEDOUT || r == -libc::EINTR,
            "unexpected emscripten_futex_wait result {r}"
        );
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; waking an address nobody
    // waits on is harmless.
    // SAFETY: see SAFETY.md, "Wait layer: Emscripten futex".
    let r = unsafe { emscripten_futex_wake(word.as_ptr(), i32::MAX) };
    debug_assert!(r >= 0, "emscripten_futex_wake failed: {r}");
}
