//! Windows: `QueryPerformanceCounter`, the clock std's `Instant` reads.
//! `WaitOnAddress` takes relative timeouts, which the backend recomputes
//! from this clock each round (`futex/windows.rs`).

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use windows_sys::Win32::System::Performance::{QueryPerformanceCounter, QueryPerformanceFrequency};

/// Counts per second of QPC, fixed at boot; cached after the first read
/// (0 = not read yet). Relaxed: any thread may compute and store it, and
/// every thread computes the same value.
static QPC_FREQUENCY: AtomicU64 = AtomicU64::new(0);

fn frequency() -> u64 {
    let cached = QPC_FREQUENCY.load(Ordering::Relaxed);
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
    QPC_FREQUENCY.store(f, Ordering::Relaxed);
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
