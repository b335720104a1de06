//! Loom models of the TimerQueue protocols: schedule racing cancel racing
//! the driver's fire; cancel of a filed timer (the cancel message) racing
//! the driver; cancel of a repeating timer racing a run (and what `wait`
//! sees after a stop); the driver's park
//! racing a schedule of an earlier timer (no lost wake-up, also on a second
//! park) and a cancel
//! message (the reclaim wake); shutdown racing schedule; a second driver;
//! the queue dropped while a cancel is in flight; `len()` once `wait`
//! returns for a cancelled or discarded timer.
//!
//! Loom has no time: the queue reads a model clock (`loom_clock::set`),
//! and the models use `Duration::ZERO` (due at once), `Duration::MAX`
//! (never due: the driver parks untimed, so only a wake can release it and
//! a lost wake-up is a loom deadlock) and, with `fire_due`, small finite
//! delays the model clock passes.
#![cfg(loom)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rallypoint::{loom_clock, loom_stall, ScheduledTimer, TimerQueue, TimerState};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::BothOutcomes;

/// A function that counts its runs (and holds a loom `Arc`, so a function
/// that is never dropped is reported as a leak).
fn counter() -> (Arc<AtomicUsize>, impl FnMut() + Send + 'static) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    (count, move || {
        c.fetch_add(1, Ordering::Relaxed);
    })
}

/// Checks that a finished one-shot tells the truth.
fn assert_exactly_one(timer: &ScheduledTimer, cancelled: bool, runs: usize) {
    assert!(runs <= 1);
    assert_ne!(
        cancelled,
        runs == 1,
        "cancel() must be true iff the function never ran"
    );
    let expected = if cancelled {
        TimerState::Cancelled
    } else {
        TimerState::Fired
    };
    assert_eq!(timer.state(), expected);
}

#[test]
fn schedule_racing_cancel_racing_fire() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (count, f) = counter();
        let q = Arc::clone(&queue);
        let scheduler = thread::spawn(move || {
            let timer = q.schedule(Duration::ZERO, f);
            let cancelled = timer.cancel();
            (timer, cancelled)
        });
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || {
            q.fire_due();
        });
        let (timer, cancelled) = scheduler.join().unwrap();
        driver.join().unwrap();
        queue.fire_due(); // whatever the driver had not seen yet
        timer.wait();
        // Relaxed: `wait`'s Acquire must make the run visible.
        assert_exactly_one(&timer, cancelled, count.load(Ordering::Relaxed));
        assert_eq!(queue.len(), 0);
    });
}

#[test]
fn cancel_of_a_filed_timer_racing_the_driver() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (count, f) = counter();
        let timer = queue.schedule(Duration::from_nanos(10), f);
        queue.fire_due(); // files it in the wheel
        loom_clock::set(Duration::from_nanos(10)); // now due
        let t = timer.clone();
        let canceller = thread::spawn(move || t.cancel());
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || {
            q.fire_due();
        });
        let cancelled = canceller.join().unwrap();
        driver.join().unwrap();
        queue.fire_due(); // takes the cancel message, if any
        timer.wait();
        assert_exactly_one(&timer, cancelled, count.load(Ordering::Relaxed));
        drop(queue); // frees everything; loom reports a leaked function
    });
}

#[test]
fn cancel_of_a_repeating_timer_racing_a_run() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (count, f) = counter();
        let timer = queue.schedule_repeating(Duration::from_nanos(10), f);
        queue.fire_due(); // files it
        loom_clock::set(Duration::from_nanos(10)); // the first run is due
        let t = timer.clone();
        let canceller = thread::spawn(move || {
            let stopped = t.cancel();
            // Relaxed on purpose: whatever ran before `cancel` returned is
            // all that will ever run.
            (stopped, t)
        });
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || {
            q.fire_due();
        });
        let (stopped, t) = canceller.join().unwrap();
        assert!(stopped, "a pending repeating timer is always stoppable");
        driver.join().unwrap();
        t.wait(); // a run in progress completes
        let runs = count.load(Ordering::Relaxed);
        assert!(runs <= 1);
        assert_eq!(timer.runs(), runs as u64);
        assert_eq!(timer.state(), TimerState::Cancelled);
        loom_clock::set(Duration::from_nanos(1000)); // many periods later
        queue.fire_due();
        assert_eq!(count.load(Ordering::Relaxed), runs, "no run after cancel");
        assert_eq!(queue.len(), 0);
    });
}

