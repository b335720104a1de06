//! `TimerQueue` and `ScheduledTimer`: every behaviour API.md lists, each
//! misuse row of the docs, and a 10 000-timer cancel race.
#![cfg(all(not(loom), feature = "std"))] // Loom runs loom-tests/ only; these need `std`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use common::poll;
use rallypoint::{Precision, ScheduledTimer, TimerQueue, TimerState};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

/// Scales a count down under Miri, which is ~1000x slower.
fn n(full: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

/// Generous upper bound on lateness (shared, noisy machines; under Miri,
/// which interprets the driver thread ~1000x slower, a bound that only
/// catches a timer that never fires).
const LATE: Duration = Duration::from_secs(if cfg!(miri) { 120 } else { 2 });

/// How long a test waits for a timer that must fire: a lost wake-up fails
/// the test after this, instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 30 });

/// Runs `f` with `queue` driven by another thread; shuts it down after.
/// A failing assertion in `f` still shuts the queue down, so that the test
/// fails instead of the scope waiting for the driver forever.
fn driven<R>(queue: &TimerQueue, f: impl FnOnce() -> R) -> R {
    struct ShutDownOnDrop<'a>(&'a TimerQueue);
    impl Drop for ShutDownOnDrop<'_> {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }
    thread::scope(|s| {
        let driver = s.spawn(|| queue.run());
        let guard = ShutDownOnDrop(queue);
        let r = f();
        drop(guard);
        driver.join().unwrap();
        r
    })
}

/// Silences the panics these tests cause on purpose.
fn silence_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !text.starts_with("deliberate") {
                default(info);
            }
        }));
    });
}

/// A flag a timer's function sets, and when.
#[derive(Default)]
struct Probe {
    fired: AtomicBool,
    at: Mutex<Option<Instant>>,
}

impl Probe {
    fn hit(&self) {
        *self.at.lock().unwrap() = Some(Instant::now());
        assert!(!self.fired.swap(true, Ordering::SeqCst), "ran twice");
    }
    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
    fn at(&self) -> Instant {
        self.at.lock().unwrap().expect("fired")
    }
}

fn probe_timer(queue: &TimerQueue, delay: Duration) -> (ScheduledTimer, Arc<Probe>, Instant) {
    let probe = Arc::new(Probe::default());
    let p = Arc::clone(&probe);
    let before = Instant::now();
    let timer = queue.schedule(delay, move || p.hit());
    (timer, probe, before)
}

// 1, 8: fires once, on the driver, never early, on time.
#[test]
fn fires_once_never_early_and_on_time() {
    let queue = TimerQueue::new();
    driven(&queue, || {
        let delays = [0u64, 1, 2, 5, 13, 30];
        let timers: Vec<_> = delays
            .iter()
            .map(|&ms| probe_timer(&queue, Duration::from_millis(ms)))
            .collect();
        for ((timer, probe, before), ms) in timers.iter().zip(delays) {
            assert!(timer.wait_timeout(PATIENCE));
            assert_eq!(timer.state(), TimerState::Fired);
            assert_eq!(timer.runs(), 1);
            let late = probe.at() - *before;
            let delay = Duration::from_millis(ms);
            assert!(late >= delay, "{ms} ms timer fired after {late:?}: early");
            assert!(late < delay + LATE, "{ms} ms timer took {late:?}");
        }
    });
}

#[test]
fn runs_on_the_driving_thread() {
    let queue = TimerQueue::new();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::scope(|s| {
        let driver = s.spawn(|| {
            let me = thread::current().id();
            queue.run();
            me
        });
        let t = queue.schedule(Duration::ZERO, move || {
            tx.send(thread::current().id()).unwrap();
        });
        t.wait();
        queue.shutdown();
        assert_eq!(driver.join().unwrap(), rx.recv().unwrap());
    });
}

// 8: never early, many timers at once, several scheduling threads.
#[test]
fn never_early_under_load() {
    let queue = TimerQueue::new();
    let per_thread = n(500, 4);
    driven(&queue, || {
        thread::scope(|s| {
            for t in 0..2 {
                let queue = &queue;
                s.spawn(move || {
                    let timers: Vec<_> = (0..per_thread)
                        .map(|i| {
                            let delay = Duration::from_micros(((i * 37 + t * 11) % 3000) as u64);
                            (probe_timer(queue, delay), delay)
                        })
                        .collect();
                    for ((timer, probe, before), delay) in timers {
                        assert!(timer.wait_timeout(PATIENCE));
                        let late = probe.at() - before;
                        assert!(late >= delay, "{delay:?} timer fired after {late:?}");
                    }
                });
            }
        });
    });
}

