//! Windows: `WaitOnAddress` / `WakeByAddressAll`.
//!
//! `WaitOnAddress` takes a *relative* timeout in whole milliseconds and may
//! return early (its timer ticks at ~15.6 ms by default) or spuriously. So
//! each round recomputes the time left on our own clock
//! (`QueryPerformanceCounter`, `time/clock/windows.rs`), rounds it **up** to whole milliseconds (a
//! floor would turn sub-millisecond waits into a busy spin), caps it below
//! `INFINITE` (std maps anything over ~49.7 days to `INFINITE`, which would
//! make a 60-day timer never fire; we wait in chunks instead), and on
//! `ERROR_TIMEOUT` re-checks the deadline rather than trusting the OS.

use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::ffi::c_void;
use core::time::Duration;
use windows_sys::Win32::Foundation::{GetLastError, ERROR_TIMEOUT};
use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressAll, INFINITE};

/// The longest single wait: just under `INFINITE`, never equal to it.
const MAX_CHUNK_MS: u32 = INFINITE - 1;

/// Whole milliseconds, rounded up, capped at [`MAX_CHUNK_MS`].
fn ceil_millis(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(MAX_CHUNK_MS).min(MAX_CHUNK_MS)
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let millis = match deadline {
            None => INFINITE,
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return false;
                }
                ceil_millis(left)
            }
        };
        // - `word` is a live, aligned `AtomicU32` for the whole call;
        // - the compare address points to `expected`, 4 bytes like the word.
        // SAFETY: see SAFETY.md, "Wait layer: Windows WaitOnAddress".
        let woken = unsafe {
            WaitOnAddress(
                word.as_ptr() as *const c_void,
                &expected as *const u32 as *const c_void,
                4,
                millis,
            )
        };
        if woken != 0 {
            return true; // Woken, or returned "for other reasons": re-check.
        }
        // Reads this thread's last-error value; no preconditions.
        // SAFETY: see SAFETY.md, "Wait layer: Windows WaitOnAddress".
        let error = unsafe { GetLastError() };
        if error != ERROR_TIMEOUT {
            debug_assert!(false, "unexpected WaitOnAddress error {error}");
            return true;
        }
        // Timed out by the OS's tick: loop, and let our own clock decide.
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live `AtomicU32`; waking an address nobody waits
    // on does nothing.
    // SAFETY: see SAFETY.md, "Wait layer: Windows WaitOnAddress".
    unsafe { WakeByAddressAll(word.as_ptr() as *const c_void) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_up_and_never_reach_infinite() {
        assert_eq!(ceil_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_millis(Duration::from_millis(5)), 5);
        assert_eq!(ceil_millis(Duration::from_micros(5_001)), 6);
        assert_eq!(ceil_millis(Duration::from_secs(60 * 86_400)), MAX_CHUNK_MS);
        assert_eq!(ceil_millis(Duration::MAX), MAX_CHUNK_MS);
    }
}
