//! `TimerQueue` regression tests (issue 19): a shutdown drain that a
//! panicking destructor cut short; a panicking destructor that killed the
//! driver thread; `fire_due` calls that never returned or returned the
//! delay to a wheel boundary instead of the deadline; `shutdown` returning
//! before its drain; `runs()` without `std`; `wait` from a timer's own
//! queue. Each test asserts the fixed behaviour and is bounded (a watchdog,
//! `join_within`, `wait_timeout`): a defect fails it, never hangs it.
//!
//! Allocation: tests/timer_queue_alloc.rs. The global queue's shutdown
//! guard: tests/timer_queue_global_guard.rs (its own binary). Loom:
//! loom-tests/timer_queue.rs.
#![cfg(all(not(loom), feature = "alloc"))] // Loom runs loom-tests/ only; one test here needs no `std`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use rallypoint::{ScheduledTimer, TimerQueue, TimerState};
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
#[cfg(feature = "std")]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;
#[cfg(feature = "std")]
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for something that must happen: a defect fails
/// the test after this instead of hanging it. 30 s, not less: under
/// AddressSanitizer on 2 busy cores a deliberate panic's backtrace takes
/// seconds to symbolise (a 10 s bound failed there), and every defect these
/// tests catch makes the wait last for ever, so nothing is lost.
const PATIENCE: Duration = Duration::from_secs(30);

const HOUR: Duration = Duration::from_secs(3600);

/// Silences the panics these tests cause on purpose (messages starting
/// with "deliberate").
fn silence_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !message(info.payload()).starts_with("deliberate") {
                default(info);
            }
        }));
    });
}

/// A panic payload's text (`&str` or `String`), or "".
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// A value whose destructor panics (unless the thread is already
/// unwinding: a second panic would abort the test binary).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("deliberate: a timer function's captured value panics in drop");
        }
    }
}

/// A value whose destructor is slow (200 ms): it says when it starts and
/// when it is done.
#[cfg(feature = "std")]
struct SlowDrop {
    entered: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

#[cfg(feature = "std")]
impl Drop for SlowDrop {
    fn drop(&mut self) {
        self.entered.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(200));
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Owns a value, but leaks it instead of dropping it while a failed
/// assertion unwinds: a queue whose drain a panic cut short panics again
/// in its `Drop` today, and a panic while unwinding aborts the binary.
struct LeakOnPanic<T>(Option<T>);

impl<T> LeakOnPanic<T> {
    fn into_inner(mut self) -> T {
        self.0.take().unwrap()
    }
}

impl<T> core::ops::Deref for LeakOnPanic<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().unwrap()
    }
}