// 1: Duration::ZERO at once; Duration::MAX never.
#[test]
fn zero_is_due_at_once_and_max_never() {
    let queue = TimerQueue::new();
    let zero = queue.schedule(Duration::ZERO, || {});
    let max = queue.schedule(Duration::MAX, || unreachable!());
    let huge = queue.schedule(Duration::from_secs(u64::MAX / 4), || unreachable!());
    assert_eq!(queue.fire_due(), None, "only never-due timers are left");
    assert_eq!(zero.state(), TimerState::Fired);
    driven(&queue, || {
        assert!(!max.wait_timeout(Duration::from_millis(30)));
        assert_eq!(max.state(), TimerState::Waiting);
        assert!(max.cancel());
    });
    assert_eq!(huge.state(), TimerState::Cancelled, "shutdown discards it");
}

// 2: cancel tells the truth; wakes waiters; drops the function at once.
#[test]
fn cancel_before_firing_is_true_once_and_drops_the_function() {
    let queue = TimerQueue::new();
    let token = Arc::new(());
    let t2 = Arc::clone(&token);
    let timer = queue.schedule(Duration::from_secs(3600), move || drop(t2));
    thread::scope(|s| {
        let waiter = s.spawn(|| timer.wait());
        thread::sleep(Duration::from_millis(5));
        assert!(timer.cancel());
        waiter.join().unwrap();
    });
    assert_eq!(Arc::strong_count(&token), 1, "cancel dropped the function");
    assert!(!timer.cancel(), "second cancel");
    assert_eq!(timer.state(), TimerState::Cancelled);
    assert!(timer.is_finished());
    assert_eq!((timer.runs(), timer.missed()), (0, 0));
    // Also when the driver already filed it in its wheel.
    driven(&queue, || {
        let timer = queue.schedule(Duration::from_secs(3600), || unreachable!());
        poll("the driver to take the timer", || queue.len() == 1);
        thread::sleep(Duration::from_millis(2));
        assert!(timer.cancel());
        assert_eq!(queue.len(), 0);
    });
}

#[test]
fn cancel_after_firing_is_false() {
    let queue = TimerQueue::new();
    let timer = queue.schedule(Duration::ZERO, || {});
    queue.fire_due();
    assert!(!timer.cancel());
    assert_eq!(timer.state(), TimerState::Fired);
}

// 2, 3: a running one-shot cannot be cancelled; wait waits for it.
#[test]
fn running_one_shot_cancel_is_false_and_wait_waits() {
    let queue = TimerQueue::new();
    let gate = Arc::new(common::Gate::default());
    let g = Arc::clone(&gate);
    let timer = queue.schedule(Duration::ZERO, move || g.hold());
    driven(&queue, || {
        gate.wait_entered();
        assert_eq!(timer.state(), TimerState::Running);
        assert!(!timer.cancel());
        assert!(!timer.wait_timeout(Duration::from_millis(5)));
        gate.open();
        timer.wait();
        assert_eq!(timer.state(), TimerState::Fired);
    });
}

