//! Every Barrier behaviour of API.md, plus CPython's `BarrierTests`, ported.
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use rallypoint::{Barrier, BarrierError, BarrierWaitResult, NoAction};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::{join_within, poll, Gate};

const N: usize = 5;

fn indices(results: Vec<Result<BarrierWaitResult, BarrierError>>) -> Vec<usize> {
    let mut v: Vec<usize> = results.into_iter().map(|r| r.unwrap().index()).collect();
    v.sort_unstable();
    v
}

/// Runs `f(0)`..`f(n - 1)` on `n` threads; returns their results in order.
fn run_parties(
    n: usize,
    f: impl Fn(usize) -> Result<BarrierWaitResult, BarrierError> + Sync,
) -> Vec<Result<BarrierWaitResult, BarrierError>> {
    thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                s.spawn({
                    let f = &f;
                    move || f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn one_pass_releases_all_with_distinct_indices_and_one_leader() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(N);
    let results = run_parties(N, |_| barrier.wait());
    assert_eq!(results.iter().filter(|r| r.unwrap().is_leader()).count(), 1);
    assert_eq!(indices(results), (0..N).collect::<Vec<_>>());
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
}

#[test]
fn reusable_for_many_generations_in_lockstep() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(N);
    let phase = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..N {
            s.spawn(|| {
                for pass in 0..if cfg!(miri) { 10 } else { 200 } {
                    phase.fetch_add(1, Ordering::SeqCst);
                    barrier.wait().unwrap();
                    // Everyone has done `pass + 1` increments, nobody more.
                    assert_eq!(phase.load(Ordering::SeqCst), (pass + 1) * N);
                    barrier.wait().unwrap();
                }
            });
        }
    });
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
}

#[test]
fn single_party_never_blocks() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(1);
    for _ in 0..3 {
        let r = barrier.wait().unwrap();
        assert_eq!(r.index(), 0);
        assert!(r.is_leader());
    }
    assert_eq!(barrier.wait_timeout(Duration::ZERO).unwrap().index(), 0);
}

#[test]
fn action_runs_once_per_generation_before_anyone_returns() {
    let _dog = common::watchdog();
    let ran = AtomicUsize::new(0);
    let barrier = Barrier::with_action(N, || {
        ran.fetch_add(1, Ordering::SeqCst);
    });
    thread::scope(|s| {
        for _ in 0..N {
            s.spawn(|| {
                for pass in 1..=50 {
                    barrier.wait().unwrap();
                    // Two generations per pass: this one's action has run,
                    // the next one's cannot have.
                    assert_eq!(
                        ran.load(Ordering::SeqCst),
                        2 * pass - 1,
                        "returned before the action ran"
                    );
                    barrier.wait().unwrap();
                }
            });
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn action_runs_on_the_leader() {
    let _dog = common::watchdog();
    let leader = std::sync::Mutex::new(None);
    let barrier = Barrier::with_action(3, || {
        *leader.lock().unwrap() = Some(thread::current().id());
    });
    let ids = thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| (thread::current().id(), barrier.wait().unwrap().is_leader())))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let leader_id = ids.iter().find(|(_, l)| *l).unwrap().0;
    assert_eq!(*leader.lock().unwrap(), Some(leader_id));
}

#[test]
fn panicking_action_breaks_the_barrier_and_resumes_in_the_leader() {
    let _dog = common::watchdog();
    let barrier = Barrier::with_action(3, || panic!("action failed"));
    let results = thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| panic::catch_unwind(AssertUnwindSafe(|| barrier.wait()))))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let panicked = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(panicked, 1, "the panic continues in the leader only");
    for r in results.into_iter().flatten() {
        assert_eq!(r, Err(BarrierError::Broken));
    }
    assert!(barrier.is_broken());
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    barrier.reset();
    assert!(!barrier.is_broken());
}

#[test]
fn abort_breaks_current_and_later_waits_until_reset() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(N);
    let results = run_parties(N, |i| {
        if i == N / 2 {
            poll("n_waiting", || {
                barrier.n_waiting() == N - 1 || barrier.is_broken()
            });
            barrier.abort();
            // A real wait on the broken barrier: it must fail at once too.
        }
        barrier.wait()
    });
    assert!(
        results.iter().all(|r| *r == Err(BarrierError::Broken)),
        "{results:?}"
    );
    assert!(barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a broken barrier must fail at once"
    );
    barrier.reset();
    assert!(!barrier.is_broken());
    assert_eq!(
        indices(run_parties(N, |_| barrier.wait())),
        (0..N).collect::<Vec<_>>()
    );
}