#[test]
fn stopping_a_repeating_timer_publishes_the_cancellers_writes() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (_count, f) = counter();
        let timer = queue.schedule_repeating(Duration::from_nanos(10), f);
        queue.fire_due(); // files it
        loom_clock::set(Duration::from_nanos(10)); // the first run is due
        let data = Arc::new(AtomicUsize::new(0));
        let (t, d) = (timer.clone(), Arc::clone(&data));
        let canceller = thread::spawn(move || {
            d.store(1, Ordering::Relaxed);
            assert!(t.cancel(), "a repeating timer is stoppable");
        });
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || {
            q.fire_due();
        });
        // Only the cancel can finish a repeating timer: a stop during the
        // run (`STOPPED`, then the driver's finishing swap) or of a waiting
        // one (the cancel CAS). Either way `wait` returning synchronises
        // with the cancel (Relaxed: only that edge can make it visible).
        timer.wait();
        assert_eq!(
            data.load(Ordering::Relaxed),
            1,
            "wait() returned for a stopped timer without the canceller's write"
        );
        canceller.join().unwrap();
        driver.join().unwrap();
    });
}

#[test]
fn park_racing_an_earlier_schedule_never_loses_the_wake() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let q = Arc::clone(&queue);
        // Nothing due: the driver parks untimed.
        let driver = thread::spawn(move || q.run());
        let (count, f) = counter();
        let timer = queue.schedule(Duration::ZERO, f);
        timer.wait(); // only the driver, woken, can finish it
        assert_eq!(count.load(Ordering::Relaxed), 1);
        queue.shutdown();
        driver.join().unwrap();
    });
}

#[test]
fn a_driver_parked_again_is_woken_again() {
    loom::model(|| {
        // Two rounds of park-then-schedule. The first schedule wakes the
        // driver and marks its park COVERED; the driver then parks again,
        // starting a new epoch (COVERED clear) and storing "never" before
        // its park CAS (Release). The second schedule must see both through
        // its push CAS (Acquire): a stale COVERED says "the driver is
        // already woken", so it would not wake a driver that sleeps forever
        // (a loom deadlock).
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || q.run());
        for _ in 0..2 {
            let (count, f) = counter();
            let timer = queue.schedule(Duration::ZERO, f);
            timer.wait(); // only the driver, woken, can finish it
            assert_eq!(count.load(Ordering::Relaxed), 1);
        }
        queue.shutdown();
        driver.join().unwrap();
    });
}

#[test]
fn cancel_message_wakes_a_parked_driver_to_reclaim() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let timer = queue.schedule(Duration::MAX, || unreachable!());
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || q.run());
        // Races the driver filing it; if filed, the cancel sends a message
        // (and, under loom, wakes a parked driver at once).
        assert!(timer.cancel());
        assert_eq!(timer.state(), TimerState::Cancelled);
        queue.shutdown();
        driver.join().unwrap();
        assert_eq!(queue.len(), 0);
    });
}

#[test]
fn shutdown_racing_schedule() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || q.run());
        let q = Arc::clone(&queue);
        let scheduler = thread::spawn(move || {
            let (count, f) = counter();
            let timer = q.schedule(Duration::MAX, f);
            timer.wait(); // the shutdown must reach it, wherever it is
            assert_eq!(timer.state(), TimerState::Cancelled);
            assert_eq!(count.load(Ordering::Relaxed), 0);
        });
        queue.shutdown();
        scheduler.join().unwrap();
        driver.join().unwrap();
        assert!(queue.is_shut_down());
        assert_eq!(queue.len(), 0);
        let late = queue.schedule(Duration::ZERO, || unreachable!());
        assert_eq!(late.state(), TimerState::Cancelled);
    });
}