// 2 (the core promise): 10 000 timers, each raced by a cancel near its
// deadline. Exactly one of fired / cancelled; both happen many times.
#[test]
fn cancel_racing_the_deadline_exactly_one_wins() {
    let queue = TimerQueue::new();
    let total = n(10_000, 20);
    let (fired, cancelled) = driven(&queue, || {
        let mut fired = 0;
        let mut cancelled = 0;
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..total {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_micros(100 + (i % 7) as u64 * 15);
            let probe = Arc::new(AtomicBool::new(false));
            let p = Arc::clone(&probe);
            let start = Instant::now();
            let timer = queue.schedule(delay, move || {
                assert!(!p.swap(true, Ordering::SeqCst));
            });
            // Cancel somewhere between 0.3 and 2.3 times the delay (the
            // driver wakes ~70 µs late), jittered.
            let target = delay.mul_f64(0.3 + (seed % 1000) as f64 / 500.0);
            while start.elapsed() < target {
                std::hint::spin_loop();
            }
            let won = timer.cancel();
            timer.wait();
            let ran = probe.load(Ordering::SeqCst);
            assert_ne!(won, ran, "timer {i}: cancel()={won} but ran={ran}");
            let expected = if ran {
                TimerState::Fired
            } else {
                TimerState::Cancelled
            };
            assert_eq!(timer.state(), expected);
            fired += usize::from(ran);
            cancelled += usize::from(won);
        }
        (fired, cancelled)
    });
    assert_eq!(fired + cancelled, total);
    if !cfg!(miri) {
        assert!(
            fired >= total / 50 && cancelled >= total / 50,
            "both outcomes must occur many times: fired {fired}, cancelled {cancelled}"
        );
    }
    assert_eq!(queue.len(), 0);
}

// 2, 4: repeating timers: cancel stops them; a run in progress completes.
#[test]
fn repeating_cancel_stops_it_and_wait_waits_for_the_run() {
    let queue = TimerQueue::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(common::Gate::default());
    let (r, g) = (Arc::clone(&runs), Arc::clone(&gate));
    let timer = queue.schedule_repeating(Duration::from_millis(1), move || {
        if r.fetch_add(1, Ordering::SeqCst) == 2 {
            g.hold();
        }
    });
    assert!(timer.is_repeating());
    driven(&queue, || {
        gate.wait_entered(); // the third run is in progress
        assert_eq!(timer.state(), TimerState::Running);
        assert!(timer.cancel(), "cancel stops a running repeating timer");
        assert!(!timer.cancel(), "only once");
        assert_eq!(timer.state(), TimerState::Running, "the run completes");
        assert!(!timer.wait_timeout(Duration::from_millis(5)));
        gate.open();
        timer.wait();
        assert_eq!(timer.state(), TimerState::Cancelled);
        assert_eq!(timer.runs(), 3);
        thread::sleep(Duration::from_millis(10));
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no run after cancel");
    });
    assert_eq!(queue.len(), 0);
}

#[test]
fn repeating_cancel_between_runs() {
    let queue = TimerQueue::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&runs);
    let timer = queue.schedule_repeating(Duration::from_millis(2), move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    driven(&queue, || {
        poll("three runs", || timer.runs() >= 3);
        assert!(timer.cancel());
        timer.wait();
        let after = runs.load(Ordering::SeqCst);
        assert_eq!(timer.runs(), after as u64);
        thread::sleep(Duration::from_millis(10));
        assert_eq!(runs.load(Ordering::SeqCst), after);
        assert_eq!(timer.state(), TimerState::Cancelled);
    });
}

// 4: fixed rate, no drift: the k-th due time is schedule + k * period
// (k counting skipped periods), however long each run takes.
#[test]
fn repeating_runs_at_a_fixed_rate_without_drift() {
    if cfg!(miri) {
        return; // Wall-clock phase under Miri's slow interpreter proves nothing.
    }
    let queue = TimerQueue::new();
    let period = Duration::from_millis(10);
    let starts = Arc::new(Mutex::new(Vec::new()));
    let me: Arc<Mutex<Option<ScheduledTimer>>> = Arc::default();
    let (s2, m2) = (Arc::clone(&starts), Arc::clone(&me));
    let before = Instant::now();
    let timer = queue.schedule_repeating(period, move || {
        let missed = m2
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, ScheduledTimer::missed);
        s2.lock().unwrap().push((Instant::now(), missed));
        thread::sleep(Duration::from_millis(4)); // fixed-delay would drift 4 ms a run
    });
    let after = Instant::now();
    *me.lock().unwrap() = Some(timer.clone());
    driven(&queue, || {
        poll("20 runs", || timer.runs() >= 20);
        assert!(timer.cancel());
        timer.wait();
    });
    me.lock().unwrap().take();
    let starts = starts.lock().unwrap();
    // Fixed-delay would make every run from about the 13th on more than
    // 50 ms late (4 ms a run). A busy machine can also deschedule the
    // driver for over 50 ms once or twice, making a run or two late; the
    // next ones are back on the fixed-rate schedule (skipped periods are
    // counted in `missed`). So: at most 3 late runs, never an early one.
    let mut late = Vec::new();
    for (k, &(start, missed)) in starts.iter().enumerate().skip(1) {
        let due = period * (k as u32 + 1 + missed as u32);
        assert!(start - before >= due, "run {k} early");
        if start - after >= due + Duration::from_millis(50) {
            late.push((k, start - after, due));
        }
    }
    assert!(
        late.len() <= 3,
        "runs drifted (run, started after, due): {late:?}"
    );
}

