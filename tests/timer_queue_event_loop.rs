//! `TimerQueue` driven by an event loop (`fire_due` + `set_driver_waker`)
//! and by nested drivers: the defects an outside review of the first
//! driver-waker change found (a fresh queue never parked; a wake before the
//! first registration silenced the park; nested driving invisible to the
//! own-driver guards). Each test failed on that change; bounded: a defect
//! fails a test, never hangs it (stuck helper threads are left behind,
//! detached).
#![cfg(all(not(loom), feature = "std"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod common;

use rallypoint::TimerQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// How long a test waits for what must happen (generous: the sanitizer
/// runs symbolise each deliberate panic's backtrace, which takes seconds);
/// the defects these tests pin make it wait for an hour or for ever.
const PATIENCE: Duration = Duration::from_secs(30);

/// Finding 1a. An event loop on a fresh queue: `fire_due()` returns `None`
/// ("nothing pending: sleep until woken") WITHOUT parking the queue,
/// because `Shared` is not allocated yet (`self.shared.get()?`). The loop
/// registers its waker (which allocates `Shared`) and sleeps. A timer
/// scheduled later from another thread sees no `PARKED` tag, wakes nobody:
/// the loop sleeps for good and the 10 ms timer never fires.
/// API.md "Async waits and timers" 9: a schedule that makes the earliest
/// deadline earlier wakes `w`.
#[test]
fn an_event_loop_on_a_fresh_queue_hears_of_its_first_timer() {
    let queue = Arc::new(TimerQueue::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (lp, st) = (Arc::clone(&queue), Arc::clone(&stop));
    let event_loop = thread::spawn(move || {
        let (_w, waker) = common::unpark_waker();
        while !st.load(Ordering::SeqCst) {
            // The documented order: fire, register before the sleep, sleep.
            let wait = lp.fire_due();
            lp.set_driver_waker(&waker);
            match wait {
                Some(d) => thread::park_timeout(d),
                None => thread::park(), // nothing pending: until woken
            }
        }
    });
    thread::sleep(Duration::from_millis(100)); // the loop sleeps
    let timer = queue.schedule(Duration::from_millis(10), || {});
    let fired = timer.wait_timeout(PATIENCE);
    stop.store(true, Ordering::SeqCst);
    event_loop.thread().unpark();
    assert!(
        fired,
        "a 10 ms timer scheduled while the event loop slept on a fresh queue did not fire within {PATIENCE:?}: \
         fire_due() on an unallocated queue left it unparked, so the schedule woke nobody"
    );
    queue.shutdown();
    event_loop.join().unwrap();
}

/// Finding 1b. `COVERED` is set by a wake that reached no waker (the loop's
/// first `fire_due`, then a schedule before its first `set_driver_waker`,
/// the order the repo's own test and docs use: "call it before each
/// sleep"). From then on every schedule of this park skips its wake, also
/// those made AFTER the waker was registered: here a 1 ms timer scheduled
/// after registration, earlier than everything pending, wakes nothing, and
/// the loop would sleep toward the 30-minute timer.
#[test]
fn a_wake_before_the_first_registration_does_not_silence_later_schedules() {
    let queue = Arc::new(TimerQueue::new());
    let _hour = queue.schedule(HOUR, || {});
    let wait = queue.fire_due().expect("a timer is pending");
    assert!(wait > Duration::from_secs(3500));
    // Between the loop's fire_due and its first registration, another
    // thread schedules an earlier timer: the wake finds no waker.
    let q = Arc::clone(&queue);
    let _half = thread::spawn(move || q.schedule(HOUR / 2, || {}))
        .join()
        .unwrap();
    let (w, waker) = common::unpark_waker();
    queue.set_driver_waker(&waker);
    // Now the loop would sleep (toward the hour). An earlier timer comes:
    let q = Arc::clone(&queue);
    let soon = thread::spawn(move || q.schedule(Duration::from_millis(1), || {}))
        .join()
        .unwrap();
    let wakes = w.wakes.load(Ordering::SeqCst);
    soon.cancel();
    queue.shutdown();
    assert!(
        wakes >= 1,
        "a 1 ms timer scheduled after set_driver_waker, earlier than every pending timer, \
         did not wake the registered waker (COVERED was set by a wake that reached no waker)"
    );
}

/// Queue A driven by a thread in `run()`, and queue B, which A's callbacks
/// pump with `fire_due` (a nested event loop on A's driver thread).
fn outer_driven_inner_pumped() -> (Arc<TimerQueue>, Arc<TimerQueue>, thread::JoinHandle<()>) {
    let a = Arc::new(TimerQueue::new());
    let driver = thread::spawn({
        let a = Arc::clone(&a);
        move || a.run()
    });
    (a, Arc::new(TimerQueue::new()), driver)
}

/// Finding 2. The "own driver" record is one thread-local pointer, the
/// innermost queue driven. A callback of queue A that pumps queue B with
/// `B.fire_due()` (a nested event loop) runs B's callbacks on A's driver
/// thread, but there `current::drives(A)` is false: B's callback calling
/// `A.shutdown()` waits for A's drain, which waits for this very callback
/// (deadlock; with `std` this case is supposed to return at once), and a
/// `wait()` on a pending A timer hangs A's driver instead of panicking.
#[test]
fn shutdown_from_a_nested_queues_callback_on_the_drivers_thread_returns() {
    let (a, b, driver) = outer_driven_inner_pumped();
    let (tx, rx) = mpsc::channel();
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    let _outer = a.schedule(Duration::ZERO, move || {
        let a3 = Arc::clone(&a2);
        let _inner = b2.schedule(Duration::ZERO, move || a3.shutdown());
        let _ = b2.fire_due(); // pump the sub-queue
        let _ = tx.send(());
    });
    let returned = rx.recv_timeout(PATIENCE).is_ok();
    assert!(
        returned,
        "A.shutdown() called from B's callback, nested in A's callback on A's driver thread, \
         deadlocked (it waits for A's drain, which waits for this callback)"
    );
    driver.join().unwrap();
}

/// Finding 2, second face: `wait()` on a pending timer of queue A from a
/// callback of B nested in A's callback hangs A's driver; the refusal
/// panic (issue 19, item 8) does not see it.
#[test]
fn waiting_on_an_outer_queues_timer_from_a_nested_callback_is_refused() {
    let (a, b, driver) = outer_driven_inner_pumped();
    let pending = a.schedule(HOUR, || {});
    let (tx, rx) = mpsc::channel();
    let b2 = Arc::clone(&b);
    let _outer = a.schedule(Duration::ZERO, move || {
        let p = pending.clone();
        let inner = b2.schedule(Duration::ZERO, move || p.wait());
        let _ = b2.fire_due();
        let _ = tx.send(inner.join().is_err()); // refused: the inner callback panicked
    });
    let started = Instant::now();
    let refused = rx.recv_timeout(PATIENCE);
    assert_eq!(
        refused,
        Ok(true),
        "after {:?}: a wait on an outer queue's pending timer from a nested callback hung the outer driver \
         instead of being refused",
        started.elapsed()
    );
    a.shutdown();
    driver.join().unwrap();
}
