//! `TimerQueue` memory, measured with a counting global allocator: one
//! allocation per scheduled timer and none in `cancel`, `state`, `wait` or a
//! driver turn; bytes per pending timer; and cancelled timers' memory back
//! right after the cancels, not at their due times.
#![cfg(all(not(loom), feature = "std"))] // Loom runs loom-tests/ only; these need `std`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use common::counting_alloc::{allocations_in, Counting, LIVE};
use rallypoint::{ScheduledTimer, TimerQueue, TimerState};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests measure process-wide live bytes: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn n(full: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

#[test]
fn one_allocation_per_timer_and_none_in_cancel_state_wait_or_the_driver() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let queue = TimerQueue::new();
    drop(queue.schedule(Duration::ZERO, || {})); // allocates the queue's state once
    queue.fire_due();
    let count = n(1000, 4);
    let payload = [7u64; 4];
    let mut timers = Vec::with_capacity(2 * count);
    let ((), allocations) = allocations_in(|| {
        for i in 0..count {
            timers.push(
                queue.schedule(Duration::from_secs(3600 + i as u64), move || {
                    std::hint::black_box(payload);
                }),
            );
            timers.push(queue.schedule_repeating(Duration::from_secs(60), || {}));
        }
    });
    assert_eq!(allocations, 2 * count, "one allocation per scheduled timer");

    // The driver files them, fires due ones, takes cancel messages: no
    // allocation.
    let due = queue.schedule(Duration::ZERO, || {});
    let (_, allocations) = allocations_in(|| queue.fire_due());
    assert_eq!(allocations, 0, "a driver turn");
    let (_, allocations) = allocations_in(|| {
        let clone = due.clone();
        let _ = (
            clone.state(),
            clone.is_finished(),
            clone.runs(),
            clone.missed(),
        );
        clone.wait();
        assert!(clone.wait_timeout(Duration::ZERO));
        let _ = (queue.len(), queue.is_empty(), queue.is_shut_down());
        for t in &timers {
            assert!(t.cancel());
            let _ = (t.state(), t.is_finished());
            t.wait();
        }
        queue.fire_due(); // takes the cancel messages
    });
    assert_eq!(
        allocations, 0,
        "cancel / state / wait / clone / len / fire_due"
    );

    // A waiter that parks, and a driver that parks and is woken.
    thread::scope(|s| {
        let driver = s.spawn(|| allocations_in(|| queue.run()).1);
        let timer = queue.schedule(Duration::from_millis(20), || {});
        let waiter = {
            let timer = timer.clone();
            s.spawn(move || allocations_in(|| timer.wait()).1)
        };
        let (_, mine) = allocations_in(|| timer.wait());
        assert_eq!((mine, waiter.join().unwrap()), (0, 0));
        queue.shutdown();
        assert_eq!(driver.join().unwrap(), 0, "run(): park, wake, fire, drain");
    });
}

/// Bytes of one node beyond its closure, from the allocator's count.
#[test]
fn bytes_per_pending_timer_and_memory_back_right_after_cancels() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let count = n(100_000, 100);
    let queue = TimerQueue::new();
    let payload = [1u64; 4]; // a 32-byte closure
    thread::scope(|s| {
        let driver = s.spawn(|| queue.run());
        // A failed assertion must fail the test, not leave the scope
        // waiting for the driver.
        struct ShutDownOnDrop<'a>(&'a TimerQueue);
        impl Drop for ShutDownOnDrop<'_> {
            fn drop(&mut self) {
                self.0.shutdown();
            }
        }
        let _guard = ShutDownOnDrop(&queue);
        drop(queue.schedule(Duration::ZERO, || {}));
        let mut timers: Vec<ScheduledTimer> = Vec::with_capacity(count);
        common::poll("the warm-up timer", || queue.is_empty());
        let base = LIVE.load(Ordering::SeqCst);
        for i in 0..count {
            timers.push(
                queue.schedule(Duration::from_secs(3600 + (i % 1000) as u64), move || {
                    std::hint::black_box(payload);
                }),
            );
        }
        let pending = LIVE.load(Ordering::SeqCst) - base;
        let per_timer = pending as f64 / count as f64;
        let beyond_closure = per_timer - std::mem::size_of_val(&payload) as f64;
        println!(
            "{per_timer:.1} bytes per pending timer ({beyond_closure:.1} beyond a 32-byte closure)"
        );
        if cfg!(target_pointer_width = "64") {
            assert!(
                beyond_closure <= 64.0,
                "{beyond_closure} bytes beyond the closure"
            );
        }
        // Cancel every one (dropping the handles), long before it is due.
        let start = Instant::now();
        for t in timers.drain(..) {
            assert!(t.cancel());
        }
        common::poll("cancelled timers' memory to come back", || {
            LIVE.load(Ordering::SeqCst) - base < 64 * 1024
        });
        let took = start.elapsed();
        println!("{count} cancels: memory back to baseline + <64 KiB after {took:?}");
        assert!(took < Duration::from_secs(600), "not at their due time");
        assert_eq!(queue.len(), 0);
        queue.shutdown();
        driver.join().unwrap();
    });
    assert_eq!(
        queue.schedule(Duration::ZERO, || {}).state(),
        TimerState::Cancelled
    );
}

/// A lone cancelled timer's memory comes back without waiting for its due
/// time (API 9), also while the driver sleeps in `run()`: the node (here
/// with a 128 KiB closure in it) is freed within a second of the cancel.
/// Today a cancel wakes the sleeping driver only once per 64 cancel
/// messages, so the node stays until the driver wakes for the timer's due
/// time (4 s).
#[test]
#[cfg_attr(miri, ignore = "a wall-clock bound")]
fn a_lone_cancelled_timers_memory_comes_back_before_its_due_time() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _dog = common::watchdog();
    const BIG: usize = 128 * 1024;
    let queue = std::sync::Arc::new(TimerQueue::new());
    let q = std::sync::Arc::clone(&queue);
    let driver = thread::spawn(move || q.run());
    // The queue's state allocated, the driver idle (parked).
    let warm_up = queue.schedule(Duration::ZERO, || {});
    assert!(warm_up.wait_timeout(Duration::from_secs(30)));
    drop(warm_up);
    let base = LIVE.load(Ordering::SeqCst);
    let big = [7u8; BIG];
    let timer = queue.schedule(Duration::from_secs(4), move || {
        std::hint::black_box(&big);
    });
    // The node is counted (other threads may free a few bytes meanwhile:
    // the warm-up node's last reference, a platform's thread-local data).
    assert!(LIVE.load(Ordering::SeqCst) - base > (BIG / 2) as isize);
    thread::sleep(Duration::from_millis(50)); // the driver files it and sleeps
    assert!(timer.cancel());
    let cancelled = Instant::now();
    drop(timer);
    let mut back = None;
    while cancelled.elapsed() < Duration::from_secs(1) {
        if LIVE.load(Ordering::SeqCst) - base < (BIG / 2) as isize {
            back = Some(cancelled.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    let still = LIVE.load(Ordering::SeqCst) - base;
    queue.shutdown();
    common::join_within(
        driver,
        Duration::from_secs(30),
        "the driver after shutdown()",
    );
    assert!(
        back.is_some(),
        "a cancelled timer's 128 KiB node still allocated 1 s after the cancel \
         ({still} bytes above the baseline)"
    );
}