// 4: missed periods are skipped (no burst), counted, and the phase kept.
#[test]
fn slow_run_skips_and_counts_missed_periods() {
    if cfg!(miri) {
        return;
    }
    let queue = TimerQueue::new();
    let period = Duration::from_millis(50);
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&starts);
    let before = Instant::now();
    let timer = queue.schedule_repeating(period, move || {
        let mut starts = s2.lock().unwrap();
        starts.push(Instant::now());
        if starts.len() == 1 {
            thread::sleep(Duration::from_millis(170)); // ends past 3 more due times
        }
    });
    driven(&queue, || {
        poll("two runs", || timer.runs() >= 2);
        assert!(timer.cancel());
        timer.wait();
    });
    let starts = starts.lock().unwrap();
    let missed = timer.missed();
    assert!(missed >= 3, "missed {missed}");
    // Run 2 is due at (2 + missed) periods: the phase is kept.
    let due = period * (2 + missed as u32);
    let second = starts[1] - before;
    assert!(
        second >= due,
        "second run at {second:?}, due {due:?}: early"
    );
    assert!(
        second < due + period,
        "second run at {second:?}, due {due:?}: a burst or drift"
    );
}

#[test]
#[should_panic(expected = "non-zero period")]
fn period_zero_panics() {
    let queue = TimerQueue::new();
    let _ = queue.schedule_repeating(Duration::ZERO, || {});
}

// 5: a panicking function: the driver and the other timers go on.
#[test]
fn panicking_function_is_caught_and_reported() {
    silence_deliberate_panics();
    let queue = TimerQueue::new();
    driven(&queue, || {
        let bad = queue.schedule(Duration::ZERO, || panic!("deliberate: one-shot"));
        let bad2 = bad.clone();
        bad.wait();
        assert_eq!(bad.state(), TimerState::Fired);
        assert_eq!(bad.runs(), 1);
        let payload = bad.join().unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"deliberate: one-shot")
        );
        assert!(
            bad2.join().is_err(),
            "a second join still reports the panic"
        );

        let n = Arc::new(AtomicUsize::new(0));
        let n2 = Arc::clone(&n);
        let repeating = queue.schedule_repeating(Duration::from_millis(1), move || {
            if n2.fetch_add(1, Ordering::SeqCst) == 2 {
                panic!("deliberate: third run");
            }
        });
        repeating.wait();
        assert_eq!(
            repeating.state(),
            TimerState::Fired,
            "a panicking repeating timer stops"
        );
        assert_eq!(repeating.runs(), 3);
        assert!(repeating.join().is_err());

        let (good, probe, _) = probe_timer(&queue, Duration::from_millis(1));
        good.join().unwrap();
        assert!(probe.fired(), "the driver survived");
    });
}

// 1: schedule and cancel from inside a timer's function.
#[test]
fn schedule_and_cancel_from_inside_a_function() {
    let queue = Arc::new(TimerQueue::new());
    let victim = queue.schedule(Duration::from_secs(3600), || unreachable!());
    let inner: Arc<Mutex<Option<ScheduledTimer>>> = Arc::default();
    let cancelled = Arc::new(AtomicBool::new(false));
    let (q, i, c, v) = (
        Arc::clone(&queue),
        Arc::clone(&inner),
        Arc::clone(&cancelled),
        victim.clone(),
    );
    let outer = queue.schedule(Duration::ZERO, move || {
        *i.lock().unwrap() = Some(q.schedule(Duration::from_millis(1), || {}));
        c.store(v.cancel(), Ordering::SeqCst);
        assert!(q.fire_due().is_none(), "no re-entrant driving");
    });
    driven(&queue, || {
        outer.wait();
        assert!(cancelled.load(Ordering::SeqCst));
        let inner = inner.lock().unwrap().take().unwrap();
        inner.wait();
        assert_eq!(inner.state(), TimerState::Fired);
    });
    assert_eq!(victim.state(), TimerState::Cancelled);
}

