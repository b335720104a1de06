//! Windows: `WaitOnAddress` / `WakeByAddressAll`.
//!
//! `WaitOnAddress` takes a *relative* timeout in whole milliseconds and may
//! return early (its timer ticks at ~15.6 ms by default) or spuriously. So
//! each round recomputes the time left on our own clock
//! (`QueryPerformanceCounter`), rounds it **up** to whole milliseconds (a
//! floor would turn sub-millisecond waits into a busy spin), caps it below
//! `INFINITE` (std maps anything over ~49.7 days to `INFINITE`, which would
//! make a 60-day timer never fire; we wait in chunks instead), and on
//! `ERROR_TIMEOUT` re-checks the deadline rather than trusting the OS.

use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::ffi::c_void;
use core::sync::atomic::AtomicU64;
use core::time::Duration;
use windows_sys::Win32::Foundation::{GetLastError, ERROR_TIMEOUT};
use windows_sys::Win32::System::Performance::{QueryPerformanceCounter, QueryPerformanceFrequency};
use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressAll, INFINITE};

/// The longest single wait: just under `INFINITE`, never equal to it.
const MAX_CHUNK_MS: u32 = INFINITE - 1;

/// Counts per second of QPC, fixed at boot; cached after the first read
/// (0 = not read yet). Relaxed: any thread may compute and store it, and
/// every thread computes the same value.
static QPC_FREQUENCY: AtomicU64 = AtomicU64::new(0);

fn frequency() -> u64 {
    let cached = QPC_FREQUENCY.load(core::sync::atomic::Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    let mut f = 0i64;
    // `f` is a valid, writable i64; the call cannot fail on XP or
    // later.
    // SAFETY: see SAFETY.md, "Wait layer: clocks".
    let ok = unsafe { QueryPerformanceFrequency(&mut f) };
    debug_assert!(ok != 0 && f > 0, "QueryPerformanceFrequency failed");
    let f = (f as u64).max(1);
    QPC_FREQUENCY.store(f, core::sync::atomic::Ordering::Relaxed);
    f
}

pub(super) fn now() -> Duration {
    let mut c = 0i64;
    // `c` is a valid, writable i64; the call cannot fail on XP or
    // later.
    // SAFETY: see SAFETY.md, "Wait layer: clocks".
    let ok = unsafe { QueryPerformanceCounter(&mut c) };
    debug_assert!(ok != 0, "QueryPerformanceCounter failed");
    let (c, f) = (c as u64, frequency());
    // Split to avoid overflowing `c * 1e9` (u128 would do, but this is cheaper).
    let secs = c / f;
    let nanos = ((c % f) as u128 * 1_000_000_000 / f as u128) as u32;
    Duration::new(secs, nanos)
}

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
