//! The queue's shared part and every way to reach it: [`Shared`] (boxed
//! on first use, never moved: nodes and list heads point into it), the
//! [`SharedCell`] that allocates and frees the box, and a winning
//! [`Cancel`], through which a canceller reaches the queue of its timer
//! while the node carries `INFLIGHT`. The driver's work on `Shared` is in
//! `driver.rs`.

use super::current::Queue;
use super::driver_waker::DriverWaker;
use super::entry::{check, Claim, Owned, INFLIGHT, LINKED};
use super::inbox::Inbox;
use super::wheel::Driver;
use crate::futex;
use crate::sync::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
#[cfg(target_has_atomic = "64")]
use crate::time::NEVER;
use crate::timer_phase::{CANCELLED, PARKED};
use alloc::boxed::Box;
use core::fmt;
use core::ptr::{self, NonNull};

/// The queue's state, boxed on first use (it must not move: nodes and
/// list heads point into it).
pub(super) struct Shared {
    /// The inbox head and its tags; hot for every schedule and cancel.
    pub(super) inbox: Inbox,
    /// Timers scheduled and not finished.
    pub(super) len: AtomicUsize,
    /// Bytes of the nodes cancelled while the driver was parked, since its
    /// last take.
    pub(super) garbage: AtomicUsize,
    /// Where the parked driver sleeps until.
    pub(super) sleep_until: SleepUntil,
    /// The driver's futex word: a park epoch moved on by every park and
    /// every wake, with `COVERED` in bit 0 (`driver.rs`).
    pub(super) seq: AtomicU32,
    /// The epoch of the driver's latest park: `set_driver_waker` compares it
    /// with `seq` to see whether a wake of this park already happened
    /// (and may have reached no waker, or the one it replaces).
    pub(super) park_epoch: AtomicU32,
    /// 1 once the shutdown drain is done; `shutdown` callers wait on it.
    pub(super) drained: AtomicU32,
    /// The waker of an event loop or executor that drives the queue
    /// through `fire_due`.
    pub(super) waker: DriverWaker,
    /// The wheel and the driver's lists.
    pub(super) driver: Driver,
    /// Under loom, checks that the queue outlives every canceller's use.
    lifetime: Lifetime,
}

impl Shared {
    /// The queue's address, as nodes and the driver record name it.
    #[inline]
    pub(super) fn addr(&self) -> Queue {
        ptr::from_ref(self).cast()
    }

    pub(super) fn new() -> Self {
        Self {
            inbox: Inbox::new(),
            len: AtomicUsize::new(0),
            garbage: AtomicUsize::new(0),
            sleep_until: SleepUntil::new(),
            seq: AtomicU32::new(0),
            park_epoch: AtomicU32::new(0),
            drained: AtomicU32::new(0),
            waker: DriverWaker::new(),
            driver: Driver::new(),
            lifetime: Lifetime::new(),
        }
    }
}

/// The instant the parked driver sleeps until, written by the driver alone
/// before it parks: a push of an earlier timer wakes it. Without 64-bit
/// atomics every push that sees the driver parked wakes it.
#[cfg(target_has_atomic = "64")]
pub(super) struct SleepUntil(crate::sync::AtomicU64);

#[cfg(target_has_atomic = "64")]
impl SleepUntil {
    pub(super) fn new() -> Self {
        Self(crate::sync::AtomicU64::new(NEVER))
    }
    pub(super) fn set(&self, until: u64) {
        // Relaxed: published by the park CAS (Release).
        self.0.store(until, Ordering::Relaxed);
    }
    /// Whether a timer due at `due` is earlier than the driver's sleep.
    pub(super) fn is_after(&self, due: u64) -> bool {
        // Relaxed: the push CAS (Acquire) that read PARKED ordered the
        // driver's `set` before this.
        due < self.0.load(Ordering::Relaxed)
    }
}

#[cfg(not(target_has_atomic = "64"))]
pub(super) struct SleepUntil;

#[cfg(not(target_has_atomic = "64"))]
impl SleepUntil {
    pub(super) fn new() -> Self {
        Self
    }
    pub(super) fn set(&self, _: u64) {}
    pub(super) fn is_after(&self, _: u64) -> bool {
        true
    }
}

/// A loom-only witness of the queue's lifetime: each canceller records a
/// read just before it clears `INFLIGHT`, and freeing the queue records a
/// write, so a model fails if a free does not happen-after every canceller's
/// last use (loom tracks cells, not frees). Empty outside loom.
struct Lifetime {
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<()>,
}

#[cfg(loom)]
// SAFETY: loom's cell checks every access itself; nothing is read or written through it (SAFETY.md, "TimerQueue: memory reclamation").
unsafe impl Sync for Lifetime {}

impl Lifetime {
    fn new() -> Self {
        Self {
            #[cfg(loom)]
            cell: loom::cell::UnsafeCell::new(()),
        }
    }

    /// A canceller's last use of the queue (before it clears `INFLIGHT`).
    #[inline]
    fn last_use(&self) {
        #[cfg(loom)]
        self.cell.with(|_| ());
    }
}

#[cfg(loom)]
impl Drop for Lifetime {
    fn drop(&mut self) {
        // The queue's free: a write, which loom checks against every read.
        self.cell.with_mut(|_| ());
    }
}