// A repeating timer that cancels itself from inside its function.
#[test]
fn repeating_timer_cancels_itself() {
    let queue = TimerQueue::new();
    let slot: Arc<Mutex<Option<ScheduledTimer>>> = Arc::default();
    let s2 = Arc::clone(&slot);
    let timer = queue.schedule_repeating(Duration::from_millis(1), move || {
        if let Some(me) = s2.lock().unwrap().as_ref() {
            if me.runs() == 1 {
                assert!(me.cancel());
            }
        }
    });
    *slot.lock().unwrap() = Some(timer.clone());
    driven(&queue, || timer.wait());
    assert_eq!(timer.state(), TimerState::Cancelled);
    assert_eq!(timer.runs(), 2);
    slot.lock().unwrap().take();
}

// 6: one driver at a time.
#[test]
fn a_second_driver_returns_at_once() {
    let queue = TimerQueue::new();
    driven(&queue, || {
        let t = queue.schedule(Duration::ZERO, || {});
        t.wait(); // the driver thread is driving
        let start = Instant::now();
        queue.run();
        assert_eq!(queue.fire_due(), None);
        assert!(start.elapsed() < LATE);
        let pending = queue.schedule(Duration::from_secs(3600), || {});
        assert_eq!(queue.fire_due(), None, "while another thread drives");
        assert!(pending.cancel());
    });
}

// 6: fire_due for event loops: fires what is due, says when to call again.
#[test]
fn fire_due_fires_what_is_due_and_returns_the_next_delay() {
    let queue = TimerQueue::new();
    assert_eq!(queue.fire_due(), None, "a fresh queue");
    let (now, probe_now, _) = probe_timer(&queue, Duration::ZERO);
    // Miri is slow enough to pass 20 ms between two statements.
    let delay = Duration::from_millis(if cfg!(miri) { 5000 } else { 20 });
    let (later, probe_later, before) = probe_timer(&queue, delay);
    let wait = queue.fire_due().expect("one timer pending");
    assert!(probe_now.fired() && !probe_later.fired());
    assert!(wait <= delay);
    assert_eq!(now.state(), TimerState::Fired);
    let deadline = Instant::now() + PATIENCE;
    while !later.is_finished() {
        assert!(Instant::now() < deadline);
        if let Some(wait) = queue.fire_due() {
            thread::sleep(wait);
        }
    }
    assert!(probe_later.at() - before >= delay);
}

// 6: a newly scheduled earlier timer wakes a driver that sleeps for a
// later one.
#[test]
fn earlier_timer_wakes_a_sleeping_driver() {
    let queue = TimerQueue::new();
    driven(&queue, || {
        let far = queue.schedule(Duration::from_secs(3600), || {});
        thread::sleep(Duration::from_millis(20)); // the driver parks for an hour
        let (soon, probe, before) = probe_timer(&queue, Duration::from_millis(5));
        assert!(soon.wait_timeout(PATIENCE));
        let late = probe.at() - before;
        assert!(late >= Duration::from_millis(5) && late < LATE, "{late:?}");
        assert!(far.cancel());
    });
}

/// Between deadlines the driver sleeps. A driver that never parks (say,
/// one whose inbox take keeps the `PARKED` tag, so that every later park
/// declines) still fires everything on time, but burns its core meanwhile:
/// only its CPU time shows it. Measured with the driver thread's own CPU
/// clock, read by two timer functions (they run on the driver) 500 ms apart.
#[cfg(all(unix, not(miri)))]
#[test]
fn a_driver_waiting_for_a_deadline_sleeps_instead_of_spinning() {
    let _dog = common::watchdog();
    let queue = TimerQueue::new();
    let (tx, rx) = std::sync::mpsc::channel();
    driven(&queue, || {
        let (tx1, tx2) = (tx.clone(), tx.clone());
        let first = queue.schedule(Duration::ZERO, move || {
            tx1.send(common::cpu_time(libc::CLOCK_THREAD_CPUTIME_ID))
                .unwrap();
        });
        let second = queue.schedule(Duration::from_millis(500), move || {
            tx2.send(common::cpu_time(libc::CLOCK_THREAD_CPUTIME_ID))
                .unwrap();
        });
        assert!(second.wait_timeout(Duration::from_secs(30)), "fired");
        assert!(first.is_finished());
    });
    let (start, end) = (rx.recv().unwrap(), rx.recv().unwrap());
    let busy = end.saturating_sub(start);
    assert!(
        busy < Duration::from_millis(100),
        "the driver used {busy:?} of CPU while waiting 500 ms for a deadline: it spins instead of parking"
    );
}

