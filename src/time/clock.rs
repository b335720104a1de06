//! The crate's monotonic clock, chosen once per target, and [`set_clock`],
//! which registers the clock of targets without an OS.
//!
//! | `rallypoint_backend` | `rallypoint_clock` | Clock |
//! |---|---|---|
//! | (loom) | (ignored) | none: always zero (the models have no time) |
//! | `linux`, `freebsd`, `openbsd`, `netbsd`, `dragonfly`, `emscripten` | `unix` | `clock_gettime(CLOCK_MONOTONIC)` (`clock/unix.rs`) |
//! | `apple` | `unix` | `clock_gettime(CLOCK_UPTIME_RAW)`, std's `Instant` clock (`clock/unix.rs`) |
//! | `windows` | `windows` | `QueryPerformanceCounter` (`clock/windows.rs`) |
//! | `fuchsia` | `fuchsia` | `zx_clock_get_monotonic` (`clock/fuchsia.rs`) |
//! | `wasm` | `wasm` | WASI preview 1's monotonic clock; elsewhere the registered one (`clock/wasm.rs`) |
//! | `fallback` | `instant` | `std::time::Instant`, from the first reading (`clock/instant.rs`) |
//! | `spin` | `registered` | the registered clock (`clock/registered.rs`) |
//!
//! `build.rs` sets both cfgs, the second from the first (a build without
//! it passes both, or stops at a `compile_error!` naming the missing one).
//!
//! Each is the clock the backend's OS measures its own timeouts on, so a
//! kernel deadline and ours agree; the backends still re-check ours before
//! reporting a timeout (`futex/mod.rs`, "Contract").

use core::time::Duration;

// The clock an application registers, read by the targets without an OS
// clock. Compiled everywhere, so that `set_clock` exists on every target.
#[allow(unsafe_code)]
mod registered;

#[cfg(all(
    not(loom),
    not(any(
        rallypoint_clock = "unix",
        rallypoint_clock = "windows",
        rallypoint_clock = "fuchsia",
        rallypoint_clock = "wasm",
        rallypoint_clock = "instant",
        rallypoint_clock = "registered"
    ))
))]
compile_error!(
    "rallypoint: no `rallypoint_clock` cfg: the crate's build script (build.rs) must run; \
     it derives the clock from the wait layer's backend (or pass `--cfg rallypoint_clock=\"...\"` \
     with the name the table in src/time/clock.rs gives for your `rallypoint_backend`)"
);

#[cfg(all(not(loom), rallypoint_clock = "unix"))]
#[allow(unsafe_code)]
#[path = "clock/unix.rs"]
mod os;

#[cfg(all(not(loom), rallypoint_clock = "windows"))]
#[allow(unsafe_code)]
#[path = "clock/windows.rs"]
mod os;

#[cfg(all(not(loom), rallypoint_clock = "fuchsia"))]
#[allow(unsafe_code)]
#[path = "clock/fuchsia.rs"]
mod os;

#[cfg(all(not(loom), rallypoint_clock = "wasm"))]
#[allow(unsafe_code)]
#[path = "clock/wasm.rs"]
mod os;

#[cfg(all(not(loom), rallypoint_clock = "instant"))]
#[path = "clock/instant.rs"]
mod os;

#[cfg(all(not(loom), rallypoint_clock = "registered"))]
use registered as os;

/// The monotonic clock that deadlines are measured on, as time since an
/// arbitrary (per-boot or per-process) origin.
#[inline]
pub(crate) fn now() -> Duration {
    #[cfg(loom)]
    {
        Duration::ZERO
    }
    #[cfg(not(loom))]
    {
        os::now()
    }
}

/// The registered clock, whatever the target: the spin backend's own unit
/// test runs it on every host with a fake clock (`futex/spin.rs`).
#[cfg(any(all(test, not(loom)), rallypoint_backend = "spin"))]
#[inline]
pub(crate) fn registered_now() -> Duration {
    registered::now()
}

/// Registers the monotonic clock that timed waits use on targets where the
/// operating system provides none.
///
/// `now` must return the time since any fixed origin, never going backwards
/// (a hardware timer's tick count converted to a `Duration`, for example).
/// Call it once at start-up, before any timed wait. The first registration
/// is final: every later call is ignored (a deadline computed on one clock
/// cannot be compared with another: it would wake early or very late).
///
/// Where the registered clock is read:
///
/// | Target | Clock of timed waits | `set_clock` |
/// |---|---|---|
/// | No OS (`target_os = "none"`: `thumbv7em-none-eabihf`, `riscv32imac-unknown-none-elf`, …), `wasm32-unknown-unknown`, `wasm64-unknown-unknown`, and any OS built without the `std` feature whose wait layer is the spin backend | the registered clock | **required** before the first timed wait |
/// | Every target with an OS clock: Linux, Android, Windows, Apple, the BSDs, Fuchsia, WASI, Emscripten, and every other OS with `std` | the OS's monotonic clock | a no-op: the clock is stored and never read |
///
/// So code that builds for both firmware and its host (for the firmware's
/// unit tests, say) calls `set_clock` unconditionally.
///
/// # Panics
///
/// Never. But a timed wait (`Barrier::wait_timeout`, a barrier with a
/// default timeout, `Timer::run`, `Timer::wait_timeout`) on a target of the
/// first row panics if no clock was registered.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use core::time::Duration;
///
/// // On a microcontroller this would read a free-running hardware timer;
/// // here a counter that a timer interrupt advances once per millisecond.
/// static MILLIS: AtomicU64 = AtomicU64::new(0);
///
/// fn board_clock() -> Duration {
///     Duration::from_millis(MILLIS.load(Ordering::Relaxed))
/// }
///
/// fn main() {
///     rallypoint::set_clock(board_clock); // once, at start-up
///
///     // The timer interrupt (simulated): 5 ms pass.
///     MILLIS.fetch_add(5, Ordering::Relaxed);
///
///     // Timed waits now work on a target without an OS; with an OS (as
///     // when this example runs as a doctest) the OS clock is used.
///     let barrier = rallypoint::Barrier::new(2);
///     assert!(barrier.wait_timeout(Duration::ZERO).is_err());
/// }
/// ```
#[inline]
pub fn set_clock(now: fn() -> Duration) {
    registered::set(now);
}
