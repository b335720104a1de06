//! wasm32 with the `atomics` target feature: WASI's monotonic clock
//! (`clock_time_get`) on WASI preview 1; elsewhere (wasm32-unknown-unknown
//! with threads) the host has no clock the module can import by a fixed
//! name, so timed waits use the clock registered with
//! `rallypoint::set_clock` (a browser app registers one built on
//! `performance.now()`).

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
    super::registered::now()
}