#[test]
fn a_second_driver_returns_at_once() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (count, f) = counter();
        let timer = queue.schedule(Duration::ZERO, f);
        let drivers: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&queue);
                thread::spawn(move || q.run())
            })
            .collect();
        timer.wait();
        queue.shutdown();
        for d in drivers {
            d.join().unwrap();
        }
        assert_eq!(count.load(Ordering::Relaxed), 1);
    });
}

/// The timed return path: a `wait_timeout` that returns `true` sees the
/// function's effects (the driver's run races the wait at every step: under
/// loom a finite deadline has always passed); both outcomes must occur.
#[test]
fn a_timed_wait_returning_true_sees_the_functions_effects() {
    static OUTCOMES: BothOutcomes = BothOutcomes::new();
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = TimerQueue::new();
        let (count, f) = counter();
        let timer = queue.schedule(Duration::ZERO, f);
        let t = timer.clone();
        // The waiter is the spawned thread: loom does not run a new thread
        // before its spawner's next step, and the driver has many steps.
        let waiter = thread::spawn(move || {
            let finished = t.wait_timeout(Duration::from_secs(1));
            // Relaxed: only the state word's Release/Acquire orders it.
            (finished, count.load(Ordering::Relaxed))
        });
        queue.fire_due();
        let (finished, runs) = waiter.join().unwrap();
        if finished {
            assert_eq!(
                runs, 1,
                "a timed wait returned true without the function's effects"
            );
        }
        OUTCOMES.record(finished);
        assert_eq!(timer.state(), TimerState::Fired);
    });
    OUTCOMES.assert_both("timed out", "finished");
}

#[test]
fn dropping_the_queue_waits_for_an_inflight_cancel() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = TimerQueue::new();
        let (count, f) = counter();
        let timer = queue.schedule(Duration::from_nanos(10), f);
        queue.fire_due(); // files it: a cancel sends a message
        let t = timer.clone();
        let canceller = thread::spawn(move || t.cancel());
        drop(queue);
        let cancelled = canceller.join().unwrap();
        assert_eq!(timer.state(), TimerState::Cancelled);
        let _ = cancelled; // either the cancel or the drop discarded it
        assert_eq!(count.load(Ordering::Relaxed), 0);
    });
}

/// `len()` counts a cancelled timer out before anyone can see it finished:
/// once `wait()` returns for a timer another thread cancelled, `len()` is 0.
/// Today the canceller decrements `len` after its finishing CAS, so the
/// waiter can see the old count.
#[test]
fn len_is_zero_once_wait_returns_for_a_cancel() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (_count, f) = counter();
        let timer = queue.schedule(Duration::MAX, f); // never due
        queue.fire_due(); // files it: the cancel sends a message
        let t = timer.clone();
        let canceller = thread::spawn(move || assert!(t.cancel()));
        timer.wait();
        assert_eq!(
            queue.len(),
            0,
            "wait() returned for a cancelled timer that len() still counts"
        );
        canceller.join().unwrap();
    });
}

/// The same for the shutdown drain: once `wait()` returns for a timer that
/// another thread's `shutdown()` discarded, `len()` is 0. Today the drain
/// decrements `len` after its cancelling CAS.
#[test]
fn len_is_zero_once_wait_returns_for_a_shutdown() {
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let (_count, f) = counter();
        let timer = queue.schedule(Duration::MAX, f); // never due
        let q = Arc::clone(&queue);
        let stopper = thread::spawn(move || q.shutdown());
        timer.wait();
        assert_eq!(
            queue.len(),
            0,
            "wait() returned for a discarded timer that len() still counts"
        );
        stopper.join().unwrap();
    });
}

