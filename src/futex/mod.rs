//! The wait layer: park a thread on a 32-bit atomic word until it changes.
//!
//! # Contract
//!
//! Every backend (one file per OS, identical signatures) provides:
//!
//! - [`wait`]`(word, expected, deadline) -> bool`: if `word` still holds
//!   `expected`, sleep until woken, until `deadline` passes, or spuriously.
//!   Returns `false` **only** when the deadline has passed (by this module's
//!   own monotonic clock, never on a bare "timed out" from the OS), and
//!   `true` otherwise, *including* spurious returns. Callers therefore loop
//!   on their own predicate and never treat `true` as "the value changed".
//! - [`wake_all`]`(word)`: wake every thread sleeping in [`wait`] on this
//!   word (Barrier and Timer always release every waiter, so there is no
//!   `wake_one`). A wake with no sleeper is harmless.
//! - [`now`]: a monotonic clock (the same one the OS uses for the deadline).
//!
//! A wait that enters the kernel after a wake was issued does not sleep: the
//! kernel compares `*word` with `expected` atomically with queueing the
//! waiter. So "store new value, then wake" on one side and "see old value,
//! then wait(expected = old)" on the other never loses a wake-up. (The std
//! fallback, `fallback.rs`, gets the same from re-checking the word under a
//! bucket lock that wakers also take.) That is the
//! only synchronisation this layer promises; all memory ordering comes from
//! the atomic operations on the word itself (see SAFETY.md, "2. Wait layer").
//!
//! Deadlines are absolute points on [`now`]'s clock, computed once by the
//! caller, so a retry after `EINTR` or a spurious wake never stretches a
//! timeout. A deadline too far away to represent is `None`: "wait forever",
//! never an overflow and never an immediate timeout.
//!
//! The shape (free functions, not a trait, one backend compiled in) is that
//! of std's `sys::sync::futex` and the `atomic-wait` crate.

use crate::sync::AtomicU32;
use core::num::NonZeroU64;
use core::time::Duration;

// Backend selection, checked in this order (each `cfg` below excludes the
// ones before it, so exactly one `imp` is compiled):
//
// | Condition                                    | Backend          |
// |----------------------------------------------|------------------|
// | `cfg(loom)`                                  | `loom.rs`        |
// | `cfg(rallypoint_force_spin)`                 | `spin.rs` (test-only cfg: runs the no-OS backend on any host) |
// | `cfg(rallypoint_force_fallback)` + `std`     | `fallback.rs` (test-only cfg: runs the fallback on any host) |
// | Linux, Android                               | `linux.rs`       |
// | FreeBSD                                      | `freebsd.rs`     |
// | Windows                                      | `windows.rs`     |
// | Apple                                        | `apple.rs`       |
// | OpenBSD                                      | `openbsd.rs`     |
// | NetBSD                                       | `netbsd.rs`      |
// | DragonFly BSD                                | `dragonfly.rs`   |
// | Fuchsia                                      | `fuchsia.rs`     |
// | Emscripten with the `atomics` target feature | `emscripten.rs`  |
// | other wasm32 with the `atomics` target feature | `wasm.rs`      |
// | any other OS, with the `std` feature         | `fallback.rs`    |
// | no OS (`target_os = "none"`, wasm32/64-unknown-unknown), or no `std` | `spin.rs` |
//
// `target_feature = "atomics"` is visible to `cfg` only on nightly (it is
// an unstable target feature), which is also the only way to build wasm
// threads outside wasm32-wasip1-threads; on stable, wasm32-wasip1-threads
// and Emscripten take `fallback.rs`, whose `std::sync::Condvar` parks with
// the same `memory.atomic.wait32` underneath.
//
// `build.rs` applies this table once and sets `rallypoint_backend` to the
// chosen file's name (loom builds ignore it), so each backend below needs
// one `cfg` and the list of OSes with a native futex exists in one place.

#[cfg(loom)]
#[path = "loom.rs"]
mod imp;

