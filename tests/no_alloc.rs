//! Zero allocations on every core path, proven with a counting global
//! allocator rather than claimed. (No locks either: the crate contains no
//! lock type at all outside `cfg(loom)`; `grep -r Mutex src` shows it.)
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use common::counting_alloc::{allocations_in, Counting};
use rallypoint::{Barrier, BarrierError, Timer};
use std::thread;
use std::time::Duration;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn barrier_paths_allocate_nothing() {
    let _dog = common::watchdog();
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        // Both sides of many generations: spinning, parking and the leader.
        let other = s.spawn(|| {
            allocations_in(|| {
                for _ in 0..2000 {
                    barrier.wait().unwrap();
                }
            })
            .1
        });
        let (_, mine) = allocations_in(|| {
            for i in 0..2000 {
                if i % 100 == 0 {
                    thread::sleep(Duration::from_micros(200)); // make the other park
                }
                barrier.wait().unwrap();
            }
        });
        assert_eq!(mine, 0);
        assert_eq!(other.join().unwrap(), 0);
    });

    let (_, n) = allocations_in(|| {
        assert_eq!(
            barrier.wait_timeout(Duration::from_millis(2)),
            Err(BarrierError::TimedOut)
        );
        assert_eq!(barrier.wait(), Err(BarrierError::Broken));
        barrier.abort();
        barrier.reset();
        let _ = (barrier.n_waiting(), barrier.is_broken(), barrier.parties());
    });
    assert_eq!(n, 0, "wait_timeout / abort / reset allocated");

    // Reset and abort with a parked waiter, and the action path.
    let with_action = Barrier::with_action(2, || {});
    thread::scope(|s| {
        let waiter = s.spawn(|| allocations_in(|| with_action.wait()));
        common::poll("the waiter to block", || with_action.n_waiting() == 1);
        let (_, n) = allocations_in(|| with_action.reset());
        assert_eq!(n, 0);
        let (r, n) = waiter.join().unwrap();
        assert_eq!((r, n), (Err(BarrierError::Broken), 0));
    });
    thread::scope(|s| {
        let waiter = s.spawn(|| allocations_in(|| with_action.wait().map(|_| ())).1);
        let (_, n) = allocations_in(|| with_action.wait().unwrap());
        assert_eq!((n, waiter.join().unwrap()), (0, 0));
    });
}

#[test]
fn timer_core_paths_allocate_nothing() {
    let _dog = common::watchdog();
    let timer = Timer::new(Duration::from_millis(5), || {});
    thread::scope(|s| {
        let waiter = s.spawn(|| allocations_in(|| timer.wait()).1);
        let (fired, n) = allocations_in(|| timer.run());
        assert!(fired);
        assert_eq!((n, waiter.join().unwrap()), (0, 0));
    });
    let (_, n) = allocations_in(|| {
        let _ = (
            timer.state(),
            timer.is_finished(),
            timer.cancel(),
            timer.wait_timeout(Duration::ZERO),
        );
    });
    assert_eq!(n, 0);

    let long = Timer::new(Duration::from_secs(3600), || {});
    thread::scope(|s| {
        let runner = s.spawn(|| allocations_in(|| long.run()));
        thread::sleep(Duration::from_millis(10));
        let (cancelled, n) = allocations_in(|| long.cancel());
        assert!(cancelled);
        assert_eq!(n, 0);
        assert_eq!(runner.join().unwrap(), (false, 0));
    });
}

#[test]
fn phaser_paths_allocate_nothing() {
    use rallypoint::Phaser;
    let phaser = Phaser::with_action(2, || {});
    thread::scope(|s| {
        // Both sides of many phases: split and blocking, spinning, parking
        // and the completing arrival's action.
        let other = s.spawn(|| {
            allocations_in(|| {
                for _ in 0..1000 {
                    phaser.arrive_and_wait().unwrap();
                    let token = phaser.arrive().unwrap();
                    phaser.wait(token).unwrap();
                }
            })
            .1
        });
        let (_, mine) = allocations_in(|| {
            for i in 0..1000 {
                if i % 100 == 0 {
                    thread::sleep(Duration::from_micros(200)); // make the other park
                }
                phaser
                    .arrive_and_wait_timeout(Duration::from_secs(30))
                    .unwrap();
                let token = phaser.arrive().unwrap();
                phaser.wait_timeout(token, Duration::from_secs(30)).unwrap();
            }
        });
        assert_eq!(mine, 0);
        assert_eq!(other.join().unwrap(), 0);
    });
    let p = phaser.phase();
    let (_, n) = allocations_in(|| {
        assert_eq!(phaser.register(), Ok(p));
        assert_eq!(phaser.register_many(2), Ok(p));
        let token = phaser.arrive_and_drop().unwrap();
        assert_eq!(
            phaser.wait_timeout(token, Duration::ZERO),
            Err(BarrierError::TimedOut)
        );
        assert_eq!(
            phaser.arrive_and_wait_timeout(Duration::from_millis(1)),
            Err(BarrierError::TimedOut)
        );
        phaser.abort();
        phaser.reset();
        assert_eq!(phaser.wait(token), Err(BarrierError::Broken));
        let _ = (
            phaser.parties(),
            phaser.arrived(),
            phaser.phase(),
            phaser.is_broken(),
        );
    });
    assert_eq!(n, 0, "register / drop / timeouts / abort / reset allocated");
    // Reset with a parked waiter.
    thread::scope(|s| {
        let waiter = s.spawn(|| allocations_in(|| phaser.arrive_and_wait()));
        common::poll("the waiter to arrive", || phaser.arrived() == 1);
        let (_, n) = allocations_in(|| phaser.reset());
        assert_eq!(n, 0);
        let (r, n) = waiter.join().unwrap();
        assert_eq!((r.map(|_| ()), n), (Err(BarrierError::Broken), 0));
    });
}