#[test]
fn a_stalled_waker_never_delays_another_schedules_wake() {
    // Three threads and a driver loop: bound 2 keeps the model to seconds,
    // and the stall itself needs no preemption (the mutant
    // `tq-wake-marks-covered-before-waking` deadlocks at once).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        // Two schedulers of timers due at once push while the driver parks
        // untimed. One stalls for good right after it moved the driver's
        // futex word on (a preempted thread that never runs again): the
        // other must not count on it to finish the wake, but wake the
        // driver itself (a deadlock otherwise). The old protocol (the first
        // pusher lowers `sleep_until`, later ones compare with the lowered
        // value and skip) deadlocks here.
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let q = Arc::clone(&queue);
        let driver = thread::spawn(move || q.run());
        let q = Arc::clone(&queue);
        let stalled = thread::spawn(move || {
            loom_stall::stall_my_wakes();
            drop(q.schedule(Duration::ZERO, || {}));
        });
        let (count, f) = counter();
        let timer = queue.schedule(Duration::ZERO, f);
        timer.wait(); // only the driver, woken, can finish it
        assert_eq!(count.load(Ordering::Relaxed), 1);
        stalled.join().unwrap();
        queue.shutdown();
        driver.join().unwrap();
    });
}

/// A waker that counts its wakes (a loom atomic in a std `Arc`).
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn an_earlier_schedule_wakes_the_driver_waker_racing_its_replacement() {
    loom::model(|| {
        // An event loop drove the queue with `fire_due` (nothing pending:
        // it sleeps until woken) and now registers a new waker while
        // another thread schedules a timer due at once. Whatever the
        // interleaving, one of the two wakers is woken (the loop looks
        // again), and loom checks the waker cell for concurrent access.
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let old = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        let new = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        queue.set_driver_waker(&std::task::Waker::from(std::sync::Arc::clone(&old)));
        assert_eq!(queue.fire_due(), None);
        let q = Arc::clone(&queue);
        let scheduler = thread::spawn(move || q.schedule(Duration::ZERO, || {}));
        queue.set_driver_waker(&std::task::Waker::from(std::sync::Arc::clone(&new)));
        let timer = scheduler.join().unwrap();
        let woken = old.0.load(Ordering::Relaxed) + new.0.load(Ordering::Relaxed);
        assert!(woken >= 1, "an earlier timer woke neither driver waker");
        assert_eq!(queue.fire_due(), None);
        assert!(timer.is_finished());
    });
}

#[test]
fn a_later_schedule_does_not_wake_the_driver_waker() {
    loom::model(|| {
        // The loop sleeps for a timer due at 10 ns; one due at 20 ns is not
        // earlier and must not wake it (one wake per deadline).
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let waker = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        queue.set_driver_waker(&std::task::Waker::from(std::sync::Arc::clone(&waker)));
        let first = queue.schedule(Duration::from_nanos(10), || {});
        assert_eq!(queue.fire_due(), Some(Duration::from_nanos(10)));
        let q = Arc::clone(&queue);
        let later = thread::spawn(move || q.schedule(Duration::from_nanos(20), || {}))
            .join()
            .unwrap();
        assert_eq!(waker.0.load(Ordering::Relaxed), 0);
        loom_clock::set(Duration::from_nanos(20));
        assert_eq!(queue.fire_due(), None);
        assert!(first.is_finished() && later.is_finished());
    });
}

#[test]
fn a_wake_racing_the_first_registration_reaches_the_new_waker() {
    // Review finding 1b. An event loop did `fire_due` (it sleeps toward
    // 100 ns) and registers its first waker while another thread schedules
    // a 50 ns timer. Whatever the interleaving, the loop must hear of it:
    // its waker is woken. On d7075b3 a wake that completes before the
    // registration reaches no waker and sets COVERED, and the loop sleeps
    // toward 100 ns (every later earlier schedule of this park skips too).
    loom::model(|| {
        loom_clock::set(Duration::ZERO);
        let queue = Arc::new(TimerQueue::new());
        let far = queue.schedule(Duration::from_nanos(100), || {});
        assert_eq!(queue.fire_due(), Some(Duration::from_nanos(100)));
        let q = Arc::clone(&queue);
        let racing = thread::spawn(move || q.schedule(Duration::from_nanos(50), || {}));
        let waker = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
        queue.set_driver_waker(&std::task::Waker::from(std::sync::Arc::clone(&waker)));
        let mid = racing.join().unwrap();
        assert!(
            waker.0.load(Ordering::Relaxed) >= 1,
            "an earlier timer scheduled around the loop's first registration woke nothing"
        );
        loom_clock::set(Duration::from_nanos(100));
        assert_eq!(queue.fire_due(), None);
        assert!(far.is_finished() && mid.is_finished());
    });
}