// A build that skips `build.rs` (some non-cargo build systems) gets this
// message instead of "cannot find module `imp`".
#[cfg(all(
    not(loom),
    not(any(
        rallypoint_backend = "linux",
        rallypoint_backend = "freebsd",
        rallypoint_backend = "windows",
        rallypoint_backend = "apple",
        rallypoint_backend = "openbsd",
        rallypoint_backend = "netbsd",
        rallypoint_backend = "dragonfly",
        rallypoint_backend = "fuchsia",
        rallypoint_backend = "emscripten",
        rallypoint_backend = "wasm",
        rallypoint_backend = "fallback",
        rallypoint_backend = "spin"
    ))
))]
compile_error!(
    "rallypoint: no `rallypoint_backend` cfg: the crate's build script (build.rs) must run; \
     it selects the wait layer for the target (or pass `--cfg rallypoint_backend=\"...\"` \
     with a name from the table in src/futex/mod.rs)"
);

#[cfg(all(
    not(loom),
    any(
        rallypoint_backend = "linux",
        rallypoint_backend = "freebsd",
        rallypoint_backend = "apple",
        rallypoint_backend = "openbsd",
        rallypoint_backend = "netbsd",
        rallypoint_backend = "dragonfly",
        rallypoint_backend = "emscripten"
    )
))]
#[allow(unsafe_code)]
mod unix;

#[cfg(all(not(loom), rallypoint_backend = "linux"))]
#[allow(unsafe_code)]
#[path = "linux.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "freebsd"))]
#[allow(unsafe_code)]
#[path = "freebsd.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "windows"))]
#[allow(unsafe_code)]
#[path = "windows.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "apple"))]
#[allow(unsafe_code)]
#[path = "apple.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "openbsd"))]
#[allow(unsafe_code)]
#[path = "openbsd.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "netbsd"))]
#[allow(unsafe_code)]
#[path = "netbsd.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "dragonfly"))]
#[allow(unsafe_code)]
#[path = "dragonfly.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "fuchsia"))]
#[allow(unsafe_code)]
#[path = "fuchsia.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "emscripten"))]
#[allow(unsafe_code)]
#[path = "emscripten.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "wasm"))]
#[allow(unsafe_code)]
#[path = "wasm.rs"]
mod imp;

// An OS without a futex-like call (illumos, Solaris, AIX, Haiku, Hurd, QNX,
// VxWorks, Redox, ..., and the wasm targets above without `atomics`), with
// `std`: park on a table of std Mutex + Condvar buckets. Also on any host
// with `cfg(rallypoint_force_fallback)` (test-only).
#[cfg(all(not(loom), rallypoint_backend = "fallback"))]
#[path = "fallback.rs"]
mod imp;

// No OS, or no `std` on an OS without a futex: spin. Also on any host with
// `cfg(rallypoint_force_spin)` (test-only: runs the no-OS backend natively,
// with the clock the tests register; it wins over the forced fallback).
#[cfg(all(not(loom), rallypoint_backend = "spin"))]
#[path = "spin.rs"]
mod imp;

// The clock `set_clock` registers, read by the backends whose target has no
// OS clock (spin.rs; wasm.rs off WASI). Compiled everywhere, so `set_clock`
// exists on every target.
#[allow(unsafe_code)]
mod registered_clock;

#[cfg(all(
    not(loom),
    feature = "std",
    any(target_os = "linux", target_os = "android")
))]
#[allow(unsafe_code)]
mod cpus;

// The no-OS and std-fallback backends are also compiled on hosts with a
// native backend, for their own unit tests, so that the code bare-metal and
// futex-less users run is tested here too. (Under `rallypoint_force_spin`
// the spin backend is `imp` itself; its unit test registers a fake clock,
// which the other unit tests' timed waits would then read: with that cfg,
// run the integration tests, which register the host's clock.)
#[cfg(all(test, not(loom), feature = "std"))]
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
#[path = "fallback.rs"]
mod fallback;
#[cfg(all(test, not(loom), not(rallypoint_force_spin)))]
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
#[path = "spin.rs"]
mod spin;