// 7: shutdown.
#[test]
fn shutdown_cancels_everything_and_stops_run() {
    let queue = TimerQueue::new();
    let token = Arc::new(());
    let timers: Vec<_> = (0..n(100, 5))
        .map(|i| {
            let t = Arc::clone(&token);
            queue.schedule(Duration::from_secs(3600 + i as u64), move || drop(t))
        })
        .collect();
    let every = {
        let t = Arc::clone(&token);
        queue.schedule_repeating(Duration::from_secs(3600), move || {
            let _ = &t;
        })
    };
    thread::scope(|s| {
        let driver = s.spawn(|| queue.run());
        let waiter = s.spawn(|| timers[0].wait());
        // (Not `fire_due` in a poll: called before the driver thread
        // starts, it would drive, and make that `run` return at once.)
        let probe = queue.schedule(Duration::ZERO, || {});
        let driven = probe.wait_timeout(PATIENCE);
        assert!(!queue.is_shut_down());
        queue.shutdown(); // also releases the waiter if the assert below fails
        assert!(driven, "the driver took the timers");
        driver.join().unwrap();
        waiter.join().unwrap();
    });
    assert!(queue.is_shut_down());
    for t in &timers {
        assert_eq!(t.state(), TimerState::Cancelled);
        assert!(!t.cancel(), "cancel after shutdown is false");
    }
    assert_eq!(every.state(), TimerState::Cancelled);
    assert_eq!(Arc::strong_count(&token), 1, "functions dropped unrun");
    assert_eq!(queue.len(), 0);
    // Later schedules are cancelled at once; their functions dropped.
    let t = Arc::clone(&token);
    let late = queue.schedule(Duration::ZERO, move || drop(t));
    assert_eq!(late.state(), TimerState::Cancelled);
    assert_eq!(Arc::strong_count(&token), 1);
    assert!(!late.cancel());
    queue.run(); // returns at once
    queue.shutdown(); // idempotent
}

#[test]
fn shutdown_without_a_driver_cancels_on_the_calling_thread() {
    let queue = TimerQueue::new();
    let t = queue.schedule(Duration::from_millis(1), || unreachable!());
    queue.shutdown();
    assert_eq!(t.state(), TimerState::Cancelled);
}

// 7: dropping the queue is a shutdown; handles stay usable.
#[test]
fn dropping_the_queue_cancels_pending_timers() {
    let token = Arc::new(());
    let (a, b) = {
        let queue = TimerQueue::new();
        let t = Arc::clone(&token);
        let a = queue.schedule(Duration::from_secs(3600), move || drop(t));
        let b = queue.schedule_repeating(Duration::from_secs(1), || {});
        queue.fire_due(); // files them in the wheel
        (a, b)
    };
    assert_eq!(a.state(), TimerState::Cancelled);
    assert_eq!(b.state(), TimerState::Cancelled);
    assert!(!a.cancel());
    a.wait();
    assert_eq!(Arc::strong_count(&token), 1);
}

// 7, 9: dropping the queue while other threads cancel its timers.
#[test]
fn dropping_the_queue_races_cancels() {
    for _ in 0..n(50, 1) {
        let queue = TimerQueue::new();
        let timers: Vec<_> = (0..n(64, 32) as u64)
            .map(|i| queue.schedule(Duration::from_secs(60 + i), || {}))
            .collect();
        queue.fire_due();
        let wins = thread::scope(|s| {
            let cancels: Vec<_> = timers
                .chunks(16)
                .map(|chunk| s.spawn(move || chunk.iter().filter(|t| t.cancel()).count()))
                .collect();
            drop(queue);
            cancels
                .into_iter()
                .map(|c| c.join().unwrap())
                .sum::<usize>()
        });
        assert!(wins <= timers.len());
        assert!(timers.iter().all(|t| t.state() == TimerState::Cancelled));
    }
}