impl<T> Drop for LeakOnPanic<T> {
    fn drop(&mut self) {
        if thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

/// A queue driven by `run()` on a thread of its own (not scoped: a test
/// that fails must not wait for a driver that hangs), already driving when
/// this returns. The thread returns `run()`'s panic, if any.
#[cfg(feature = "std")]
fn driven() -> (Arc<TimerQueue>, thread::JoinHandle<thread::Result<()>>) {
    let queue = Arc::new(TimerQueue::new());
    let q = Arc::clone(&queue);
    let driver = thread::spawn(move || panic::catch_unwind(AssertUnwindSafe(|| q.run())));
    let warm_up = queue.schedule(Duration::ZERO, || {});
    assert!(warm_up.wait_timeout(PATIENCE), "the driver never started");
    (queue, driver)
}

/// Shuts a [`driven`] queue down and joins its driver.
#[cfg(feature = "std")]
fn stop(queue: &TimerQueue, driver: thread::JoinHandle<thread::Result<()>>) {
    queue.shutdown();
    let _ = common::join_within(driver, PATIENCE, "the driver thread after shutdown()");
}

/// Schedules, all due in an hour: four ordinary timers, one whose function
/// captures a [`PanicOnDrop`], four more ordinary ones, calling `filed`
/// after each. The drain takes each wheel slot's list from its front, and
/// a driver files each take's timers at the front in schedule order: with
/// no driver (one take) the list is [1-4, bomb, 5-8]; with a driver that
/// `filed` makes take each timer on its own, [8-5, bomb, 4-1]. Either
/// way some ordinary timer comes after the panicking one.
fn around_a_panicking_drop(
    queue: &TimerQueue,
    filed: impl Fn(),
) -> (Vec<ScheduledTimer>, ScheduledTimer) {
    let ordinary = || {
        let t = queue.schedule(HOUR, || {});
        filed();
        t
    };
    let mut timers: Vec<_> = (0..4).map(|_| ordinary()).collect();
    let bomb = PanicOnDrop;
    let a = queue.schedule(HOUR, move || {
        std::hint::black_box(&bomb);
    });
    filed();
    timers.extend((0..4).map(|_| ordinary()));
    (timers, a)
}

/// For [`around_a_panicking_drop`] on a [`driven`] queue: returns once the
/// driver has taken every timer scheduled before (a timer due at once wakes
/// it, and it takes the whole inbox before firing that one).
#[cfg(feature = "std")]
fn taken_by_the_driver(queue: &TimerQueue) {
    let probe = queue.schedule(Duration::ZERO, || {});
    assert!(probe.wait_timeout(PATIENCE), "the driver is not running");
}

// ---------------------------------------------------------------- 1. unwind-safe drains

/// A destructor that panics in the shutdown drain (no driver running) must
/// not cut the drain short: `shutdown()` cancels every timer, releases the
/// driver role, and only then resumes the panic. Today the drain stops at
/// the panic and the timers after it stay `Waiting` for ever (their
/// `cancel()` still returns true).
#[test]
fn shutdown_drain_cancels_every_timer_past_a_panicking_destructor() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let queue = LeakOnPanic(Some(TimerQueue::new()));
    let (ordinary, a) = around_a_panicking_drop(&queue, || {});
    let shutdown = panic::catch_unwind(AssertUnwindSafe(|| queue.shutdown()));
    let payload = shutdown.expect_err("shutdown() resumes the destructor's panic");
    assert!(message(&*payload).starts_with("deliberate"));
    assert_eq!(a.state(), TimerState::Cancelled);
    for (i, b) in ordinary.iter().enumerate() {
        assert_eq!(
            b.state(),
            TimerState::Cancelled,
            "timer {i} of 8: not discarded by the drain a panicking destructor cut short"
        );
        assert!(!b.cancel(), "timer {i}: cancel() after shutdown()");
        assert!(b.wait_timeout(Duration::from_secs(1)));
    }
    assert_eq!(queue.len(), 0);
    drop(queue.into_inner());
    for b in &ordinary {
        assert!(!b.cancel());
        assert_eq!(b.state(), TimerState::Cancelled);
    }
}

/// Dropping a queue whose shutdown drain a panicking destructor cut short
/// must leave its timers' handles safe to use. Today the drain leaves the
/// driver role taken and the later timers linked: in a debug build the
/// queue's `Drop` panics ("a dropped queue has no driver") and leaks; in a
/// release build it frees the queue's shared state, and a later `cancel()`
/// writes to it: a heap-use-after-free under AddressSanitizer.
#[test]
fn dropping_the_queue_after_a_panicked_drain_leaves_handles_safe() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let queue = TimerQueue::new();
    let (ordinary, _a) = around_a_panicking_drop(&queue, || {});
    let _ = panic::catch_unwind(AssertUnwindSafe(|| queue.shutdown()));
    let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(queue)));
    if let Err(payload) = &dropped {
        panic!(
            "dropping the queue panicked: {:?}",
            message(payload.as_ref())
        );
    }
    for (i, b) in ordinary.iter().enumerate() {
        assert!(!b.cancel(), "timer {i}: cancel() after the queue's drop");
        assert_eq!(b.state(), TimerState::Cancelled, "timer {i}");
    }
}