/// Registers the monotonic clock that timed waits use on targets where the
/// operating system provides none.
///
/// `now` must return the time since any fixed origin, never going backwards
/// (a hardware timer's tick count converted to a `Duration`, for example).
/// Call it once at start-up, before any timed wait. The first registration
/// is final: every later call is ignored (a deadline computed on one clock
/// cannot be compared with another: it would wake early or very late).
///
/// Where the registered clock is read:
///
/// | Target | Clock of timed waits | `set_clock` |
/// |---|---|---|
/// | No OS (`target_os = "none"`: `thumbv7em-none-eabihf`, `riscv32imac-unknown-none-elf`, …), `wasm32-unknown-unknown`, `wasm64-unknown-unknown`, and any OS built without the `std` feature whose wait layer is the spin backend | the registered clock | **required** before the first timed wait |
/// | Every target with an OS clock: Linux, Android, Windows, Apple, the BSDs, Fuchsia, WASI, Emscripten, and every other OS with `std` | the OS's monotonic clock | a no-op: the clock is stored and never read |
///
/// So code that builds for both firmware and its host (for the firmware's
/// unit tests, say) calls `set_clock` unconditionally.
///
/// # Panics
///
/// Never. But a timed wait (`Barrier::wait_timeout`, a barrier with a
/// default timeout, `Timer::run`, `Timer::wait_timeout`) on a target of the
/// first row panics if no clock was registered.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use core::time::Duration;
///
/// // On a microcontroller this would read a free-running hardware timer;
/// // here a counter that a timer interrupt advances once per millisecond.
/// static MILLIS: AtomicU64 = AtomicU64::new(0);
///
/// fn board_clock() -> Duration {
///     Duration::from_millis(MILLIS.load(Ordering::Relaxed))
/// }
///
/// fn main() {
///     rallypoint::set_clock(board_clock); // once, at start-up
///
///     // The timer interrupt (simulated): 5 ms pass.
///     MILLIS.fetch_add(5, Ordering::Relaxed);
///
///     // Timed waits now work on a target without an OS; with an OS (as
///     // when this example runs as a doctest) the OS clock is used.
///     let barrier = rallypoint::Barrier::new(2);
///     assert!(barrier.wait_timeout(Duration::ZERO).is_err());
/// }
/// ```
#[inline]
pub fn set_clock(now: fn() -> Duration) {
    registered_clock::set(now);
}

/// How many CPUs this process may run on, if the OS says so without
/// allocating (`None`: unknown). Asked once per process by `sync::Backoff`,
/// and only with `std` (without it a waiter cannot yield, so the count
/// would change nothing).
#[cfg(all(not(loom), feature = "std"))]
pub(crate) fn cpus() -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        cpus::cpus()
    }
    // Elsewhere std's answer allocates nothing (`sysconf`, `GetSystemInfo`,
    // `cpuset_getaffinity`); only its Linux cgroup reading does.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        extern crate std;
        std::thread::available_parallelism()
            .ok()
            .map(core::num::NonZeroUsize::get)
    }
}

/// Sleeps while `*word == expected`, until woken or `deadline` passes.
///
/// Returns `false` only if the deadline has passed; may return `true`
/// spuriously. See the module docs for the full contract.
#[inline]
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    imp::wait(word, expected, deadline)
}

/// Wakes every thread sleeping in [`wait`] on `word`.
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) {
    imp::wake_all(word);
}

/// The monotonic clock that deadlines are measured on, as time since an
/// arbitrary (per-boot or per-process) origin.
#[inline]
pub(crate) fn now() -> Duration {
    imp::now()
}

/// An absolute point in time on [`now`]'s clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline {
    at: Duration,
}

impl Deadline {
    /// The deadline `timeout` from now, or `None` ("never") when `timeout`
    /// is `Duration::MAX` or the sum overflows.
    #[inline]
    pub(crate) fn after(timeout: Duration) -> Option<Self> {
        if timeout == Duration::MAX {
            return None;
        }
        now().checked_add(timeout).map(|at| Self { at })
    }

    /// The deadline `at` after the clock's origin.
    #[inline]
    #[allow(dead_code)] // used by the no-OS backend's tests
    pub(crate) fn at(at: Duration) -> Self {
        Self { at }
    }

    /// Whether the deadline has passed on [`now`]'s clock.
    ///
    /// Under loom time is not modelled: every finite deadline counts as
    /// passed, so the models explore each timeout racing each other step.
    #[inline]
    pub(crate) fn has_passed(self) -> bool {
        #[cfg(loom)]
        {
            let _ = self;
            true
        }
        #[cfg(not(loom))]
        {
            now() >= self.at
        }
    }

