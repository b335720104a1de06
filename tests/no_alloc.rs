//! Zero allocations on every core path, proven with a counting global
//! allocator rather than claimed. (No locks either: the crate contains no
//! lock type at all outside `cfg(loom)`; `grep -r Mutex src` shows it.)
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.
#![allow(unsafe_code)] // The counting allocator; no unsafe touches rallypoint.

mod common;

use rallypoint::{Barrier, BarrierError, Timer};
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::thread;
use std::time::Duration;

/// Counts allocations made by the *current thread* while `COUNTING` is set,
/// so the test harness's own threads cannot disturb the count.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                ALLOCATIONS.with(|a| a.set(a.get() + 1));
            }
        });
        // SAFETY: same contract as ours.
        unsafe { backing::alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { backing::dealloc(ptr, layout) }
    }
}

/// Where the counted allocations really come from: the system allocator.
#[cfg(not(all(miri, windows)))]
mod backing {
    use std::alloc::{GlobalAlloc, Layout, System};
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    pub(crate) unsafe fn alloc(layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    /// # Safety
    /// `GlobalAlloc::dealloc`'s contract.
    pub(crate) unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller keeps `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Under Miri on Windows, std's `System` allocator trips Stacked and Tree
/// Borrows on its own: over-aligned blocks keep a header *before* the
/// pointer, outside the range the freed `Box` may access (rust-lang/miri
/// #2104, open). Miri's own allocator hooks have no header, so the test
/// still counts every allocation on that target.
#[cfg(all(miri, windows))]
mod backing {
    use std::alloc::Layout;
    extern "Rust" {
        fn miri_alloc(size: usize, align: usize) -> *mut u8;
        fn miri_dealloc(ptr: *mut u8, size: usize, align: usize);
    }
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    pub(crate) unsafe fn alloc(layout: Layout) -> *mut u8 {
        // SAFETY: Miri provides this function; any non-zero-size layout is valid.
        unsafe { miri_alloc(layout.size(), layout.align()) }
    }
    /// # Safety
    /// `GlobalAlloc::dealloc`'s contract.
    pub(crate) unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `miri_alloc` with this layout (the caller's contract).
        unsafe { miri_dealloc(ptr, layout.size(), layout.align()) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

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
