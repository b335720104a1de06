//! The loom shim: every atomic, spin hint and backoff the algorithms use.
//!
//! Algorithm code (`barrier.rs`, `timer.rs`) imports only from here, so that
//! `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked types without
//! touching a line of it. Keyed on `cfg(loom)` alone (not `all(test, loom)`,
//! which never switches on for `loom-tests/`, where the library is built
//! without `cfg(test)`).
//!
//! Under loom, [`AtomicU32`] is a wrapper that carries the per-word mutex and
//! condition variable of the futex model (`futex/loom.rs`); it dereferences to
//! loom's own `AtomicU32`, so the algorithms call the usual methods on it.

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), feature = "alloc"))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;
#[cfg(all(loom, feature = "alloc"))]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};

/// Under loom: loom's `AtomicU32` plus the futex model's per-word lock.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct AtomicU32 {
    pub(crate) atomic: loom::sync::atomic::AtomicU32,
    /// Held while a waiter checks the value and while a waker notifies, so
    /// a check-then-sleep can never miss a wake (what the kernel's futex
    /// hash-bucket lock does for a real futex).
    pub(crate) lock: loom::sync::Mutex<()>,
    pub(crate) cond: loom::sync::Condvar,
}

#[cfg(loom)]
impl AtomicU32 {
    pub(crate) fn new(value: u32) -> Self {
        Self {
            atomic: loom::sync::atomic::AtomicU32::new(value),
            lock: loom::sync::Mutex::new(()),
            cond: loom::sync::Condvar::new(),
        }
    }
}

#[cfg(loom)]
impl core::ops::Deref for AtomicU32 {
    type Target = loom::sync::atomic::AtomicU32;
    fn deref(&self) -> &Self::Target {
        &self.atomic
    }
}

