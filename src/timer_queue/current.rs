//! Which queue the current thread drives (`std`): a callback that would
//! block on its own queue's driver is refused with a panic instead of
//! hanging every timer of the queue. Without `std` (or under loom) the
//! driving thread is not recorded.

/// A queue, by the address of its shared part (`shared.rs`'s `Shared`,
/// type-erased so that the node, which sits below `Shared`, can hold it).
/// This file only compares it; the one place that turns it back into a
/// `&Shared` is `Cancel::queue`, under `INFLIGHT` (SAFETY.md, "TimerQueue:
/// memory reclamation"), and the one place that makes it is `Shared::addr`.
pub(super) type Queue = *const ();

/// Nesting depth recorded (a callback of one queue may drive another,
/// a nested `fire_due`, on the outer queue's driver thread); deeper
/// levels are counted but not recorded.
#[cfg(all(feature = "std", not(loom)))]
const DEPTH: usize = 4;

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    static DRIVING: [core::cell::Cell<Queue>; DEPTH] =
        const { [const { core::cell::Cell::new(core::ptr::null()) }; DEPTH] };
    static LEVEL: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// This thread drives `shared` from now on (nested in what it drove).
#[cfg(all(feature = "std", not(loom)))]
pub(super) fn enter(shared: Queue) -> Queue {
    let _ = LEVEL.try_with(|l| {
        let level = l.get();
        if level < DEPTH {
            let _ = DRIVING.try_with(|d| d[level].set(shared));
        }
        l.set(level + 1);
    });
    shared
}

#[cfg(all(feature = "std", not(loom)))]
pub(super) fn leave(_entered: Queue) {
    let _ = LEVEL.try_with(|l| {
        let level = l.get().saturating_sub(1);
        if level < DEPTH {
            let _ = DRIVING.try_with(|d| d[level].set(core::ptr::null()));
        }
        l.set(level);
    });
}

/// Whether this thread drives `shared` (runs its callbacks or drain),
/// at any recorded nesting depth.
#[cfg(all(feature = "std", not(loom)))]
pub(super) fn drives(shared: Queue) -> bool {
    DRIVING
        .try_with(|d| d.iter().any(|c| c.get() == shared))
        .unwrap_or(false)
}

#[cfg(not(all(feature = "std", not(loom))))]
pub(super) fn enter(_: Queue) -> Queue {
    core::ptr::null()
}

#[cfg(not(all(feature = "std", not(loom))))]
pub(super) fn leave(_: Queue) {}

#[cfg(not(all(feature = "std", not(loom))))]
pub(super) fn drives(_: Queue) -> bool {
    false
}