    /// The time left until the deadline, zero once it has passed.
    #[inline]
    #[allow(dead_code)] // used by the backends that take relative timeouts
    pub(crate) fn remaining(self) -> Duration {
        self.at.saturating_sub(now())
    }

    /// The deadline as time since the clock's origin.
    #[inline]
    #[allow(dead_code)] // used by the backends that take absolute deadlines
    pub(crate) fn since_origin(self) -> Duration {
        self.at
    }
}

/// A `Duration` packed into eight bytes, `Option`-friendly.
///
/// Stores `nanoseconds + 1` in a `NonZeroU64`, so `Option<Nanos>` is also
/// eight bytes. Durations of `u64::MAX - 1` ns (about 584 years) or more
/// saturate to [`Nanos::FOREVER`], which reads back as `Duration::MAX` and
/// means "never": no timeout that long can elapse, so nothing observable is
/// lost. Keeps `Barrier` within 24 bytes and `Timer`'s state within 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nanos(NonZeroU64);

impl Nanos {
    /// "Never": `Duration::MAX` and everything at or above ~584 years.
    pub(crate) const FOREVER: Self = Self(NonZeroU64::MAX);

    /// Packs `duration`, saturating to [`Nanos::FOREVER`].
    pub(crate) const fn from_duration(duration: Duration) -> Self {
        let nanos = duration.as_nanos();
        if nanos >= (u64::MAX - 1) as u128 {
            return Self::FOREVER;
        }
        match NonZeroU64::new(nanos as u64 + 1) {
            Some(n) => Self(n),
            None => Self::FOREVER, // unreachable: nanos + 1 >= 1
        }
    }

    /// Unpacks; [`Nanos::FOREVER`] reads back as `Duration::MAX`.
    pub(crate) const fn to_duration(self) -> Duration {
        if self.0.get() == u64::MAX {
            Duration::MAX
        } else {
            Duration::from_nanos(self.0.get() - 1)
        }
    }