/// Bounded spinning before a waiter parks: the one place the wait policy
/// lives (`Barrier` and `Phaser` both wait through `waiting::StateWord::pause`).
///
/// A waiter re-checks the word after every `spin_loop` hint for
/// [`SPIN_CHECKS`] rounds, then (with `std`) yields to the scheduler up to
/// [`YIELD_CHECKS`] times, then parks; each arrival it sees restarts the
/// budget ([`Backoff::progress`]). Two refinements for more threads than
/// CPUs, from the CPU count this process may run on ([`cpus`]):
///
/// - it spins only while every missing party could be running on another
///   CPU (`missing < cpus`; Java's `Phaser` recharges its spins on the same
///   condition). Otherwise at least one missing party is waiting for a CPU,
///   maybe this one, and spinning only delays it: the waiter yields at once;
/// - when the parties outnumber the CPUs ([`Backoff::for_parties`]) it parks
///   after [`OVERSUBSCRIBED_YIELD_CHECKS`] fruitless yields, not 64.
///
/// With no more parties than CPUs (every two-thread round on 2 cores)
/// neither applies and the policy is the one tuned for that case.
///
/// Not `crossbeam_utils::Backoff`: its `snooze` spins in exponential bursts
/// of up to 64 hints between checks, which delays noticing a release
/// (measured: 7.8 M two-thread rounds/s with it, 13-16 M with this), and it
/// yields only 4 times before giving up, which makes oversubscribed waiters
/// park (futex round trips) where a yield would have let the missing party
/// arrive.
///
/// # Oversubscribed rounds (issue 14): measurements
///
/// 2-core AMD EPYC VM, Linux 6.18, never quiet while measured (load average
/// 6-14 from other builds). One `Barrier` waited on in a loop by N threads.
///
/// Profile of the policy before (16 spins then 64 yields everywhere;
/// `perf stat`, syscall tracepoints): per round at 4 / 8 / 16 threads,
/// 7.0 / 7.5-8.5 / 17-29 `sched_yield`s, 3.0 / 8.8 / 21 context switches and
/// 0.02 / 0.004 / 0.009 futex calls. Waiters almost never park, so there
/// are no wake-then-yield-back wakes to save: a round is a yield relay in
/// which every thread must be switched in once (about one switch per party
/// per round is the floor; these were 0.75-1.8 switches per party). What the
/// relay wasted was the spin phase: up to 16 `spin_loop` checks per wait,
/// restarted on each arrival, on a core that the missing party needed,
/// about 1-1.5 µs of CPU per party per round here.
///
/// Variants, rounds/s, medians of interleaved runs at 4 / 8 / 16 threads
/// (each batch ran the before-policy as its anchor; batches differ in load):
///
/// | policy when parties > CPUs | 4 | 8 | 16 | batch |
/// |---|---|---|---|---|
/// | before: 16 spins, 64 yields | 87 k | 35 k | 14 k | A (6 runs) |
/// | no spin, 64 yields | 93 k | 44 k | 19 k | A |
/// | no spin, 16 yields | 117 k | 47 k | 20 k | A |
/// | no spin, 8 yields | 107 k | 39 k | 20 k | A |
/// | no spin, 4 yields | 102 k | 44 k | 18 k | A |
/// | hurdles (spins 3, yields 7, then spins hard) | 69 k | 28 k | 3.8 k | A |
/// | before | 76 k | 36 k | 15 k | B (5 runs) |
/// | no spin, 2 yields | 98 k | 41 k | 17 k | B |
/// | 16 spins, 8 yields | 66 k | 27 k | 14 k | B |
/// | before | 63-67 k | 16-30 k | 9-11 k | C (2 runs) |
/// | no spin, park at once (std's way) | 24-31 k | 18-23 k | 5.0-9.5 k | C |
/// | 64 yields not restarted by arrivals | 47-61 k | 25-28 k | 6-9 k | C |
/// | before | 72 k | 35 k | 12 k | D (6 runs) |
/// | no spin, 16 yields | 101 k | 45 k | 20 k | D |
/// | **kept: spin while missing < CPUs, 16 yields** | 104 k | 41 k | 20 k | D |
/// | hurdles | 52 k | 24 k | 18 k | D |
///
/// Rejected: parking at once (a futex round trip per party per round) and
/// not restarting the yields (waiters park mid-relay); yield budgets of 2-8
/// were no faster than 16 and park sooner on a short stall; 64 was no
/// faster either, and 16 parks 4x sooner when a party is really late
/// (external load, work between rounds), the CPU a yielding waiter would
/// otherwise take from it. Never spinning when oversubscribed was as fast
/// in plain rounds, but loses the spin that catches a nearly complete
/// round when the parties work between rounds (`examples/phaser`'s
/// split-phase loop hinted at that; too noisy here to settle it).
///
/// Checked with `examples/compare --repeat 3`, three invocations each of
/// the policy before and the kept one, alternating (load average 7-14):
/// rallypoint's median at 4 / 8 / 16 threads went from 47-53 k / 20-32 k /
/// 12-16 k rounds/s to 48-91 k / 34-45 k / 14-21 k; it was >= hurdles' in 7
/// of the 9 (invocation, thread count) cells, before in 2 of 9; CPU per
/// round 0.16-0.40x std's. Not a quiet machine: hurdles' capped medians swing
/// from 4 k to 132 k rounds/s there, so this is not yet "ahead in every run".
///
/// Under loom spinning proves nothing (loom explores the re-checks anyway)
/// and an unbounded spin loop blows up its state space, so the model parks
/// at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    step: core::cell::Cell<u32>,
    /// Spin checks before yielding: [`SPIN_CHECKS`], or 0 while the
    /// missing parties outnumber the CPUs ([`Backoff::progress`]).
    #[cfg(not(loom))]
    spins: core::cell::Cell<u32>,
    /// Yield checks (since the last arrival seen) before parking.
    #[cfg(not(loom))]
    yields: u32,
    /// The CPUs this process may run on (`usize::MAX`: unknown).
    #[cfg(not(loom))]
    cpus: usize,
}

/// Re-checks with one `spin_loop` hint each before yielding: about the time
/// a running partner needs to arrive (a two-thread round is ~60-100 ns).
/// Tuned with `examples/compare` on 2 cores: 8 loses two-thread rounds to
/// preemption, 48+ wastes the CPU that oversubscribed parties need.
#[cfg(not(loom))]
const SPIN_CHECKS: u32 = 16;
/// Re-checks with one `yield_now` each (std only) before parking; restarted
/// whenever more parties arrive. Yielding hands the core to a party that has
/// yet to arrive, which is what oversubscribed rounds need; parking only
/// when arrivals stall keeps idle waiters off the CPU.
#[cfg(all(not(loom), feature = "std"))]
const YIELD_CHECKS: u32 = 64;
#[cfg(all(not(loom), not(feature = "std")))]
const YIELD_CHECKS: u32 = 0;
/// [`YIELD_CHECKS`] when parties outnumber CPUs (see [`Backoff`]).
#[cfg(all(not(loom), feature = "std"))]
const OVERSUBSCRIBED_YIELD_CHECKS: u32 = 16;
#[cfg(all(not(loom), not(feature = "std")))]
const OVERSUBSCRIBED_YIELD_CHECKS: u32 = 0;

