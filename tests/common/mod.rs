//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)] // Each test file uses a subset.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

pub(crate) mod counting_alloc;

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

/// The host's monotonic clock as a `set_clock` clock: time since its first
/// reading.
#[cfg(rallypoint_force_spin)]
fn host_clock() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Under `--cfg rallypoint_force_spin` the wait layer is the no-OS spin
/// backend, whose timed waits read the clock the application registers
/// (`rallypoint::set_clock`): every test that starts a [`watchdog`]
/// registers the host's, as firmware would register a hardware timer's.
/// The first registration is final; later calls are no-ops.
#[cfg(rallypoint_force_spin)]
pub(crate) fn register_host_clock() {
    rallypoint::set_clock(host_clock);
}

/// How long a test may block before its watchdog fails it: generous, so a
/// slow machine never trips it, short enough that a lost wake-up is a named
/// failure within minutes rather than a CI job that hangs until it is killed.
pub(crate) const HANG_LIMIT: Duration = Duration::from_secs(60);

/// A per-test watchdog. Create one at the top of any test that can block
/// untimed: if the test is still running after [`HANG_LIMIT`], the watchdog
/// names the test (the harness names each test's thread after it) on stderr
/// and exits the whole test binary with a failure, so that a lost wake-up
/// fails CI instead of stalling it. Dropping the guard disarms it.
///
/// A no-op under Miri, whose runs are orders of magnitude slower (CI bounds
/// each Miri step with `timeout` instead).
#[must_use = "the watchdog is disarmed when the guard drops"]
pub(crate) struct Watchdog {
    #[cfg(not(miri))]
    inner: Option<(std::sync::Arc<AtomicBool>, thread::JoinHandle<()>)>,
}

pub(crate) fn watchdog() -> Watchdog {
    watchdog_for(HANG_LIMIT)
}

pub(crate) fn watchdog_for(limit: Duration) -> Watchdog {
    #[cfg(rallypoint_force_spin)]
    register_host_clock();
    #[cfg(miri)]
    {
        let _ = limit;
        Watchdog {}
    }
    #[cfg(not(miri))]
    {
        let name = thread::current()
            .name()
            .unwrap_or("<unnamed test>")
            .to_owned();
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&done);
        let dog = thread::Builder::new()
            .name(format!("watchdog for {name}"))
            .spawn(move || {
                let start = Instant::now();
                while !flag.load(Ordering::SeqCst) {
                    if start.elapsed() > limit {
                        // Straight to the file descriptor: the harness captures
                        // `eprintln!` per test and would swallow it on exit.
                        use std::io::Write;
                        let _ = writeln!(
                            std::io::stderr(),
                            "WATCHDOG: test `{name}` still blocked after {limit:?}: \
                             a lost wake-up or a deadlock; failing the test binary"
                        );
                        std::process::exit(101);
                    }
                    thread::park_timeout(Duration::from_millis(100));
                }
            })
            .expect("spawn the watchdog");
        Watchdog {
            inner: Some((done, dog)),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        #[cfg(not(miri))]
        if let Some((done, dog)) = self.inner.take() {
            done.store(true, Ordering::SeqCst);
            dog.thread().unpark();
            let _ = dog.join();
        }
    }
}

/// Waits up to `limit` for a thread spawned with `std::thread::spawn` (not
/// scoped: a scope would wait for a hung thread forever) and returns its
/// result; panics naming `what` if it is still running, so a lost wake-up
/// is a test failure, not a hang. The hung thread is left behind; the
/// process ends with the test binary.
pub(crate) fn join_within<T>(handle: thread::JoinHandle<T>, limit: Duration, what: &str) -> T {
    let start = Instant::now();
    while !handle.is_finished() {
        assert!(
            start.elapsed() < limit,
            "{what}: still blocked after {limit:?} (a lost wake-up?)"
        );
        thread::sleep(Duration::from_millis(1));
    }
    handle.join().unwrap()
}

/// Races `cancel()` against a timer's deadline, aimed: a thread runs a
/// timer of `interval`; this thread cancels at `aim` after the moment the
/// runner called `run` (`aim` may fall before or after the deadline, and
/// may be negative: then the cancel goes out at once). Checks that `run`
/// and `cancel` tell the truth and exactly one of them won, and that a
/// fire never came before the deadline. Returns whether the function fired.
pub(crate) fn race_cancel_at(interval: Duration, aim: i64, what: &str) -> bool {
    let fired_at = std::sync::Mutex::new(None);
    let timer = rallypoint::Timer::new(interval, || {
        *fired_at.lock().unwrap() = Some(Instant::now());
    });
    let called = std::sync::OnceLock::new();
    let (fired, cancelled) = thread::scope(|s| {
        let runner = s.spawn(|| {
            called.set(Instant::now()).unwrap();
            timer.run()
        });
        let start = loop {
            if let Some(t) = called.get() {
                break *t;
            }
            std::hint::spin_loop();
        };
        let at = if aim >= 0 {
            start + Duration::from_nanos(aim as u64)
        } else {
            start
        };
        while Instant::now() < at {
            std::hint::spin_loop();
        }
        let cancelled = timer.cancel();
        (runner.join().unwrap(), cancelled)
    });
    let fired_at = *fired_at.lock().unwrap();
    assert_eq!(
        fired_at.is_some(),
        fired,
        "{what}: run() must say whether it fired"
    );
    assert_ne!(
        fired, cancelled,
        "{what}: fired={fired}, cancel()={cancelled}"
    );
    if let Some(at) = fired_at {
        let start = *called.get().unwrap();
        assert!(
            at - start >= interval,
            "{what}: fired {:?} after run(), before its {interval:?} interval",
            at - start
        );
    }
    fired
}

/// CPU time used so far, by the process or the calling thread
/// (`libc::CLOCK_PROCESS_CPUTIME_ID` / `CLOCK_THREAD_CPUTIME_ID`): the tests
/// that check a waiter parks instead of spinning measure with it.
#[cfg(all(unix, not(miri)))]
#[allow(unsafe_code)] // clock_gettime: test measurement only.
pub(crate) fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: (test) `t` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A driver waker for event-loop tests: unparks the thread that made it
/// and counts its wakes.
pub(crate) struct Unpark {
    pub(crate) thread: thread::Thread,
    pub(crate) wakes: std::sync::atomic::AtomicUsize,
}

impl std::task::Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// An [`Unpark`] for the calling thread, and its `Waker`.
pub(crate) fn unpark_waker() -> (std::sync::Arc<Unpark>, std::task::Waker) {
    let w = std::sync::Arc::new(Unpark {
        thread: thread::current(),
        wakes: std::sync::atomic::AtomicUsize::new(0),
    });
    (std::sync::Arc::clone(&w), std::task::Waker::from(w))
}