    /// The deadline this far from now (`None` for "never").
    #[inline]
    pub(crate) fn deadline(self) -> Option<Deadline> {
        Deadline::after(self.to_duration())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trips_and_saturates() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(1500),
            Duration::from_nanos(u64::MAX - 2),
        ] {
            assert_eq!(Nanos::from_duration(d).to_duration(), d);
        }
        assert_eq!(Nanos::from_duration(Duration::MAX), Nanos::FOREVER);
        assert_eq!(
            Nanos::from_duration(Duration::from_nanos(u64::MAX - 1)),
            Nanos::FOREVER
        );
        assert_eq!(Nanos::FOREVER.to_duration(), Duration::MAX);
        assert_eq!(Nanos::FOREVER.deadline(), None);
        assert_eq!(core::mem::size_of::<Option<Nanos>>(), 8);
    }

    #[test]
    fn deadline_max_means_never() {
        assert_eq!(Deadline::after(Duration::MAX), None);
        // `now + u64::MAX s` overflows unless the clock reads under a second
        // (the std fallback's clock starts at zero): either way it is
        // "never" or a deadline that has not passed, never an overflow.
        let huge = Deadline::after(Duration::from_secs(u64::MAX));
        assert!(huge.map_or(true, |d| !d.has_passed()), "{huge:?}");
        let d = Deadline::after(Duration::from_secs(3600)).expect("an hour fits");
        assert!(!d.has_passed());
        assert!(d.remaining() > Duration::from_secs(3599));
    }

    #[test]
    fn zero_deadline_has_passed_at_once() {
        let d = Deadline::after(Duration::ZERO).expect("zero fits");
        assert!(d.has_passed());
        assert_eq!(d.remaining(), Duration::ZERO);
    }

    extern crate std;
    use crate::sync::Ordering;

    /// Never early; late by at most a generous 2 s (shared, noisy machines).
    fn assert_on_time(elapsed: Duration, timeout: Duration, what: &str) {
        assert!(
            elapsed >= timeout,
            "{what} of {timeout:?} returned after {elapsed:?}"
        );
        assert!(
            elapsed < timeout + Duration::from_secs(2),
            "{what} of {timeout:?} took {elapsed:?}"
        );
    }
    use core::sync::atomic::AtomicUsize;
    use std::thread;
    use std::time::Instant;

    /// Spins until `n` threads have announced they are about to wait.
    fn until(counter: &AtomicUsize, n: usize) {
        while counter.load(Ordering::SeqCst) < n {
            thread::yield_now();
        }
    }

    #[test]
    fn stale_value_returns_at_once() {
        let word = AtomicU32::new(7);
        let start = Instant::now();
        assert!(wait(&word, 6, None));
        assert!(wait(&word, 6, Deadline::after(Duration::from_secs(3600))));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn one_wake_all_releases_eight_waiters() {
        let word = AtomicU32::new(0);
        let ready = AtomicUsize::new(0);
        let woken = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    ready.fetch_add(1, Ordering::SeqCst);
                    while word.load(Ordering::Acquire) == 0 {
                        wait(&word, 0, None);
                    }
                    woken.fetch_add(1, Ordering::SeqCst);
                });
            }
            until(&ready, 8);
            thread::sleep(Duration::from_millis(20));
            word.store(1, Ordering::Release);
            wake_all(&word);
        });
        assert_eq!(woken.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn timed_wait_is_never_early_and_not_much_late() {
        let word = AtomicU32::new(0);
        for ms in [0u64, 1, 5, 30] {
            let timeout = Duration::from_millis(ms);
            let start = Instant::now();
            let deadline = Deadline::after(timeout);
            // Loop as callers do: `true` may be spurious.
            while wait(&word, 0, deadline) {}
            assert_on_time(start.elapsed(), timeout, "a timed wait");
            assert!(deadline.unwrap().has_passed());
        }
    }

    #[test]
    fn untimed_and_max_waits_do_not_overflow() {
        // Duration::MAX and near-MAX: woken by a store, never a panic or an
        // immediate timeout.
        for timeout in [
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(1 << 40),
        ] {
            let word = AtomicU32::new(0);
            thread::scope(|s| {
                let waiter = s.spawn(|| {
                    let deadline = Deadline::after(timeout);
                    while word.load(Ordering::Acquire) == 0 {
                        assert!(wait(&word, 0, deadline), "a {timeout:?} wait timed out");
                    }
                });
                thread::sleep(Duration::from_millis(20));
                word.store(1, Ordering::Release);
                wake_all(&word);
                waiter.join().unwrap();
            });
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    #[cfg_attr(miri, ignore = "Miri has no signals; runs natively")]
    fn eintr_neither_wakes_nor_stretches_a_timed_wait() {
        extern "C" fn on_signal(_: libc::c_int) {}
        // A no-op SIGUSR1 handler without SA_RESTART, so futex waits see EINTR.
        #[allow(unsafe_code)]
        // SAFETY: (test) all-zero is a valid `sigaction`.
        let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        #[allow(unsafe_code)]
        // SAFETY: (test) `action` is a valid sigaction; the old one is not read.
        let r = unsafe { libc::sigaction(libc::SIGUSR1, &action, core::ptr::null_mut()) };
        assert_eq!(r, 0);
        let word = AtomicU32::new(0);
        let timeout = Duration::from_millis(300);
        thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let word = &word;
            let waiter = s.spawn(move || {
                #[allow(unsafe_code)]
                // SAFETY: (test) pthread_self has no preconditions.
                tx.send(unsafe { libc::pthread_self() }).unwrap();
                let start = Instant::now();
                let deadline = Deadline::after(timeout);
                let mut spurious = 0;
                while wait(word, 0, deadline) {
                    spurious += 1;
                }
                (start.elapsed(), spurious)
            });
            let pthread = rx.recv().unwrap();
            for _ in 0..10 {
                thread::sleep(Duration::from_millis(20));
                #[allow(unsafe_code)]
                // SAFETY: (test) the thread is alive until joined below.
                unsafe {
                    libc::pthread_kill(pthread, libc::SIGUSR1);
                }
            }
            let (elapsed, spurious) = waiter.join().unwrap();
            assert_on_time(elapsed, timeout, "a wait interrupted by EINTR");
            assert_eq!(spurious, 0, "EINTR must be retried inside the layer");
        });
    }

    #[test]
    fn clock_is_monotonic() {
        let mut last = now();
        for _ in 0..10_000 {
            let t = now();
            assert!(t >= last);
            last = t;
        }
    }
}