/// The same panicking destructor met by the driver's exit drain (`run()`
/// on its own thread, `shutdown()` from another): every timer is still
/// finished, and dropping the queue afterwards is safe. Today the driver
/// thread dies half way through the drain and the later timers stay
/// `Waiting` for ever.
#[cfg(feature = "std")]
#[test]
fn run_exit_drain_cancels_every_timer_past_a_panicking_destructor() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let (queue, driver) = driven();
    let queue = LeakOnPanic(Some(queue));
    let (ordinary, a) = around_a_panicking_drop(&queue, || taken_by_the_driver(&queue));
    // Either thread may report the destructor's panic.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| queue.shutdown()));
    let _ = common::join_within(driver, PATIENCE, "the driver thread after shutdown()");
    assert!(a.wait_timeout(PATIENCE));
    for (i, b) in ordinary.iter().enumerate() {
        assert!(
            b.wait_timeout(PATIENCE),
            "timer {i} of 8: still {:?} {PATIENCE:?} after shutdown(): the driver's drain \
             stopped at the panicking destructor",
            b.state()
        );
        assert_eq!(b.state(), TimerState::Cancelled);
        assert!(!b.cancel());
    }
    let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(queue.into_inner())));
    assert!(dropped.is_ok(), "dropping the queue panicked");
    for b in &ordinary {
        assert!(!b.cancel());
        assert_eq!(b.state(), TimerState::Cancelled);
    }
}

// ---------------------------------------------------------------- 2. destructors never kill the driver

/// Waits for `timer` to finish, then checks that `queue`'s driver is alive:
/// a one-shot scheduled afterwards fires.
#[cfg(feature = "std")]
fn assert_driver_survives(queue: &TimerQueue, timer: &ScheduledTimer, what: &str) {
    assert!(timer.wait_timeout(PATIENCE), "{what}: never finished");
    let later = queue.schedule(Duration::ZERO, || {});
    assert!(
        later.wait_timeout(PATIENCE),
        "{what}: a timer scheduled afterwards did not fire within {PATIENCE:?}: \
         the panicking destructor killed the driver thread"
    );
}

/// A repeating timer (1 ms) that cancels itself from its own function,
/// which captures a [`PanicOnDrop`].
#[cfg(feature = "std")]
fn self_cancelling_with_a_panicking_drop(queue: &TimerQueue) -> ScheduledTimer {
    let me: Arc<OnceLock<ScheduledTimer>> = Arc::default();
    let (m, bomb) = (Arc::clone(&me), PanicOnDrop);
    let timer = queue.schedule_repeating(Duration::from_millis(1), move || {
        std::hint::black_box(&bomb);
        if let Some(me) = m.get() {
            me.cancel();
        }
    });
    assert!(me.set(timer.clone()).is_ok());
    timer
}

/// A repeating timer that cancels itself from inside its function, whose
/// captured value's destructor panics: the driver catches that panic too
/// and keeps going. Today the destructor runs outside the driver's
/// `catch_unwind` and the panic kills the driver thread.
#[cfg(feature = "std")]
#[test]
fn a_self_cancelled_timers_panicking_destructor_does_not_kill_the_driver() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let (queue, driver) = driven();
    let timer = self_cancelling_with_a_panicking_drop(&queue);
    assert_driver_survives(&queue, &timer, "a self-cancelled timer");
    assert_eq!(timer.state(), TimerState::Cancelled);
    stop(&queue, driver);
}

/// As above, on `TimerQueue::global()`: its driver thread survives. Today
/// the global driver thread dies (the only test of this binary that uses
/// the global queue, so that no other is hit by it).
#[cfg(feature = "std")]
#[test]
#[cfg_attr(
    miri,
    ignore = "the global driver thread outlives main, which Miri reports as a leak"
)]
fn a_self_cancelled_timers_panicking_destructor_does_not_kill_the_global_driver() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let queue = TimerQueue::global();
    let timer = self_cancelling_with_a_panicking_drop(queue);
    assert_driver_survives(queue, &timer, "a self-cancelled timer on the global queue");
}

