//! The no-OS fallback: spin with `core::hint::spin_loop` until the word
//! changes or the deadline passes (like `parking_lot_core`'s generic parker).
//!
//! There is no scheduler to park with, so a waiter burns its core; on a
//! bare-metal target that is the only option. Timed waits need a monotonic
//! clock, which the application registers once with
//! [`set_clock`](crate::set_clock): the crate's clock on this backend
//! (`time/clock.rs`), read here directly so that this file's unit test can
//! run it on any host, with a fake clock. Wakes are no-ops: spinners see the new
//! value by themselves.

use crate::sync::{AtomicU32, Ordering};
use crate::time::{registered_now as now, Deadline};

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
    use core::time::Duration;
    extern crate std;
    use std::thread;

    static FAKE_NANOS: AtomicU64 = AtomicU64::new(1_000);

    fn fake_now() -> Duration {
        Duration::from_nanos(FAKE_NANOS.load(Ordering::SeqCst))
    }

    #[test]
    fn spin_fallback_with_registered_clock() {
        crate::time::set_clock(fake_now);
        assert_eq!(now(), Duration::from_nanos(1_000));

        // Regression: a second clock used to replace the first silently,
        // so deadlines computed on one were compared against the other.
        // The first registration is final; later calls are ignored.
        fn other_clock() -> Duration {
            Duration::from_secs(1_000_000)
        }
        crate::time::set_clock(other_clock);
        assert_eq!(now(), Duration::from_nanos(1_000), "the first clock stays");

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