#[test]
fn reset_fails_waiters_then_everyone_passes_again() {
    let _dog = common::watchdog();
    // CPython's test_reset: index N/2 waits for the others, resets, and then
    // all N pass the barrier again.
    let barrier = Barrier::new(N);
    let outcomes = run_parties(N, |i| {
        if i == N / 2 {
            poll("n_waiting", || barrier.n_waiting() == N - 1);
            barrier.reset();
        } else {
            assert_eq!(barrier.wait(), Err(BarrierError::Broken));
        }
        barrier.wait()
    });
    assert_eq!(indices(outcomes), (0..N).collect::<Vec<_>>());
    assert!(!barrier.is_broken());
}

#[test]
fn abort_then_reset_then_pass() {
    let _dog = common::watchdog();
    // CPython's test_abort_and_reset.
    let barrier = Barrier::new(N);
    let sync = Barrier::new(N);
    let outcomes = run_parties(N, |i| {
        if i == N / 2 {
            poll("n_waiting", || barrier.n_waiting() == N - 1);
            barrier.abort();
        } else {
            assert_eq!(barrier.wait(), Err(BarrierError::Broken));
        }
        if sync.wait().unwrap().is_leader() {
            barrier.reset();
        }
        sync.wait().unwrap();
        barrier.wait()
    });
    assert_eq!(indices(outcomes), (0..N).collect::<Vec<_>>());
}

#[test]
fn timeout_breaks_for_everyone_and_tells_the_breaker() {
    let _dog = common::watchdog();
    // CPython's test_timeout, plus our TimedOut/Broken split.
    let barrier = Barrier::new(N);
    let results = run_parties(N, |i| {
        if i == 0 {
            // The late one: arrives after the barrier broke.
            poll("broken", || barrier.is_broken());
            barrier.wait()
        } else {
            barrier.wait_timeout(Duration::from_millis(50))
        }
    });
    let timed_out = results
        .iter()
        .filter(|r| **r == Err(BarrierError::TimedOut))
        .count();
    let broken = results
        .iter()
        .filter(|r| **r == Err(BarrierError::Broken))
        .count();
    assert!(
        timed_out >= 1,
        "the breaker must be told TimedOut: {results:?}"
    );
    assert_eq!(timed_out + broken, N, "{results:?}");
    assert_eq!(
        results[0],
        Err(BarrierError::Broken),
        "the late party only sees Broken"
    );
    assert!(barrier.is_broken());
}

#[test]
fn timeout_is_never_early() {
    let _dog = common::watchdog();
    for ms in [1u64, 20, 80] {
        let barrier = Barrier::new(2);
        let t = Duration::from_millis(ms);
        let start = Instant::now();
        assert_eq!(barrier.wait_timeout(t), Err(BarrierError::TimedOut));
        let elapsed = start.elapsed();
        assert!(elapsed >= t, "{t:?} timeout returned after {elapsed:?}");
        assert!(
            elapsed < t + Duration::from_secs(5),
            "{t:?} timeout took {elapsed:?}"
        );
        assert!(barrier.is_broken());
    }
}

#[test]
fn default_timeout_applies_to_wait() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(2).with_timeout(Duration::from_millis(100));
    assert_eq!(barrier.timeout(), Some(Duration::from_millis(100)));
    let start = Instant::now();
    assert_eq!(barrier.wait(), Err(BarrierError::TimedOut));
    assert!(start.elapsed() >= Duration::from_millis(100));
    // wait_timeout overrides it.
    barrier.reset();
    let start = Instant::now();
    assert_eq!(
        barrier.wait_timeout(Duration::from_millis(1)),
        Err(BarrierError::TimedOut)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn zero_timeout_breaks_unless_last() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(2);
    assert_eq!(
        barrier.wait_timeout(Duration::ZERO),
        Err(BarrierError::TimedOut)
    );
    assert!(barrier.is_broken());
    barrier.reset();
    let results = thread::scope(|s| {
        let first = s.spawn(|| barrier.wait());
        poll("first arrival", || barrier.n_waiting() == 1);
        let second = barrier.wait_timeout(Duration::ZERO);
        (first.join().unwrap(), second)
    });
    assert_eq!(results.0.unwrap().index(), 0);
    assert!(results.1.unwrap().is_leader());
}

#[test]
fn duration_max_waits_forever_without_overflow() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(2).with_timeout(Duration::MAX);
    assert_eq!(barrier.timeout(), None, "Duration::MAX means no timeout");
    thread::scope(|s| {
        let waiter = s.spawn(|| barrier.wait_timeout(Duration::MAX));
        let other = s.spawn(|| barrier.wait());
        waiter.join().unwrap().unwrap();
        other.join().unwrap().unwrap();
    });
    assert!(!barrier.is_broken());
}

