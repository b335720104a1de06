//! [`Backoff`]: the spin → yield → park policy every state-word waiter
//! follows (`StateWord::pause`).

#[cfg(all(not(loom), feature = "std"))]
use crate::sync::Ordering;

/// Bounded spinning before a waiter parks: the one place the wait policy
/// lives (`Barrier` and `Phaser` both wait through `StateWord::pause`).
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
/// Measurements (oversubscribed rounds, issue 14): `benches/results/backoff.md`.
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

/// The CPUs this process may run on, asked once (`cpus.rs`, which
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
            cpus = super::cpus::cpus().unwrap_or(usize::MAX);
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

#[cfg(all(test, not(loom), feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn oversubscription_follows_the_cpu_count() {
        extern crate std;
        let cpus = super::super::cpus::cpus().expect("the OS reports its CPUs");
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