/// A repeating timer whose function panics, and whose captured value's
/// destructor panics too when the stopped timer drops it: the first panic
/// is reported through `join`, the second is caught, the driver goes on.
/// Today the second panic kills the driver thread.
#[cfg(feature = "std")]
#[test]
fn a_panicking_function_with_a_panicking_destructor_does_not_kill_the_driver() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let (queue, driver) = driven();
    let bomb = PanicOnDrop;
    let timer = queue.schedule_repeating(Duration::from_millis(1), move || {
        std::hint::black_box(&bomb);
        panic!("deliberate: a repeating timer's function panics");
    });
    assert_driver_survives(&queue, &timer, "a panicking repeating timer");
    assert_eq!(timer.state(), TimerState::Fired);
    let payload = timer.join().expect_err("the function panicked");
    assert_eq!(
        message(&*payload),
        "deliberate: a repeating timer's function panics"
    );
    stop(&queue, driver);
}

/// A repeating timer stopped by `cancel()` from another thread while a run
/// is in progress, whose captured value's destructor panics when the
/// driver drops it after that run: the driver catches it and goes on.
/// Today the panic kills the driver thread.
#[cfg(feature = "std")]
#[test]
fn a_stop_during_a_run_with_a_panicking_destructor_does_not_kill_the_driver() {
    silence_deliberate_panics();
    let _dog = common::watchdog();
    let (queue, driver) = driven();
    let gate = Arc::new(common::Gate::default());
    let (g, bomb) = (Arc::clone(&gate), PanicOnDrop);
    let timer = queue.schedule_repeating(Duration::from_millis(1), move || {
        std::hint::black_box(&bomb);
        g.hold();
    });
    gate.wait_entered();
    assert!(timer.cancel(), "stops a running repeating timer");
    gate.open();
    assert_driver_survives(&queue, &timer, "a timer stopped during a run");
    assert_eq!(timer.state(), TimerState::Cancelled);
    stop(&queue, driver);
}

// ---------------------------------------------------------------- 3. fire_due returns

/// Runs `fire_due` on a thread of its own and waits for it (bounded).
#[cfg(feature = "std")]
fn fire_due_within(queue: &'static TimerQueue) -> Option<Duration> {
    let call = thread::spawn(move || queue.fire_due());
    common::join_within(call, PATIENCE, "fire_due()")
}

/// How many runs a runaway `fire_due` gets before the test's functions
/// stop themselves (so that today's defect is an assertion, not a hang).
#[cfg(feature = "std")]
const RUNAWAY: usize = 100_000;

/// One `fire_due()` fires what is due once and returns, even for a
/// repeating timer whose period (1 ns) has passed again by the time each
/// run ends. Today it keeps firing that timer for ever (here: until the
/// function stops itself after [`RUNAWAY`] runs).
#[cfg(feature = "std")]
#[test]
fn fire_due_returns_with_a_1ns_repeating_timer_due() {
    let _dog = common::watchdog();
    static QUEUE: TimerQueue = TimerQueue::new();
    let me: Arc<OnceLock<ScheduledTimer>> = Arc::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let (m, r) = (Arc::clone(&me), Arc::clone(&runs));
    let timer = QUEUE.schedule_repeating(Duration::from_nanos(1), move || {
        if r.fetch_add(1, Ordering::SeqCst) + 1 >= RUNAWAY {
            m.get().unwrap().cancel();
        }
    });
    assert!(me.set(timer.clone()).is_ok());
    fire_due_within(&QUEUE);
    assert!(
        timer.runs() <= 2,
        "one fire_due() call ran a 1 ns repeating timer {} times",
        timer.runs()
    );
    timer.cancel();
}

/// Schedules a timer due at once whose function schedules the next one,
/// [`RUNAWAY`] timers in all.
#[cfg(feature = "std")]
fn chain(queue: &'static TimerQueue, runs: &'static AtomicUsize) {
    drop(queue.schedule(Duration::ZERO, move || {
        if runs.fetch_add(1, Ordering::SeqCst) + 1 < RUNAWAY {
            chain(queue, runs);
        }
    }));
}

