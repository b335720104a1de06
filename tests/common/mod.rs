//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)] // Each test file uses a subset.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Polls (never sleeps a fixed time and hopes) until `f` holds; fails after
/// 30 s, naming `what`.
pub(crate) fn poll(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out polling for {what}"
        );
        thread::yield_now();
    }
}

/// A barrier action that holds the leader inside it until released, to test
/// what happens "while the action runs".
#[derive(Default)]
pub(crate) struct Gate {
    entered: AtomicBool,
    open: AtomicBool,
}

impl Gate {
    /// The action body: announce, then wait for `open`.
    pub(crate) fn hold(&self) {
        self.entered.store(true, Ordering::SeqCst);
        while !self.open.load(Ordering::SeqCst) {
            thread::yield_now();
        }
    }
    /// Returns once some thread is inside `hold`.
    pub(crate) fn wait_entered(&self) {
        poll("the action to start", || {
            self.entered.load(Ordering::SeqCst)
        });
    }
    /// Lets `hold` return.
    pub(crate) fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Races `cancel()` against a timer's deadline: a thread runs a timer of
/// `interval`; once it is inside `run`, this thread spins `spins` hints and
/// cancels. Checks that `run` and `cancel` tell the truth and exactly one of
/// them won; returns whether the function fired.
pub(crate) fn race_cancel(interval: Duration, spins: u64, what: &str) -> bool {
    let ran = AtomicBool::new(false);
    let timer = rallypoint::Timer::new(interval, || ran.store(true, Ordering::SeqCst));
    let started = AtomicBool::new(false);
    let (fired, cancelled) = thread::scope(|s| {
        let runner = s.spawn(|| {
            started.store(true, Ordering::SeqCst);
            timer.run()
        });
        // Cancel at varying distances from the deadline, not before the
        // runner even exists.
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        for _ in 0..spins {
            std::hint::spin_loop();
        }
        let cancelled = timer.cancel();
        (runner.join().unwrap(), cancelled)
    });
    let ran = ran.load(Ordering::SeqCst);
    assert_eq!(ran, fired, "{what}: run() must say whether it fired");
    assert_ne!(ran, cancelled, "{what}: fired={ran}, cancel()={cancelled}");
    ran
}