#[test]
fn n_waiting_counts_blocked_parties() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(3);
    assert_eq!(barrier.n_waiting(), 0);
    thread::scope(|s| {
        s.spawn(|| barrier.wait().map(|_| ()).unwrap());
        poll("one waiting", || barrier.n_waiting() == 1);
        s.spawn(|| barrier.wait().map(|_| ()).unwrap());
        poll("two waiting", || barrier.n_waiting() == 2);
        let _ = barrier.wait().unwrap();
    });
    assert_eq!(barrier.n_waiting(), 0);
    thread::scope(|s| {
        s.spawn(|| barrier.wait());
        poll("one waiting", || barrier.n_waiting() == 1);
        barrier.abort();
        assert_eq!(barrier.n_waiting(), 0, "0 when broken");
    });
}

#[test]
fn reset_on_an_idle_barrier_is_harmless() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(2);
    barrier.reset();
    barrier.reset();
    assert!(!barrier.is_broken());
    assert_eq!(indices(run_parties(2, |_| barrier.wait())), vec![0, 1]);
}

#[test]
fn abort_while_the_action_runs_breaks_the_next_generation_only() {
    let _dog = common::watchdog();
    let gate = Gate::default();
    let barrier = Barrier::with_action(2, || gate.hold());
    let results = thread::scope(|s| {
        let a = s.spawn(|| barrier.wait());
        let b = s.spawn(|| barrier.wait());
        gate.wait_entered();
        barrier.abort();
        // Timeouts and reset cannot touch a full generation either.
        gate.open();
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(results.0.is_ok() && results.1.is_ok(), "{results:?}");
    assert!(barrier.is_broken(), "the next generation is broken");
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
}

#[test]
fn reset_while_the_action_runs_lets_the_generation_pass() {
    let _dog = common::watchdog();
    let gate = Gate::default();
    let barrier = Barrier::with_action(2, || gate.hold());
    let timeout = Duration::from_millis(300);
    let results = thread::scope(|s| {
        // `a` parks first, with a timeout that can only elapse while the
        // action runs; `b` arrives last and runs the action.
        let a = s.spawn(|| barrier.wait_timeout(timeout));
        poll("a waiting", || barrier.n_waiting() == 1);
        let b = s.spawn(|| barrier.wait());
        gate.wait_entered();
        barrier.abort();
        barrier.reset();
        thread::sleep(timeout + Duration::from_millis(50)); // a's timeout elapses
        gate.open();
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(results.0.is_ok() && results.1.is_ok(), "{results:?}");
    assert!(!barrier.is_broken());
}

/// A party that panics before it arrives never comes. A timeout (here the
/// barrier's default) bounds the damage: the others get `TimedOut` or
/// `Broken` after it, never a hang, and the barrier stays broken until
/// `reset()`. (Untimed waiters need an abort-on-unwind guard: the `Barrier`
/// docs show one, as a doctest.)
#[test]
fn a_party_that_panics_before_arriving_fails_the_others_by_their_timeout() {
    let _dog = common::watchdog();
    let timeout = Duration::from_millis(50);
    let barrier = Barrier::new(3).with_timeout(timeout);
    let start = Instant::now();
    let (crashed, others) = thread::scope(|s| {
        let crashed = s.spawn(|| {
            if std::hint::black_box(true) {
                panic!("a worker failed before reaching the barrier");
            }
            barrier.wait()
        });
        let others: Vec<_> = (0..2).map(|_| s.spawn(|| barrier.wait())).collect();
        let others: Vec<_> = others.into_iter().map(|h| h.join().unwrap()).collect();
        (crashed.join(), others)
    });
    assert!(crashed.is_err());
    assert!(start.elapsed() >= timeout, "failed before the timeout");
    assert!(
        others.contains(&Err(BarrierError::TimedOut)),
        "the first to time out reports it: {others:?}"
    );
    assert!(
        others
            .iter()
            .all(|r| matches!(r, Err(BarrierError::TimedOut | BarrierError::Broken))),
        "{others:?}"
    );
    assert!(barrier.is_broken());
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    barrier.reset();
    assert!(!barrier.is_broken());
}

#[test]
#[should_panic(expected = "parties must be at least 1")]
fn zero_parties_panics() {
    let _dog = common::watchdog();
    let _ = Barrier::new(0);
}

#[test]
#[should_panic(expected = "parties exceeds Barrier::MAX_PARTIES")]
fn too_many_parties_panics() {
    let _dog = common::watchdog();
    let _ = Barrier::new(Barrier::MAX_PARTIES + 1);
}

#[test]
fn max_parties_is_accepted() {
    let _dog = common::watchdog();
    // The boundary itself (too_many_parties_panics checks one above it);
    // the documented minimum is a unit test beside the layout.
    let b = Barrier::new(Barrier::MAX_PARTIES);
    assert_eq!(b.parties(), Barrier::MAX_PARTIES);
}

#[test]
fn debug_shows_parties_waiting_and_broken() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(3);
    let text = format!("{barrier:?}");
    assert!(
        text.contains("parties: 3")
            && text.contains("n_waiting: 0")
            && text.contains("broken: false"),
        "{text}"
    );
    barrier.abort();
    assert!(format!("{barrier:?}").contains("broken: true"));
}

#[test]
fn errors_display_and_are_errors() {
    let _dog = common::watchdog();
    let e: Box<dyn std::error::Error> = Box::new(BarrierError::Broken);
    assert_eq!(e.to_string(), "barrier is broken");
    assert!(BarrierError::TimedOut.to_string().contains("timed out"));
}

#[test]
fn static_barrier_and_auto_traits() {
    let _dog = common::watchdog();
    static STATIC: Barrier = Barrier::new(1);
    STATIC.wait().unwrap();
    fn send_sync<T: Send + Sync>() {}
    fn unwind_safe<T: std::panic::RefUnwindSafe + std::panic::UnwindSafe>() {}
    send_sync::<Barrier>();
    send_sync::<Barrier<fn()>>();
    unwind_safe::<Barrier>();
    // The narrow layout adds its two straggler counters (`lag.rs`).
    let limit = if cfg!(rallypoint_narrow_state) {
        32
    } else {
        24
    };
    assert!(std::mem::size_of::<Barrier<NoAction>>() <= limit);
    assert!(std::mem::size_of::<Barrier<NoAction>>() < std::mem::size_of::<std::sync::Barrier>());
}

#[test]
fn more_threads_than_parties_form_separate_generations() {
    let _dog = common::watchdog();
    // 6 threads through a 3-party barrier, 600 generations: each has
    // indices {0, 1, 2} and exactly one leader. Threads claim waits from a
    // shared budget, so no thread is left without partners at the end.
    let barrier = Barrier::new(3);
    let leaders = AtomicUsize::new(0);
    let index_sum = AtomicUsize::new(0);
    let budget = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                while budget.fetch_add(1, Ordering::Relaxed) < 1800 {
                    let r = barrier.wait().unwrap();
                    index_sum.fetch_add(r.index(), Ordering::Relaxed);
                    if r.is_leader() {
                        leaders.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(leaders.load(Ordering::Relaxed), 600);
    assert_eq!(index_sum.load(Ordering::Relaxed), 600 * 3);
}

/// A barrier for threads that may outlive the test: a waiter that is never
/// woken must not keep the test from failing (a scope would wait for it).
fn leaked<A: Sync>(barrier: Barrier<A>) -> &'static Barrier<A> {
    Box::leak(Box::new(barrier))
}

/// How long a woken waiter gets to return: far beyond any scheduling delay.
const PROMPT: Duration = Duration::from_secs(10);

/// Lets blocked parties finish spinning and yielding (16 hints, 64 yields)
/// and park on the futex, so that what follows must wake *parked* threads.
fn let_them_park() {
    thread::sleep(Duration::from_millis(50));
}

/// Every kind of break (abort, a timeout, a panicking action, reset) fails
/// parties that are parked untimed, promptly, and afterwards the barrier
/// passes a full generation again.
#[test]
#[cfg_attr(
    miri,
    ignore = "leaks its barrier on purpose (a never-woken waiter must not hold the test); runs natively"
)]
fn every_break_wakes_parked_untimed_waiters_and_the_barrier_recovers() {
    let _dog = common::watchdog();
    #[derive(Debug, Clone, Copy)]
    enum Break {
        Abort,
        Timeout,
        ActionPanic,
        Reset,
    }
    use std::sync::atomic::AtomicBool;
    static PANIC_NEXT: AtomicBool = AtomicBool::new(false);
    let barrier = leaked(Barrier::with_action(3, || {
        if PANIC_NEXT.swap(false, Ordering::SeqCst) {
            panic!("action failed on purpose");
        }
    }));
    for kind in [
        Break::Abort,
        Break::Timeout,
        Break::ActionPanic,
        Break::Reset,
    ] {
        let what = format!("a parked untimed waiter after {kind:?}");
        // Untimed parties park: two of them, or one when this thread's
        // timeout is to break the generation (it must not be the last).
        let untimed = if matches!(kind, Break::Timeout) { 1 } else { 2 };
        let waiters: Vec<_> = (0..untimed)
            .map(|_| thread::spawn(move || barrier.wait()))
            .collect();
        poll("the untimed parties waiting", || {
            barrier.n_waiting() == untimed
        });
        let_them_park();
        match kind {
            Break::Abort => barrier.abort(),
            Break::Reset => barrier.reset(),
            Break::Timeout => assert_eq!(
                barrier.wait_timeout(Duration::from_millis(20)),
                Err(BarrierError::TimedOut)
            ),
            Break::ActionPanic => {
                PANIC_NEXT.store(true, Ordering::SeqCst);
                let r = panic::catch_unwind(AssertUnwindSafe(|| barrier.wait()));
                assert!(r.is_err(), "the leader resumes the action's panic");
            }
        }
        for w in waiters {
            assert_eq!(join_within(w, PROMPT, &what), Err(BarrierError::Broken));
        }
        barrier.reset();
        let passed = run_parties(3, |_| barrier.wait());
        assert_eq!(indices(passed), vec![0, 1, 2], "after {kind:?}");
    }
}

/// While the action runs the generation is full, yet the leader is not
/// waiting: `n_waiting()` reports `parties - 1`, as documented (Python's
/// `n_waiting` during the action).
#[test]
fn n_waiting_is_parties_minus_one_while_the_action_runs() {
    let _dog = common::watchdog();
    let gate = Gate::default();
    let barrier = Barrier::with_action(3, || gate.hold());
    let (during, results) = thread::scope(|s| {
        let parties: Vec<_> = (0..3).map(|_| s.spawn(|| barrier.wait())).collect();
        gate.wait_entered();
        let during = (barrier.n_waiting(), barrier.is_broken());
        gate.open(); // before asserting: a failed assert must not strand the leader
        let results: Vec<_> = parties.into_iter().map(|p| p.join().unwrap()).collect();
        (during, results)
    });
    assert_eq!(
        during,
        (2, false),
        "(n_waiting, is_broken) while the action runs"
    );
    assert_eq!(indices(results), vec![0, 1, 2]);
    assert_eq!(barrier.n_waiting(), 0);
}

/// A party whose own deadline passed while something else broke its
/// generation reports `TimedOut`, not `Broken`: its timeout elapsed before
/// the generation completed. To be sure its deadline has passed before it
/// looks, the party is stalled in a signal handler (as a preemption or a
/// debugger would stall it) across its deadline and the abort.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg_attr(miri, ignore = "Miri has no signals")]
#[test]
#[allow(unsafe_code)] // sigaction, pthread_kill: test set-up only.
fn a_broken_party_whose_deadline_passed_gets_timed_out() {
    use std::sync::atomic::AtomicBool;
    let _dog = common::watchdog();
    static STALLED: AtomicBool = AtomicBool::new(false);
    static RESUME: AtomicBool = AtomicBool::new(false);
    extern "C" fn stall(_: libc::c_int) {
        // Async-signal-safe: atomics only.
        STALLED.store(true, Ordering::SeqCst);
        while !RESUME.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    }
    // SAFETY: (test) all-zero is a valid `sigaction`.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = stall as extern "C" fn(libc::c_int) as usize;
    // SAFETY: (test) `action` is a valid sigaction; the old one is not read.
    let r = unsafe { libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()) };
    assert_eq!(r, 0);

    let barrier = leaked(Barrier::new(3));
    let timeout = Duration::from_millis(50);
    let (tx, rx) = std::sync::mpsc::channel();
    let party = thread::spawn(move || {
        // SAFETY: (test) pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        barrier.wait_timeout(timeout)
    });
    let pthread = rx.recv().unwrap();
    poll("the party waiting", || barrier.n_waiting() == 1);
    // SAFETY: (test) the thread runs until it returns from `wait_timeout`,
    // which it cannot do before its deadline, 50 ms away.
    assert_eq!(unsafe { libc::pthread_kill(pthread, libc::SIGUSR2) }, 0);
    // (A sanitizer may delay the signal past the party's own timeout: then
    // the party times out by itself, which must also read TimedOut.)
    poll("the party stalled", || {
        STALLED.load(Ordering::SeqCst) || party.is_finished()
    });
    thread::sleep(timeout + Duration::from_millis(20)); // its deadline passes
    barrier.abort(); // someone else breaks the generation
    RESUME.store(true, Ordering::SeqCst);
    assert_eq!(
        join_within(party, PROMPT, "the stalled party"),
        Err(BarrierError::TimedOut),
        "a party whose own deadline had passed"
    );
}