/// One `fire_due()` returns even when each function it fires schedules a
/// new timer due at once on the same queue: it runs at most what was due
/// when it began (plus one). Today it keeps taking the new ones for ever
/// (here: until the chain stops after [`RUNAWAY`] links).
#[cfg(feature = "std")]
#[test]
fn fire_due_returns_when_functions_schedule_timers_due_at_once() {
    let _dog = common::watchdog();
    static QUEUE: TimerQueue = TimerQueue::new();
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    chain(&QUEUE, &RUNS);
    fire_due_within(&QUEUE);
    let runs = RUNS.load(Ordering::SeqCst);
    assert!(
        runs <= 2,
        "one fire_due() call ran {runs} timers, each scheduled by the one before"
    );
    QUEUE.shutdown();
}

// ---------------------------------------------------------------- 4. fire_due's delay

/// `fire_due()` returns the delay to the earliest deadline itself, not to
/// the start of the wheel slot that holds it (up to a slot early: ~6 ms for
/// a timer 100 ms away, ~0.5 s for one 6 s away). Checked as "the deadline
/// the returned delay names is not before the timer's due time" (1 ms for
/// clock rounding), which holds however late the call returns; three fresh
/// queues per delay, so that no slot boundary hides the defect.
#[test]
fn fire_due_returns_the_delay_to_the_deadline_itself() {
    for delay in [Duration::from_millis(100), Duration::from_secs(6)] {
        for _ in 0..3 {
            let queue = TimerQueue::new();
            let before = Instant::now();
            let _timer = queue.schedule(delay, || {});
            let d = queue.fire_due().expect("a timer is pending");
            let after = Instant::now();
            assert!(
                d <= delay,
                "fire_due() returned {d:?} for a {delay:?} timer"
            );
            let named = after + d + Duration::from_millis(1);
            assert!(
                named >= before + delay,
                "fire_due() returned {d:?} for a timer due in {delay:?}: a deadline {:?} early",
                before + delay - named
            );
        }
    }
}

