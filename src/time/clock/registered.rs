//! The clock an application registers with [`set_clock`](super::set_clock),
//! for the targets without an OS clock (the spin backend, and wasm
//! off WASI: `clock/wasm.rs`). Compiled on every target so that `set_clock` exists
//! everywhere; where the OS provides a clock, nothing reads it.

use core::sync::atomic::{AtomicPtr, Ordering};
use core::time::Duration;

/// The registered clock, as a type-erased `fn() -> Duration` (null: none).
/// Release in `set` pairs with Acquire in `now`.
static CLOCK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Registers `clock` (see `set_clock`'s docs): the first call wins and
/// every later call is ignored, because deadlines already computed on the
/// first clock would otherwise be compared against a second one (an early
/// or very late wake-up). Later calls are not compared with the first:
/// Rust does not promise that one function has one address.
pub(super) fn set(clock: fn() -> Duration) {
    // Release pairs with the Acquire load in `now`. On failure a clock is
    // already registered and nothing is decided from it: Relaxed.
    let _ = CLOCK.compare_exchange(
        core::ptr::null_mut(),
        clock as *mut (),
        Ordering::Release,
        Ordering::Relaxed,
    );
}

/// The registered clock's reading.
///
/// # Panics
///
/// If no clock was registered: a timed wait cannot be measured.
#[allow(dead_code)] // read only on targets without an OS clock
pub(super) fn now() -> Duration {
    // Pairs with the Release store in `set`.
    let clock = CLOCK.load(Ordering::Acquire);
    assert!(
        !clock.is_null(),
        "rallypoint: a timed wait on a target without an OS clock needs one; \
         call rallypoint::set_clock(now) once at start-up"
    );
    // The only non-null value ever stored is a `fn() -> Duration`
    // cast to a pointer in `set`.
    // SAFETY: see SAFETY.md, "Wait layer: no-OS clock".
    let clock = unsafe { core::mem::transmute::<*mut (), fn() -> Duration>(clock) };
    clock()
}