// 3: state, is_finished, len.
#[test]
fn len_counts_unfinished_timers() {
    let queue = TimerQueue::new();
    assert!(queue.is_empty());
    let a = queue.schedule(Duration::ZERO, || {});
    let b = queue.schedule(Duration::from_secs(3600), || {});
    let c = queue.schedule_repeating(Duration::from_secs(3600), || {});
    assert_eq!(queue.len(), 3);
    assert!(b.cancel());
    assert_eq!(queue.len(), 2);
    queue.fire_due();
    assert_eq!(a.state(), TimerState::Fired);
    assert_eq!(queue.len(), 1);
    assert!(c.cancel());
    assert_eq!(queue.len(), 0);
    assert!(queue.is_empty());
}

// 9: dropping a handle detaches: the timer still runs.
#[test]
fn dropping_a_handle_detaches() {
    let queue = TimerQueue::new();
    let fired = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&fired);
    drop(queue.schedule(Duration::ZERO, move || f.store(true, Ordering::SeqCst)));
    queue.fire_due();
    assert!(fired.load(Ordering::SeqCst));
}

#[test]
fn clones_share_the_timer() {
    let queue = TimerQueue::new();
    let a = queue.schedule(Duration::from_secs(3600), || {});
    let b = a.clone();
    assert!(a.ptr_eq(&b));
    assert!(b.cancel());
    assert!(!a.cancel());
    assert_eq!(a.state(), TimerState::Cancelled);
    assert!(format!("{a:?}").contains("Cancelled"));
    assert!(format!("{queue:?}").contains("TimerQueue"));
}

// 10: the global queue.
#[test]
#[cfg_attr(
    miri,
    ignore = "its driver thread outlives main, which Miri reports as a leak"
)]
fn global_queue_is_one_queue_with_a_driver() {
    let q = TimerQueue::global();
    assert!(std::ptr::eq(q, TimerQueue::global()));
    let (t, probe, before) = probe_timer(q, Duration::from_millis(2));
    assert!(t.wait_timeout(PATIENCE));
    assert!(probe.at() - before >= Duration::from_millis(2));
}

#[test]
fn precision_is_a_const_setting() {
    static QUEUE: TimerQueue = TimerQueue::new().with_precision(Precision::Precise);
    assert_eq!(QUEUE.precision(), Precision::Precise);
    assert_eq!(TimerQueue::new().precision(), Precision::Default);
    driven(&QUEUE, || {
        let (t, probe, before) = probe_timer(&QUEUE, Duration::from_millis(3));
        t.wait();
        assert!(probe.at() - before >= Duration::from_millis(3));
    });
}

// Timers spread over wheel levels 0-3 (each cascading down) all fire, never
// early. (Their order is not asserted: on a loaded machine several may be
// overdue at once, and then one pass fires them in any order.)
#[test]
fn timers_across_wheel_levels_all_fire_never_early() {
    let queue = TimerQueue::new();
    let base = Instant::now();
    // (delay ns, due and fired: ns since `base`), in firing order.
    let order = Arc::new(Mutex::new(Vec::new()));
    // 8 µs .. ~1 s: every level up to 3 (and a cascade from each); under
    // Miri a thousand times longer, as it interprets slowly.
    let unit = if cfg!(miri) { 8_000_000u64 } else { 8_000 };
    let delays: Vec<u64> = (0..n(18, 5)).map(|i| unit << i).rev().collect();
    let timers: Vec<_> = delays
        .iter()
        .map(|&ns| {
            let o = Arc::clone(&order);
            let due = base.elapsed().as_nanos() as u64 + ns;
            queue.schedule(Duration::from_nanos(ns), move || {
                o.lock()
                    .unwrap()
                    .push((ns, due, base.elapsed().as_nanos() as u64));
            })
        })
        .collect();
    driven(&queue, || timers.iter().for_each(ScheduledTimer::wait));
    let order = order.lock().unwrap();
    assert_eq!(order.len(), delays.len());
    for &(ns, due, fired) in order.iter() {
        assert!(fired >= due, "{ns} ns timer fired {} ns early", due - fired);
    }
}