/// An event loop on `fire_due` (sleep for the returned delay, call again)
/// over 8 one-shots due at 10, 20, ..., 80 ms takes one turn per deadline
/// (at most 8 + 2 calls), and no timer fires before its due time. Today
/// each call returns the delay to a wheel slot boundary and the loop turns
/// about 20 times.
#[cfg(feature = "std")]
#[test]
fn an_event_loop_on_fire_due_turns_once_per_deadline() {
    let _dog = common::watchdog();
    let queue = TimerQueue::new();
    let early = Arc::new(AtomicUsize::new(0));
    let timers: Vec<_> = (1..=8u32)
        .map(|k| {
            let delay = Duration::from_millis(10) * k;
            let not_before = Instant::now() + delay;
            let early = Arc::clone(&early);
            queue.schedule(delay, move || {
                if Instant::now() < not_before {
                    early.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut turns = 0;
    loop {
        turns += 1;
        assert!(turns < 1000, "the event loop does not end");
        match queue.fire_due() {
            Some(d) => thread::sleep(d),
            None => break,
        }
    }
    assert!(timers.iter().all(|t| t.state() == TimerState::Fired));
    assert_eq!(early.load(Ordering::SeqCst), 0, "a timer fired early");
    assert!(
        turns <= 8 + 2,
        "the event loop took {turns} fire_due() calls for 8 deadlines"
    );
}

// ---------------------------------------------------------------- 7. contract breaks

/// Once `shutdown()` returns, every pending timer is discarded: `cancel()`
/// returns false (API 2, 7), also with a driver thread in `run()`. 50
/// rounds, each on a fresh queue. Today `shutdown()` only signals the
/// driver, and a `cancel()` right after usually beats its drain (true).
#[cfg(feature = "std")]
#[test]
fn cancel_after_shutdown_returns_false_with_a_driver_running() {
    let _dog = common::watchdog();
    let mut wins = Vec::new();
    for round in 0..50 {
        let (queue, driver) = driven();
        let timer = queue.schedule(HOUR, || {});
        queue.shutdown();
        if timer.cancel() {
            wins.push(round);
        }
        stop(&queue, driver);
        assert_eq!(timer.state(), TimerState::Cancelled);
    }
    assert!(
        wins.is_empty(),
        "cancel() after shutdown() returned true in rounds {wins:?} of 50"
    );
}

/// Every `shutdown()` call returns only after the drain, also the second
/// of two concurrent calls (no driver running): when it returns, every
/// timer is finished and a slow destructor (200 ms) has completed. Today
/// the second call returns at once while the first still drains.
#[cfg(feature = "std")]
#[test]
fn every_concurrent_shutdown_returns_after_the_drain() {
    let _dog = common::watchdog();
    let queue = TimerQueue::new();
    let (entered, done) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let slow = SlowDrop {
        entered: Arc::clone(&entered),
        done: Arc::clone(&done),
    };
    let mut timers: Vec<_> = (0..4).map(|_| queue.schedule(HOUR, || {})).collect();
    timers.push(queue.schedule(HOUR, move || {
        std::hint::black_box(&slow);
    }));
    timers.extend((0..4).map(|_| queue.schedule(HOUR, || {})));
    let drained = || done.load(Ordering::SeqCst) && timers.iter().all(ScheduledTimer::is_finished);
    let (first, second) = thread::scope(|s| {
        let first = s.spawn(|| {
            queue.shutdown();
            drained()
        });
        // The second call comes while the first drops the slow function.
        common::poll("the drain to reach the slow destructor", || {
            entered.load(Ordering::SeqCst)
        });
        queue.shutdown();
        let second = drained();
        (first.join().unwrap(), second)
    });
    assert!(first, "the first shutdown() returned before its drain");
    assert!(
        second,
        "the second, concurrent shutdown() returned before the drain was done"
    );
}

/// A panicking run of a repeating timer counts as a run and finishes it
/// `Fired`, with or without `std` (API 5: without `std` the panic leaves
/// `fire_due`). Run it without `std` too: `cargo test --no-default-features
/// --features alloc --test timer_queue_regressions`. Today, without `std`,
/// the run is not counted (`runs()` is 0).
#[test]
fn a_panicking_repeating_run_counts_with_or_without_std() {
    silence_deliberate_panics();
    let queue = TimerQueue::new();
    let timer = queue.schedule_repeating(Duration::from_millis(1), || {
        panic!("deliberate: a repeating timer's function panics")
    });
    let start = Instant::now();
    while !timer.is_finished() {
        assert!(start.elapsed() < PATIENCE, "the timer never ran");
        if let Ok(Some(d)) = panic::catch_unwind(AssertUnwindSafe(|| queue.fire_due())) {
            thread::sleep(d);
        }
    }
    assert_eq!(timer.state(), TimerState::Fired);
    assert_eq!(timer.runs(), 1, "the panicking run is not counted");
}

// ---------------------------------------------------------------- 8. guards

/// The guard's message.
#[cfg(feature = "std")]
const OWN_QUEUE: &str = "from a callback of its own queue";

/// A timer's function calls `block(other, me)`, where `other` is a pending
/// timer of the same queue (due in an hour) and `me` the timer itself: the
/// call panics with the guard's message, the driver catches that like any
/// panic (`join` returns it) and goes on. Without the guard the driver
/// blocks in the function for ever (or, for a timed wait, until it times
/// out): bounded here by a 10 s wait on the timer.
#[cfg(feature = "std")]
fn blocking_on_the_own_queue_panics(what: &str, block: fn(&ScheduledTimer, &ScheduledTimer)) {
    let _dog = common::watchdog();
    let (queue, driver) = driven();
    let other = queue.schedule(HOUR, || {});
    let me: Arc<OnceLock<ScheduledTimer>> = Arc::default();
    let (o, m) = (other.clone(), Arc::clone(&me));
    let timer = queue.schedule(Duration::ZERO, move || {
        let start = Instant::now();
        let me = loop {
            if let Some(me) = m.get() {
                break me;
            }
            assert!(start.elapsed() < PATIENCE);
            thread::yield_now();
        };
        block(&o, me);
    });
    assert!(me.set(timer.clone()).is_ok());
    assert!(
        timer.wait_timeout(PATIENCE),
        "{what}: the driver is still blocked in the function after {PATIENCE:?}"
    );
    let payload = timer
        .clone()
        .join()
        .expect_err(&format!("{what}: returned instead of panicking"));
    assert!(
        message(&*payload).contains(OWN_QUEUE),
        "{what}: panicked with {:?}",
        message(&*payload)
    );
    let later = queue.schedule(Duration::ZERO, || {});
    assert!(later.wait_timeout(PATIENCE), "{what}: the driver stopped");
    assert_eq!(other.state(), TimerState::Waiting);
    stop(&queue, driver);
}

/// `wait()` on another pending timer of the queue, from a timer's function
/// (the driver would wait for itself), panics; the driver goes on.
#[cfg(feature = "std")]
#[test]
fn waiting_on_a_timer_of_the_own_queue_from_a_callback_panics() {
    blocking_on_the_own_queue_panics("wait() on another timer", |other, _| other.wait());
}

/// `wait()` on the timer itself, from its own function, panics.
#[cfg(feature = "std")]
#[test]
fn waiting_on_itself_from_a_callback_panics() {
    blocking_on_the_own_queue_panics("wait() on itself", |_, me| me.wait());
}

/// `join()` on another pending timer of the queue, from a timer's
/// function, panics.
#[cfg(feature = "std")]
#[test]
fn joining_a_timer_of_the_own_queue_from_a_callback_panics() {
    blocking_on_the_own_queue_panics("join() on another timer", |other, _| {
        let _ = other.clone().join();
    });
}

/// `wait_timeout()` on another pending timer of the queue, from a timer's
/// function, panics too (it would stall every other timer for the
/// timeout). Today it times out and returns false.
#[cfg(feature = "std")]
#[test]
fn a_timed_wait_on_a_timer_of_the_own_queue_from_a_callback_panics() {
    blocking_on_the_own_queue_panics("wait_timeout() on another timer", |other, _| {
        other.wait_timeout(Duration::from_millis(50));
    });
}

/// An event loop that drives the queue with `fire_due` and sleeps for the
/// returned delay hears, through `set_driver_waker`, of a timer scheduled
/// from another thread that is due before the one it sleeps for; a later
/// one does not wake it (one wake per deadline). Before `set_driver_waker`
/// a 10 ms timer scheduled while the loop slept toward 1 s fired ~900 ms
/// late.
#[cfg(feature = "std")]
#[test]
fn an_event_loop_hears_of_an_earlier_timer_through_its_driver_waker() {
    let _watchdog = common::watchdog();
    let queue = Arc::new(TimerQueue::new());
    let far = queue.schedule(Duration::from_secs(1), || {});
    let (started, fired_at) = (Instant::now(), Arc::new(OnceLock::new()));
    let lp = Arc::clone(&queue);
    let event_loop = thread::spawn(move || {
        let (waker, as_waker) = common::unpark_waker();
        let mut turns = 0;
        while let Some(wait) = lp.fire_due() {
            turns += 1;
            lp.set_driver_waker(&as_waker);
            thread::park_timeout(wait);
        }
        (turns, waker.wakes.load(Ordering::SeqCst))
    });
    // Let the loop fall asleep toward the 1 s timer, then schedule a later
    // timer (no wake) and an earlier one (a wake).
    thread::sleep(Duration::from_millis(100));
    let later = queue.schedule(Duration::from_secs(2), || {});
    let fa = Arc::clone(&fired_at);
    let soon = queue.schedule(Duration::from_millis(10), move || {
        let _ = fa.set(Instant::now());
    });
    assert!(soon.wait_timeout(PATIENCE), "the 10 ms timer never fired");
    let late = fired_at.get().expect("fired").duration_since(started);
    assert!(
        late < Duration::from_millis(600),
        "a 10 ms timer scheduled at 100 ms fired at {late:?}: the loop slept toward its 1 s timer"
    );
    assert!(!far.is_finished(), "the 1 s timer fired early");
    far.cancel();
    later.cancel();
    queue.shutdown();
    // `park_timeout` may return early (a left-over unpark token): the turn
    // count is not a test here (an_event_loop_on_fire_due_turns_once_per_deadline
    // counts turns without a waker); the shutdown wakes the loop at least.
    let (_turns, wakes) = common::join_within(event_loop, PATIENCE, "the event loop");
    assert!(wakes >= 1, "the driver waker was never woken");
}