/// The CPUs this process may run on, asked once (`futex::cpus`, which
/// allocates nothing) and cached; `usize::MAX` if unknown, which keeps the
/// policy for machines with room. Without `std` there is no yield to fall
/// back on, so the count is not asked.
#[cfg(not(loom))]
fn cpus() -> usize {
    #[cfg(feature = "std")]
    {
        // Relaxed: every thread that asks computes the same value; the
        // cache publishes nothing else.
        let mut cpus = CPUS_ASKED.load(Ordering::Relaxed);
        if cpus == 0 {
            cpus = crate::futex::cpus().unwrap_or(usize::MAX);
            CPUS_ASKED.store(cpus, Ordering::Relaxed);
        }
        cpus
    }
    #[cfg(not(feature = "std"))]
    {
        usize::MAX
    }
}

/// `cpus`'s cache. 0: not asked yet; `usize::MAX`: unknown.
#[cfg(all(not(loom), feature = "std"))]
static CPUS_ASKED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

impl Backoff {
    /// The policy for a wait whose partners are unknown (or few).
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            step: core::cell::Cell::new(0),
            #[cfg(not(loom))]
            spins: core::cell::Cell::new(SPIN_CHECKS),
            #[cfg(not(loom))]
            yields: YIELD_CHECKS,
            #[cfg(not(loom))]
            cpus: usize::MAX,
        }
    }

    /// The policy for waiting on the other arrivals of `parties` parties:
    /// fewer yields when they outnumber the CPUs, and (see
    /// [`progress`](Self::progress)) no spin while too many are missing.
    #[inline]
    pub(crate) fn for_parties(parties: usize) -> Self {
        #[cfg(not(loom))]
        {
            let cpus = cpus();
            Self {
                step: core::cell::Cell::new(0),
                spins: core::cell::Cell::new(SPIN_CHECKS),
                yields: if parties > cpus {
                    OVERSUBSCRIBED_YIELD_CHECKS
                } else {
                    YIELD_CHECKS
                },
                cpus,
            }
        }
        #[cfg(loom)]
        {
            let _ = parties;
            Self::new()
        }
    }

    /// The caller saw progress: `missing` parties have yet to arrive.
    /// Restarts the current phase's budget. A waiter already yielding keeps
    /// yielding (when threads outnumber cores, the parties it waits for
    /// need its CPU to arrive) but does not go back to spinning. Spinning
    /// is only worth it while every missing party could be running on
    /// another CPU (`missing < cpus`, Java's `Phaser` rule): otherwise at
    /// least one of them waits for a CPU, maybe this one.
    #[inline]
    pub(crate) fn progress(&self, missing: usize) {
        #[cfg(not(loom))]
        {
            let spinning = self.step.get() < self.spins.get();
            let spins = if missing < self.cpus { SPIN_CHECKS } else { 0 };
            self.spins.set(spins);
            self.step.set(if spinning { 0 } else { spins });
        }
        #[cfg(loom)]
        {
            let _ = missing;
        }
    }

    /// Whether the spin phase (no yield, no park yet) is still going.
    #[inline]
    pub(crate) fn is_spinning(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.step.get() < self.spins.get()
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Spins (later yields) once; returns false when it is time to park.
    #[inline]
    pub(crate) fn snooze(&self) -> bool {
        #[cfg(not(loom))]
        {
            let step = self.step.get();
            let spins = self.spins.get();
            if step < spins {
                core::hint::spin_loop();
            } else if step < spins + self.yields {
                #[cfg(feature = "std")]
                {
                    extern crate std;
                    std::thread::yield_now();
                }
            } else {
                return false;
            }
            self.step.set(step + 1);
            true
        }
        #[cfg(loom)]
        {
            false
        }
    }
}

