//! The no-OS fallback: spin with `core::hint::spin_loop` until the word
//! changes or the deadline passes (like `parking_lot_core`'s generic parker).
//!
//! There is no scheduler to park with, so a waiter burns its core; on a
//! bare-metal target that is the only option. Timed waits need a monotonic
//! clock, which the application registers once with [`set_clock`]. Wakes are
//! no-ops: spinners see the new value by themselves.

use super::Deadline;
use crate::sync::{AtomicU32, Ordering};
use core::sync::atomic::AtomicPtr;
use core::time::Duration;

/// The registered clock, as a type-erased `fn() -> Duration` (null: none).
/// Release in `set_clock` pairs with Acquire in `now`.
static CLOCK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Registers the monotonic clock that timed waits use on targets without an
/// operating system.
///
/// `now` must return the time since any fixed origin, never going backwards
/// (a hardware timer's tick count converted to a `Duration`, for example).
/// Call it once at start-up, before any timed wait; a later call replaces the
/// clock for waits that start afterwards.
///
/// # Panics
///
/// Never. But a timed wait (`Barrier::wait_timeout`, a barrier with a
/// default timeout, `Timer::run`, `Timer::wait_timeout`) on such a target
/// panics if no clock was registered.
///
/// # Examples
///
/// ```ignore
/// // On a Cortex-M with a 1 MHz free-running timer:
/// fn micros() -> core::time::Duration {
///     core::time::Duration::from_micros(my_hal::timer_ticks())
/// }
/// rallypoint::set_clock(micros);
/// ```
pub fn set_clock(now: fn() -> Duration) {
    // Pairs with the Acquire load in `now`.
    CLOCK.store(now as *mut (), Ordering::Release);
}

pub(super) fn now() -> Duration {
    // Pairs with the Release store in `set_clock`.
    let clock = CLOCK.load(Ordering::Acquire);
    assert!(
        !clock.is_null(),
        "rallypoint: a timed wait on a target without an OS needs a clock; \
         call rallypoint::set_clock(now) once at start-up"
    );
    // The only non-null value ever stored is a `fn() -> Duration`
    // cast to a pointer in `set_clock`.
    // SAFETY: see SAFETY.md, "Wait layer: no-OS clock".
    let clock = unsafe { core::mem::transmute::<*mut (), fn() -> Duration>(clock) };
    clock()
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        if let Some(d) = deadline {
            if now() >= d.since_origin() {
                return false;
            }
        }
        core::hint::spin_loop();
    }
}

pub(super) fn wake_all(_word: &AtomicU32) {}

#[cfg(test)]
mod tests {
    //! Runs on the host: the code bare-metal users get, with a fake clock.
    use super::*;
    use core::sync::atomic::AtomicU64;
    extern crate std;
    use std::thread;

    static FAKE_NANOS: AtomicU64 = AtomicU64::new(1_000);

    fn fake_now() -> Duration {
        Duration::from_nanos(FAKE_NANOS.load(Ordering::SeqCst))
    }

    #[test]
    fn spin_fallback_with_registered_clock() {
        set_clock(fake_now);
        assert_eq!(now(), Duration::from_nanos(1_000));

        // A stale value returns at once.
        let word = AtomicU32::new(1);
        assert!(wait(&word, 0, None));

        // A timed wait returns false only once the fake clock passes the deadline.
        let deadline = Deadline::at(now() + Duration::from_secs(5));
        thread::scope(|s| {
            let waiter = s.spawn(|| wait(&word, 1, Some(deadline)));
            thread::sleep(Duration::from_millis(20));
            assert!(!waiter.is_finished(), "returned before the clock moved");
            FAKE_NANOS.fetch_add(4_000_000_000, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(20));
            assert!(!waiter.is_finished(), "returned 1 s before the deadline");
            FAKE_NANOS.fetch_add(1_000_000_000, Ordering::SeqCst);
            assert!(
                !waiter.join().unwrap(),
                "deadline passed: must report a timeout"
            );
        });

        // A store releases an untimed spinner (wake is a no-op here).
        thread::scope(|s| {
            let waiter = s.spawn(|| wait(&word, 1, None));
            thread::sleep(Duration::from_millis(10));
            word.store(2, Ordering::Relaxed);
            wake_all(&word);
            assert!(waiter.join().unwrap());
        });
    }
}