/// The queue's pointer to its boxed [`Shared`], allocated on first use (so
/// that `TimerQueue::new` is `const` and the queue may move: nodes and list
/// heads point into the box, never into the `TimerQueue`).
pub(super) struct SharedCell {
    ptr: AtomicPtr<Shared>,
}

impl SharedCell {
    crate::sync::loom_const_fn! {
        pub(super) fn new() -> Self {
            Self {
                ptr: AtomicPtr::new(ptr::null_mut()),
            }
        }
    }

    /// The shared part, if allocated.
    #[inline]
    pub(super) fn get(&self) -> Option<&Shared> {
        // Acquire: pairs with the publishing CAS in `get_or_init` (Release).
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a published `Box<Shared>`, freed only by `take` under `&mut self` (SAFETY.md, "TimerQueue: memory reclamation").
        NonNull::new(p).map(|p| unsafe { p.as_ref() })
    }

    /// The shared part, allocated by the first caller (racing callers free
    /// their copy).
    #[inline]
    pub(super) fn get_or_init(&self, init: impl FnOnce() -> Shared) -> &Shared {
        if let Some(shared) = self.get() {
            return shared;
        }
        self.init_slow(init)
    }

    #[cold]
    fn init_slow(&self, init: impl FnOnce() -> Shared) -> &Shared {
        let fresh = Box::into_raw(Box::new(init()));
        // AcqRel: Release publishes the initialised box; Acquire (on
        // failure) pairs with the winner's Release.
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published; freed only by `take` (SAFETY.md, "TimerQueue: memory reclamation").
            Ok(_) => unsafe { &*fresh },
            Err(winner) => {
                // SAFETY: ours, never shared (SAFETY.md, "TimerQueue: memory reclamation").
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: the winner's published box (SAFETY.md, "TimerQueue: memory reclamation").
                unsafe { &*winner }
            }
        }
    }

    /// Takes the box back (the queue is being dropped).
    pub(super) fn take(&mut self) -> Option<Box<Shared>> {
        let p = self.ptr.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: `&mut self`: no reference from `get` is alive; in-flight cancellers were waited for (SAFETY.md, "TimerQueue: memory reclamation").
        NonNull::new(p).map(|p| unsafe { Box::from_raw(p.as_ptr()) })
    }
}

impl fmt::Debug for SharedCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedCell(..)")
    }
}

/// A handle's winning cancel. While it lives the node carries `INFLIGHT`,
/// which keeps the queue (and the node's queue reference) alive, so
/// [`queue`](Self::queue) may be used. Dropping it wakes waiters, clears
/// `INFLIGHT` (Release), then drops the body.
pub(super) struct Cancel<'a> {
    claim: Claim<'a>,
    from: u32,
}

impl<'a> Cancel<'a> {
    /// A handle's cancel of a pending timer: `from` (`WAITING`) ->
    /// `CANCELLED | INFLIGHT` (keeping `LINKED`), by one CAS. The winner
    /// owns the body and may use the queue until [`Cancel`] is dropped.
    pub(super) fn try_new(node: &'a Owned, from: u32) -> Result<Self, u32> {
        let to = CANCELLED | INFLIGHT | (from & LINKED);
        let claim = node.claim(from, to, Ordering::AcqRel)?;
        Ok(Cancel { claim, from })
    }

    /// The word the cancel CAS replaced.
    pub(super) fn from(&self) -> u32 {
        self.from
    }

    /// The queue the timer belongs to.
    pub(super) fn queue(&self) -> &Shared {
        let queue = self.claim.node().queue_addr().cast::<Shared>();
        // SAFETY: INFLIGHT is set, so the queue is not freed until this `Cancel` clears it (SAFETY.md, "TimerQueue: memory reclamation").
        unsafe { &*queue }
    }

    /// Sends the node to the driver as a cancel message (it was `LINKED`).
    /// Returns the inbox's tag bits, or `None` if the queue was shut down
    /// (its drain finds the node in its list instead).
    pub(super) fn send_message(&self) -> Option<usize> {
        debug_assert!(self.from & LINKED != 0);
        self.queue().inbox.push_message(self.claim.node())
    }
}

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        let state = self.claim.node().state();
        self.queue().lifetime.last_use();
        // Release: pairs with the driver's Acquire load of the word before
        // it frees its reference (or the queue): our uses of the queue
        // happen-before; and with `wait`'s Acquire loads, to which the
        // timer is finished from here on. An RMW, not a store: a `wait`er
        // may have added PARKED to the `CANCELLED | INFLIGHT` word.
        let old = state.fetch_and(!INFLIGHT, Ordering::Release);
        check(old & !INFLIGHT);
        debug_assert_eq!(
            old & !PARKED,
            CANCELLED | INFLIGHT | (self.from & LINKED),
            "cancelled timer word changed"
        );
        // Waiters parked before the cancel (PARKED in `from`; the claiming
        // CAS dropped the bit) or on the in-flight word (PARKED in `old`).
        if (self.from | old) & PARKED != 0 {
            futex::wake_all(state);
        }
        // The body is dropped when `claim` is, after INFLIGHT is clear: a
        // panicking destructor cannot leave the queue waiting for it.
    }
}

impl fmt::Debug for Cancel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").field("from", &self.from).finish()
    }
}