/// Declares a `const fn` that loses its `const` under loom, whose atomics
/// cannot be built in a const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])* #[cfg(not(loom))] $vis const fn $name($($arg: $ty),*) -> $ret $body
        $(#[$attr])* #[cfg(loom)] $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

pub(crate) use take_cell::TakeCell;

/// A value that one thread moves out once: the timer's function.
///
/// The crate's only `unsafe` outside the wait layer. Whoever calls `take` or
/// `drop_untaken` must have exclusive, once-only rights to the value; the
/// timer's state machine grants them to the thread whose CAS won
/// `Waiting -> Running` (SAFETY.md, "Timer: the function cell"). Under loom
/// the cell is loom's `UnsafeCell`, which fails the model on any concurrent
/// access.
#[allow(unsafe_code)]
mod take_cell {
    use core::mem::ManuallyDrop;

    #[cfg(loom)]
    use loom::cell::UnsafeCell;

    /// `core`'s `UnsafeCell` with loom's `with_mut` interface.
    #[cfg(not(loom))]
    #[derive(Debug)]
    struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }
        fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    pub(crate) struct TakeCell<T> {
        value: UnsafeCell<ManuallyDrop<T>>,
    }

    // A `&TakeCell<T>` gives no access to the `T` except through the `unsafe`
    // methods below, whose callers guarantee that exactly one thread ever
    // touches it, once; that thread may not be the one that built it.
    // SAFETY: one-time access by one thread, hence only `T: Send` is needed (SAFETY.md, "Timer: the function cell").
    unsafe impl<T: Send> Sync for TakeCell<T> {}

    impl<T> TakeCell<T> {
        crate::sync::loom_const_fn! {
            pub(crate) fn new(value: T) -> Self {
                Self {
                    value: UnsafeCell::new(ManuallyDrop::new(value)),
                }
            }
        }

        /// Moves the value out.
        ///
        /// # Safety
        ///
        /// Over the cell's whole life, at most one call of `take` or
        /// `drop_untaken` happens, and no other access runs concurrently.
        pub(crate) unsafe fn take(&self) -> T {
            self.value.with_mut(|value| {
                // The caller guarantees exclusive, once-only access, so the value
                // is initialised and nobody reads it after this.
                // SAFETY: exclusive, once-only read (SAFETY.md, "Timer: the function cell").
                ManuallyDrop::into_inner(unsafe { value.read() })
            })
        }

        /// Drops the value in place.
        ///
        /// # Safety
        ///
        /// As for [`take`](Self::take).
        pub(crate) unsafe fn drop_untaken(&mut self) {
            self.value.with_mut(|value| {
                // As in `take`; `&mut self` excludes other access, and
                // `ManuallyDrop<T>` has `T`'s layout (`repr(transparent)`).
                // SAFETY: exclusive, once-only drop (SAFETY.md, "Timer: the function cell").
                unsafe { core::ptr::drop_in_place(value.cast::<T>()) }
            });
        }
    }

    impl<T> core::fmt::Debug for TakeCell<T> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("TakeCell(..)")
        }
    }
}

/// Runs `f`; if it unwinds, runs `cleanup` and lets the panic continue.
///
/// Outside loom a drop guard does it, so it works without `std` (and with
/// `panic = "abort"` there is nothing to clean up). Under loom, a wake
/// issued from a destructor during unwinding takes the futex model's lock
/// (loom's `Mutex`), which fails inside loom with "panic in a destructor
/// during cleanup"; so there `cleanup` runs after `catch_unwind`, before
/// `resume_unwind`. Either way `cleanup` sees
/// the same state and makes the same transition.
#[inline]
pub(crate) fn on_unwind<R>(f: impl FnOnce() -> R, cleanup: impl FnOnce()) -> R {
    #[cfg(not(loom))]
    {
        struct Guard<C: FnOnce()>(Option<C>);
        impl<C: FnOnce()> Drop for Guard<C> {
            fn drop(&mut self) {
                if let Some(cleanup) = self.0.take() {
                    cleanup();
                }
            }
        }
        let mut guard = Guard(Some(cleanup));
        let result = f();
        guard.0 = None;
        result
    }
    #[cfg(loom)]
    {
        extern crate std;
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                cleanup();
                std::panic::resume_unwind(payload)
            }
        }
    }
}

#[cfg(all(test, not(loom), feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn oversubscription_follows_the_cpu_count() {
        extern crate std;
        let cpus = crate::futex::cpus().expect("the OS reports its CPUs");
        let std_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // std also applies cgroup quotas, which can only lower the count.
        assert!(cpus >= std_cpus, "affinity {cpus} < std's {std_cpus}");
        assert_eq!(super::cpus(), cpus);
        assert_eq!(CPUS_ASKED.load(Ordering::Relaxed), cpus, "cached");

        let roomy = Backoff::for_parties(cpus);
        assert_eq!(roomy.yields, YIELD_CHECKS);
        roomy.progress(cpus - 1);
        assert!(roomy.is_spinning(), "every missing party may be running");

        let crowded = Backoff::for_parties(cpus + 1);
        assert_eq!(crowded.yields, OVERSUBSCRIBED_YIELD_CHECKS);
        crowded.progress(cpus);
        assert!(!crowded.is_spinning(), "a missing party waits for a CPU");
        // Yields, then parks; an arrival restarts the yields.
        for _ in 0..OVERSUBSCRIBED_YIELD_CHECKS {
            assert!(crowded.snooze());
        }
        assert!(!crowded.snooze(), "time to park");
        crowded.progress(cpus);
        assert!(crowded.snooze(), "an arrival restarts the yield budget");
        assert!(!crowded.is_spinning());

        // Few enough missing to all be running: spin first, then yield.
        let nearly = Backoff::for_parties(cpus + 1);
        nearly.progress(cpus - 1);
        for _ in 0..SPIN_CHECKS {
            assert!(nearly.is_spinning());
            assert!(nearly.snooze());
        }
        assert!(!nearly.is_spinning());
        // A yielding waiter does not go back to spinning.
        nearly.progress(0);
        assert!(!nearly.is_spinning());
    }
}
