//! The timer queue's only `unsafe` code: reference-counted timer nodes, the
//! lock-free inbox they are pushed onto, and the intrusive lists only the
//! driver touches.
//!
//! Everything here exposes a safe interface whose soundness rests on the
//! invariants of SAFETY.md, "TimerQueue" (each `// SAFETY:` names its
//! heading):
//!
//! - A node is one allocation (`Node<B>`: header, extra, body), freed when
//!   its reference count drops to zero. [`Owned`] is one counted reference.
//! - The body (the user's closure) is touched only by whoever holds a
//!   [`Claim`], which only a winning `WAITING -> RUNNING` or
//!   `WAITING -> CANCELLED` CAS on the node's state word creates.
//! - The fields marked "driver" are touched only by the thread that holds
//!   the queue's `DRIVING` bit, proven by a [`Token`], which only
//!   [`Inbox::try_drive`] and [`Inbox::shutdown`] create.
//! - A [`List`] lives inside the queue's boxed `Shared` and never moves.

use super::Shared;
use crate::futex;
use crate::sync::{AtomicPtr, AtomicU32, Ordering};
use alloc::boxed::Box;
use core::cell::UnsafeCell as CoreUnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

// ---------------------------------------------------------------- state word

/// Mask of the phase field (the same four phases as `Timer`).
pub(super) const PHASE: u32 = 0b11;
/// Pending: the body has not run (or, repeating, is between runs).
pub(super) const WAITING: u32 = 0;
/// The driver is running the body.
pub(super) const RUNNING: u32 = 1;
/// Finished after the body returned or panicked (one-shot), or panicked
/// (repeating).
pub(super) const FIRED: u32 = 2;
/// Finished without running again: cancelled, or discarded by `shutdown`.
pub(super) const CANCELLED: u32 = 3;
/// A `wait`er is parked on the word (or about to): finishing must wake it.
pub(super) const PARKED: u32 = 1 << 2;
/// The node sits in one of the driver's lists: whoever cancels it must send
/// it to the driver through the inbox (a "cancel message").
pub(super) const LINKED: u32 = 1 << 3;
/// Repeating timer cancelled while its body runs: no run starts again.
pub(super) const STOPPED: u32 = 1 << 4;
/// A canceller is still touching the queue: the queue must not free this
/// node's reference (nor itself) until the bit clears.
pub(super) const INFLIGHT: u32 = 1 << 5;
/// The body panicked; with `std` the payload sits in the `next` field.
pub(super) const PANICKED: u32 = 1 << 6;
/// Every bit in use; the rest of the word stays zero.
const ALL_BITS: u32 = PHASE | PARKED | LINKED | STOPPED | INFLIGHT | PANICKED;

/// The phase field of a state word.
#[inline]
pub(super) const fn phase(s: u32) -> u32 {
    s & PHASE
}

/// Whether the word is final (`FIRED`, or `CANCELLED` with the canceller's
/// queue work done: a `CANCELLED | INFLIGHT` word still reads as pending, so
/// whoever sees a timer finished also sees `len` without it).
#[inline]
pub(super) const fn is_finished(s: u32) -> bool {
    phase(s) >= FIRED && s & INFLIGHT == 0
}

/// Checks a state word's invariants (debug and loom builds).
#[inline]
fn check(s: u32) {
    debug_assert_eq!(s & !ALL_BITS, 0, "timer state {s:#x}: unknown bits");
    debug_assert!(
        s & STOPPED == 0 || phase(s) == RUNNING,
        "timer state {s:#x}: STOPPED outside RUNNING"
    );
    debug_assert!(
        s & INFLIGHT == 0 || phase(s) == CANCELLED,
        "timer state {s:#x}: INFLIGHT outside CANCELLED"
    );
    debug_assert!(
        s & PANICKED == 0 || phase(s) == FIRED,
        "timer state {s:#x}: PANICKED outside FIRED"
    );
}

// ---------------------------------------------------------------- cells

/// A field only the driver touches (or the scheduler, before the node is
/// shared). Reads and writes need the driver's [`Token`].
pub(super) struct DriverCell<T: Copy>(CoreUnsafeCell<T>);

// SAFETY: every access takes a `Token`, and at most one exists per queue at a time (SAFETY.md, "TimerQueue: who owns what").
unsafe impl<T: Copy + Send> Sync for DriverCell<T> {}
// SAFETY: as above; a `*mut Header` inside is only dereferenced by the driver (SAFETY.md, "TimerQueue: who owns what").
unsafe impl<T: Copy> Send for DriverCell<T> {}

impl<T: Copy> DriverCell<T> {
    pub(super) const fn new(value: T) -> Self {
        Self(CoreUnsafeCell::new(value))
    }

    #[inline]
    pub(super) fn get(&self, _: &Token<'_>) -> T {
        // The token proves this thread drives the queue, and no access
        // lasts beyond this copy.
        // SAFETY: only the driver accesses driver cells (SAFETY.md, "TimerQueue: who owns what").
        unsafe { *self.0.get() }
    }

    #[inline]
    pub(super) fn set(&self, _: &Token<'_>, value: T) {
        // SAFETY: as in `get` (SAFETY.md, "TimerQueue: who owns what").
        unsafe { *self.0.get() = value }
    }
}

/// A loom-only witness of the queue's lifetime: each canceller records a
/// read just before it clears `INFLIGHT`, and freeing the queue records a
/// write, so a model fails if a free does not happen-after every canceller's
/// last use (loom tracks cells, not frees). Empty outside loom.
pub(super) struct Lifetime {
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<()>,
}

#[cfg(loom)]
// SAFETY: loom's cell checks every access itself; nothing is read or written through it (SAFETY.md, "TimerQueue: memory reclamation").
unsafe impl Sync for Lifetime {}

impl Lifetime {
    pub(super) fn new() -> Self {
        Self {
            #[cfg(loom)]
            cell: loom::cell::UnsafeCell::new(()),
        }
    }

    /// A canceller's last use of the queue (before it clears `INFLIGHT`).
    #[inline]
    pub(super) fn last_use(&self) {
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

/// The body's cell: loom's `UnsafeCell` under loom, so a model fails on any
/// concurrent access.
struct BodyCell<B>(
    #[cfg(not(loom))] CoreUnsafeCell<ManuallyDrop<B>>,
    #[cfg(loom)] loom::cell::UnsafeCell<ManuallyDrop<B>>,
);

impl<B> BodyCell<B> {
    fn new(body: B) -> Self {
        #[cfg(not(loom))]
        {
            Self(CoreUnsafeCell::new(ManuallyDrop::new(body)))
        }
        #[cfg(loom)]
        {
            Self(loom::cell::UnsafeCell::new(ManuallyDrop::new(body)))
        }
    }

    fn with_mut<R>(&self, f: impl FnOnce(*mut B) -> R) -> R {
        #[cfg(not(loom))]
        {
            f(self.0.get().cast::<B>())
        }
        #[cfg(loom)]
        {
            self.0.with_mut(|p| f(p.cast::<B>()))
        }
    }
}

// ---------------------------------------------------------------- bodies

/// Period and counters of a repeating timer.
#[derive(Debug)]
pub(super) struct Repeat {
    /// Nanoseconds between runs, at least 1.
    pub(super) period: u64,
    /// Completed runs (returned or panicked).
    pub(super) runs: super::Counter,
    /// Periods skipped because a run or the driver was late.
    pub(super) missed: super::Counter,
}

/// What a node runs: a one-shot [`Once`] or a repeating [`Every`].
pub(super) trait Body: Send + 'static {
    /// What the node carries beside the body: `()` or [`Repeat`].
    type Extra: Send + Sync + 'static;
    /// The repeat data, if any.
    fn repeat(extra: &Self::Extra) -> Option<&Repeat>;
    /// Runs the function once.
    ///
    /// # Safety
    ///
    /// `this` is valid and nobody else accesses it; for a one-shot body
    /// the value is moved out, and the caller never touches it again.
    unsafe fn run(this: *mut Self);
}

/// A one-shot body.
pub(super) struct Once<F>(pub(super) F);
/// A repeating body.
pub(super) struct Every<F>(pub(super) F);

impl<F: FnOnce() + Send + 'static> Body for Once<F> {
    type Extra = ();
    fn repeat((): &()) -> Option<&Repeat> {
        None
    }
    unsafe fn run(this: *mut Self) {
        // SAFETY: exclusive, once-only move out, by the caller's contract (SAFETY.md, "TimerQueue: the body").
        let f = unsafe { this.read() };
        (f.0)();
    }
}

impl<F: FnMut() + Send + 'static> Body for Every<F> {
    type Extra = Repeat;
    fn repeat(extra: &Repeat) -> Option<&Repeat> {
        Some(extra)
    }
    unsafe fn run(this: *mut Self) {
        // SAFETY: exclusive access, by the caller's contract (SAFETY.md, "TimerQueue: the body").
        let body = unsafe { &mut *this };
        (body.0)();
    }
}

// ---------------------------------------------------------------- nodes

/// The type-erased operations on a `Node<B>`.
struct VTable {
    /// Runs the body (see [`Body::run`]).
    run: unsafe fn(NonNull<Header>),
    /// Drops the body in place.
    drop_body: unsafe fn(NonNull<Header>),
    /// Frees the allocation (the body is gone already).
    dealloc: unsafe fn(NonNull<Header>),
    /// The repeat data, if any.
    repeat: unsafe fn(NonNull<Header>) -> Option<NonNull<Repeat>>,
    /// The node's size in bytes (header, repeat data and the closure,
    /// which lives inline): what a cancelled node keeps until the driver
    /// releases it.
    size: usize,
}

/// The part of every node the queue works with. `align(8)` leaves the
/// inbox three tag bits in a node's address on every target.
#[repr(C, align(8))]
pub(super) struct Header {
    /// Counted references ([`Owned`]): handles, plus one for the queue.
    refs: AtomicU32,
    /// The state word (bits above), also the futex word `wait` parks on.
    pub(super) state: AtomicU32,
    vtable: &'static VTable,
    /// The queue's shared part; dereferenced only under `INFLIGHT`.
    shared: *const Shared,
    /// Inbox link (new timer or cancel message); after a panic, the
    /// payload (`std`).
    next: AtomicPtr<Header>,
    /// Driver: next node in the driver list holding this one.
    link: DriverCell<*mut Header>,
    /// Driver: the cell that points at this node (the list head or the
    /// previous node's `link`); null while in no list.
    pprev: DriverCell<*const DriverCell<*mut Header>>,
    /// Driver (written by `schedule` before the node is shared): the due
    /// time, nanoseconds on the crate's monotonic clock; `u64::MAX` = never.
    due: DriverCell<u64>,
}

#[repr(C)]
struct Node<B: Body> {
    header: Header,
    extra: B::Extra,
    body: BodyCell<B>,
}

impl<B: Body> Node<B> {
    const VTABLE: &'static VTable = &VTable {
        run: Self::run,
        drop_body: Self::drop_body,
        dealloc: Self::dealloc,
        repeat: Self::repeat,
        size: core::mem::size_of::<Self>(),
    };

    /// # Safety
    /// `node` came from `Owned::new::<B>`; the caller holds a `Claim`.
    unsafe fn run(node: NonNull<Header>) {
        let node = node.cast::<Self>();
        // SAFETY: `node` is a live `Node<B>` (SAFETY.md, "TimerQueue: memory reclamation").
        let cell = unsafe { &(*node.as_ptr()).body };
        // SAFETY: the caller's claim makes this the only access (SAFETY.md, "TimerQueue: the body").
        cell.with_mut(|body| unsafe { B::run(body) });
    }

    /// # Safety
    /// As `run`; the body has not been moved out or dropped.
    unsafe fn drop_body(node: NonNull<Header>) {
        let node = node.cast::<Self>();
        // SAFETY: `node` is a live `Node<B>` (SAFETY.md, "TimerQueue: memory reclamation").
        let cell = unsafe { &(*node.as_ptr()).body };
        // SAFETY: the caller's claim makes this the only access, once (SAFETY.md, "TimerQueue: the body").
        cell.with_mut(|body| unsafe { ptr::drop_in_place(body) });
    }

    /// # Safety
    /// The last reference is gone; the body was moved out or dropped.
    unsafe fn dealloc(node: NonNull<Header>) {
        // SAFETY: allocated by `Box::new` in `Owned::new`, now unreferenced (SAFETY.md, "TimerQueue: memory reclamation").
        drop(unsafe { Box::from_raw(node.cast::<Self>().as_ptr()) });
    }

    /// # Safety
    /// `node` is a live `Node<B>`.
    unsafe fn repeat(node: NonNull<Header>) -> Option<NonNull<Repeat>> {
        // SAFETY: `node` is a live `Node<B>` (SAFETY.md, "TimerQueue: memory reclamation").
        let extra = unsafe { &(*node.cast::<Self>().as_ptr()).extra };
        B::repeat(extra).map(NonNull::from)
    }
}

/// One counted reference to a node.
pub(super) struct Owned(NonNull<Header>);

// SAFETY: the body is `Send`, everything else is atomics or driver cells used under their protocols (SAFETY.md, "TimerQueue: who owns what").
unsafe impl Send for Owned {}
// SAFETY: as above: shared access goes through the state word (SAFETY.md, "TimerQueue: who owns what").
unsafe impl Sync for Owned {}

impl Owned {
    /// Allocates a node (the timer's one allocation) in `state`, returning
    /// two references: the caller's handle and the queue's.
    pub(super) fn new<B: Body>(
        shared: *const Shared,
        due: u64,
        state: u32,
        extra: B::Extra,
        body: B,
    ) -> (Owned, Owned) {
        check(state);
        let node = Box::new(Node {
            header: Header {
                refs: AtomicU32::new(2),
                state: AtomicU32::new(state),
                vtable: Node::<B>::VTABLE,
                shared,
                next: AtomicPtr::new(ptr::null_mut()),
                link: DriverCell::new(ptr::null_mut()),
                pprev: DriverCell::new(ptr::null()),
                due: DriverCell::new(due),
            },
            extra,
            body: BodyCell::new(body),
        });
        let ptr = NonNull::from(Box::leak(node)).cast::<Header>();
        (Owned(ptr), Owned(ptr))
    }

    #[inline]
    pub(super) fn header(&self) -> &Header {
        // SAFETY: we hold a counted reference (SAFETY.md, "TimerQueue: memory reclamation").
        unsafe { self.0.as_ref() }
    }

    /// The state word (also the futex word).
    #[inline]
    pub(super) fn state(&self) -> &AtomicU32 {
        &self.header().state
    }

    /// Whether two references name the same node.
    #[inline]
    pub(super) fn same(&self, other: &Owned) -> bool {
        self.0 == other.0
    }

    /// The node's size in bytes (see [`VTable::size`]).
    #[inline]
    pub(super) fn size(&self) -> usize {
        self.header().vtable.size
    }

    /// The queue this timer belongs to, as an address only: compared,
    /// never dereferenced (that needs `INFLIGHT`, see [`Cancel::queue`]).
    #[inline]
    pub(super) fn queue_addr(&self) -> *const Shared {
        self.header().shared
    }

    /// The repeat data of a repeating timer.
    pub(super) fn repeat(&self) -> Option<&Repeat> {
        // SAFETY: the node is live while `self` is (SAFETY.md, "TimerQueue: memory reclamation").
        let repeat = unsafe { (self.header().vtable.repeat)(self.0) };
        // SAFETY: points into the node, which lives as long as `self` (SAFETY.md, "TimerQueue: memory reclamation").
        repeat.map(|r| unsafe { r.as_ref() })
    }

    /// The due time (driver only).
    #[inline]
    pub(super) fn due(&self, tok: &Token<'_>) -> u64 {
        self.header().due.get(tok)
    }

    /// Sets the due time (driver only).
    #[inline]
    pub(super) fn set_due(&self, tok: &Token<'_>, due: u64) {
        self.header().due.set(tok, due);
    }

    /// One more reference (a handle clone).
    pub(super) fn clone_ref(&self) -> Owned {
        // Relaxed: a new reference is made from an existing one, which
        // keeps the node alive (as `Arc::clone`).
        let old = self.header().refs.fetch_add(1, Ordering::Relaxed);
        if old > i32::MAX as u32 {
            self.header().refs.fetch_sub(1, Ordering::Relaxed);
            panic!("rallypoint: more than 2^31 handles to one scheduled timer");
        }
        Owned(self.0)
    }

    fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    /// # Safety
    /// `p` carries a counted reference given up by `into_raw`.
    unsafe fn from_raw(p: NonNull<Header>) -> Owned {
        Owned(p)
    }

    /// Tries `from -> to`, where `from` is `WAITING` and `to` is `RUNNING`
    /// (the driver fires) or `CANCELLED` (the driver discards): the winner
    /// owns the body. `Err(actual)` if the word was not `from`.
    pub(super) fn claim(&self, from: u32, to: u32, success: Ordering) -> Result<Claim<'_>, u32> {
        check(to);
        if phase(from) != WAITING || !(phase(to) == RUNNING || phase(to) == CANCELLED) {
            debug_assert!(
                false,
                "timer claim {from:#x} -> {to:#x}: not a claiming edge"
            );
            return Err(from);
        }
        // Failure Acquire: the caller decides on the value it sees (a
        // cancel's CAS, Release, published the canceller's writes).
        self.state()
            .compare_exchange(from, to, success, Ordering::Acquire)?;
        Ok(Claim {
            node: self,
            spent: false,
            running: phase(to) == RUNNING,
        })
    }

    /// A handle's cancel of a pending timer: `from` (`WAITING`) ->
    /// `CANCELLED | INFLIGHT` (keeping `LINKED`), by one CAS. The winner
    /// owns the body and may use the queue until [`Cancel`] is dropped.
    pub(super) fn try_cancel(&self, from: u32) -> Result<Cancel<'_>, u32> {
        let to = CANCELLED | INFLIGHT | (from & LINKED);
        let claim = self.claim(from, to, Ordering::AcqRel)?;
        Ok(Cancel { claim, from })
    }

    /// Takes the panic payload of a finished, panicked timer (the first
    /// caller gets it).
    #[cfg(feature = "std")]
    pub(super) fn take_panic(&self) -> Option<Payload> {
        // Acquire: pairs with the Release swap that published PANICKED
        // after the payload store.
        let s = self.state().load(Ordering::Acquire);
        if s & PANICKED == 0 || phase(s) != FIRED {
            return None;
        }
        // Acquire: as above (the payload pointer's target).
        let p = self.header().next.swap(ptr::null_mut(), Ordering::Acquire);
        let p = NonNull::new(p)?;
        // SAFETY: a `Box<Payload>` stored by `Claim::set_panic`, taken once by this swap (SAFETY.md, "TimerQueue: panics").
        Some(*unsafe { Box::from_raw(p.cast::<Payload>().as_ptr()) })
    }
}

impl Clone for Owned {
    fn clone(&self) -> Self {
        self.clone_ref()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // AcqRel: Release orders this reference's uses before the free;
        // Acquire (on the last) makes every other reference's uses happen
        // before it (the `Arc` protocol, without a separate fence).
        if self.header().refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        #[cfg(feature = "std")]
        {
            // An untaken panic payload (the state is final: nobody else
            // holds a reference).
            let s = self.state().load(Ordering::Relaxed);
            if s & PANICKED != 0 {
                let p = self.header().next.load(Ordering::Relaxed);
                if let Some(p) = NonNull::new(p) {
                    // SAFETY: stored by `Claim::set_panic` and never taken (SAFETY.md, "TimerQueue: panics").
                    drop(unsafe { Box::from_raw(p.cast::<Payload>().as_ptr()) });
                }
            }
        }
        // SAFETY: the last reference; the body is gone (SAFETY.md, "TimerQueue: memory reclamation").
        unsafe { (self.header().vtable.dealloc)(self.0) }
    }
}

impl fmt::Debug for Owned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owned")
            .field("state", &self.state().load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A panic payload.
#[cfg(feature = "std")]
pub(super) type Payload = Box<dyn core::any::Any + Send + 'static>;

/// Ownership of a node's body, created by a winning claim CAS. Dropping it
/// drops the body (unless it was moved out, or handed back by `requeue`)
/// and wakes waiters if the claim itself finished the timer.
pub(super) struct Claim<'a> {
    node: &'a Owned,
    /// The body was moved out (one-shot run) or handed back.
    spent: bool,
    /// The word is `RUNNING` and this claim must move it on: if the claim
    /// is dropped that way (a panic unwinding without `std`), the drop
    /// finishes the timer as `FIRED`.
    running: bool,
}

impl Claim<'_> {
    /// Runs the body once. A one-shot body is consumed (even if it panics).
    pub(super) fn run(&mut self) {
        debug_assert!(!self.spent);
        if self.node.repeat().is_none() {
            self.spent = true;
        }
        // SAFETY: this claim is the only access to the body; `spent` stops any later use of a moved-out body (SAFETY.md, "TimerQueue: the body").
        unsafe { (self.node.header().vtable.run)(self.node.0) }
    }

    /// Stores the panic payload; published by [`finish`](Self::finish)
    /// with `PANICKED`.
    #[cfg(feature = "std")]
    pub(super) fn set_panic(&mut self, payload: Payload) {
        let p = Box::into_raw(Box::new(payload)).cast::<Header>();
        // Relaxed: published by `finish`'s Release swap. The node is
        // RUNNING, so its `next` is out of the inbox (taken before the node
        // was LINKED) and no cancel can push it.
        self.node.header().next.store(p, Ordering::Relaxed);
    }

    /// `RUNNING -> WAITING | LINKED` (flags kept): hands the body back for
    /// the next run. `Err` with the claim and the word if a cancel set
    /// `STOPPED`.
    pub(super) fn requeue(mut self) -> Result<(), (Self, u32)> {
        let state = self.node.state();
        let mut s = state.load(Ordering::Relaxed);
        loop {
            check(s);
            debug_assert_eq!(phase(s), RUNNING);
            if s & STOPPED != 0 || phase(s) != RUNNING {
                return Err((self, s));
            }
            let to = (s & PARKED) | WAITING | LINKED;
            // Release: the run's writes to the body happen-before the next
            // claim (the next run, or a canceller dropping it).
            match state.compare_exchange(s, to, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    self.spent = true;
                    self.running = false;
                    return Ok(());
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Finishes a `RUNNING` timer: drops the body (if still here), then
    /// `RUNNING -> phase | flags` by a Release swap that publishes the
    /// run, and wakes waiters.
    pub(super) fn finish(mut self, phase_to: u32, flags: u32) {
        self.running = false;
        self.finish_running(phase_to | flags);
    }

    fn finish_running(&mut self, to: u32) {
        check(to);
        let node = self.node;
        let publish = move || {
            // Release: pairs with `wait`'s Acquire loads (the run's
            // effects, the body's drop, the payload).
            let old = node.state().swap(to, Ordering::Release);
            check(old);
            debug_assert_eq!(phase(old), RUNNING, "finish from {old:#x}");
            if old & PARKED != 0 {
                futex::wake_all(node.state());
            }
        };
        // A panicking destructor of the body still finishes the timer.
        crate::sync::on_unwind(|| self.drop_body(), publish);
        publish();
    }

    fn drop_body(&mut self) {
        if !self.spent {
            self.spent = true;
            // SAFETY: this claim is the only access, and the body is still here (SAFETY.md, "TimerQueue: the body").
            unsafe { (self.node.header().vtable.drop_body)(self.node.0) }
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.running {
            // Unwinding out of the body (no `std` to catch it): the timer
            // still finishes, and its waiters return.
            self.running = false;
            self.finish_running(FIRED);
            return;
        }
        self.drop_body();
    }
}

impl fmt::Debug for Claim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claim").field("spent", &self.spent).finish()
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

impl Cancel<'_> {
    /// The word the cancel CAS replaced.
    pub(super) fn from(&self) -> u32 {
        self.from
    }

    /// The queue the timer belongs to.
    pub(super) fn queue(&self) -> &Shared {
        // SAFETY: INFLIGHT is set, so the queue is not freed until this `Cancel` clears it (SAFETY.md, "TimerQueue: memory reclamation").
        unsafe { &*self.claim.node.header().shared }
    }

    /// Sends the node to the driver as a cancel message (it was `LINKED`).
    /// Returns the inbox's tag bits, or `None` if the queue was shut down
    /// (its drain finds the node in its list instead).
    pub(super) fn send_message(&self) -> Option<usize> {
        debug_assert!(self.from & LINKED != 0);
        self.queue().inbox.push(self.claim.node.0).ok()
    }
}

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        let state = self.claim.node.state();
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

// ---------------------------------------------------------------- the queue's shared part

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

// ---------------------------------------------------------------- the driver's token

/// Proof that this thread holds the queue's `DRIVING` bit.
pub(super) struct Token<'a>(PhantomData<&'a Shared>);

impl fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token")
    }
}

// ---------------------------------------------------------------- inbox

/// Inbox tag: the driver is parked (or about to): a push may need to wake it.
pub(super) const TAG_PARKED: usize = 1;
/// Inbox tag: shut down; every push is refused.
pub(super) const TAG_SHUTDOWN: usize = 2;
/// Inbox tag: a thread drives the queue.
pub(super) const TAG_DRIVING: usize = 4;
const TAGS: usize = 7;

#[inline]
fn tags(p: *mut Header) -> usize {
    p as usize & TAGS
}

#[inline]
fn untag(p: *mut Header) -> *mut Header {
    p.wrapping_byte_sub(tags(p))
}

#[inline]
fn tagged(p: *mut Header, t: usize) -> *mut Header {
    debug_assert_eq!(tags(p), 0);
    p.wrapping_byte_add(t)
}

/// The lock-free multi-producer inbox: an intrusive Treiber stack of nodes
/// whose head also carries the tag bits above. Producers push with one
/// CAS; the driver takes the whole stack with one CAS.
pub(super) struct Inbox {
    head: AtomicPtr<Header>,
}

impl Inbox {
    pub(super) fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The tag bits now.
    pub(super) fn tags(&self) -> usize {
        // Acquire: a caller seeing SHUTDOWN sees what preceded it.
        tags(self.head.load(Ordering::Acquire))
    }

    /// Pushes a new timer, giving the inbox the queue's reference.
    /// `Err(node)` if shut down.
    pub(super) fn push_new(&self, node: Owned) -> Result<usize, Owned> {
        let p = node.into_raw();
        // SAFETY: `p` came from `into_raw` just above and was not pushed (SAFETY.md, "TimerQueue: memory reclamation").
        self.push(p).map_err(|()| unsafe { Owned::from_raw(p) })
    }

    /// Pushes `node` (a new timer, or a cancel message); returns the tags
    /// the push saw, or `Err` if shut down.
    fn push(&self, node: NonNull<Header>) -> Result<usize, ()> {
        // SAFETY: the caller holds a reference to `node` (SAFETY.md, "TimerQueue: memory reclamation").
        let next = &unsafe { node.as_ref() }.next;
        let mut cur = self.head.load(Ordering::Relaxed);
        loop {
            if tags(cur) & TAG_SHUTDOWN != 0 {
                return Err(());
            }
            // Relaxed: published by the CAS below (Release).
            next.store(untag(cur), Ordering::Relaxed);
            // AcqRel: Release publishes the node (and a canceller's state
            // CAS) to the driver's take (Acquire); Acquire pairs with the
            // driver's park CAS (Release), so the pusher sees its
            // `sleep_until`.
            match self.head.compare_exchange_weak(
                cur,
                tagged(node.as_ptr(), tags(cur)),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(tags(cur)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Becomes the driver, unless another thread is.
    pub(super) fn try_drive(&self) -> Option<Token<'_>> {
        let mut cur = self.head.load(Ordering::Relaxed);
        loop {
            if tags(cur) & TAG_DRIVING != 0 {
                return None;
            }
            // Acquire: pairs with the previous driver's release (Release):
            // its writes to driver cells happen-before ours.
            match self.head.compare_exchange_weak(
                cur,
                cur.wrapping_byte_add(TAG_DRIVING),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Token(PhantomData)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives up driving; `Err(token)` if shut down (the caller drains
    /// first, then calls [`release_drained`](Self::release_drained)).
    pub(super) fn try_release<'a>(&'a self, tok: Token<'a>) -> Result<(), Token<'a>> {
        let mut cur = self.head.load(Ordering::Acquire);
        loop {
            debug_assert!(tags(cur) & TAG_DRIVING != 0);
            if tags(cur) & TAG_SHUTDOWN != 0 {
                return Err(tok);
            }
            // Release: pairs with the next driver's Acquire (try_drive).
            match self.head.compare_exchange_weak(
                cur,
                cur.wrapping_byte_sub(TAG_DRIVING),
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives up driving a shut-down, drained queue.
    pub(super) fn release_drained(&self, _: &Token<'_>) {
        // Release: as in `try_release`. Pushes are refused, so only this
        // bit changes.
        let old = self.head.swap(
            ptr::null_mut::<Header>().wrapping_byte_add(TAG_SHUTDOWN),
            Ordering::Release,
        );
        debug_assert_eq!(old as usize, TAG_SHUTDOWN | TAG_DRIVING);
    }

    /// Sets `SHUTDOWN` (and `DRIVING`, if nobody drives). Returns whether
    /// this call shut the queue down, and a token if it must drain it.
    pub(super) fn shutdown(&self) -> (bool, Option<Token<'_>>) {
        let mut cur = self.head.load(Ordering::Relaxed);
        loop {
            if tags(cur) & TAG_SHUTDOWN != 0 {
                return (false, None);
            }
            let add = TAG_SHUTDOWN | (!tags(cur) & TAG_DRIVING);
            // AcqRel: Release publishes the shutdown to the driver's and
            // pushers' loads of the word; Acquire (when we become the
            // driver) pairs with the last driver's release.
            match self.head.compare_exchange_weak(
                cur,
                cur.wrapping_byte_add(add),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let tok = (add & TAG_DRIVING != 0).then_some(Token(PhantomData));
                    return (true, tok);
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes every pushed node (clearing `PARKED`); returns them and the
    /// tags.
    pub(super) fn take<'t>(&self, _: &Token<'t>) -> (Chain<'t>, usize) {
        // Acquire: pairs with the pushes' Release: the nodes' fields (and
        // the cancel CASes of cancel messages) are visible.
        let mut cur = self.head.load(Ordering::Acquire);
        loop {
            let t = tags(cur);
            if untag(cur).is_null() && t & TAG_PARKED == 0 {
                return (Chain::new(ptr::null_mut()), t);
            }
            let new = ptr::null_mut::<Header>().wrapping_byte_add(t & !TAG_PARKED);
            // Acquire: as above.
            match self
                .head
                .compare_exchange_weak(cur, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return (Chain::new(untag(cur)), t & !TAG_PARKED),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Sets `PARKED` if the inbox is empty and not shut down; returns
    /// whether it did (the driver may then sleep).
    pub(super) fn park(&self, _: &Token<'_>) -> bool {
        let cur = self.head.load(Ordering::Relaxed);
        if !untag(cur).is_null() || tags(cur) & (TAG_SHUTDOWN | TAG_PARKED) != 0 {
            return false;
        }
        // Release: publishes `sleep_until` (stored just before) to the
        // pushers whose CAS reads this value (Acquire).
        self.head
            .compare_exchange(
                cur,
                cur.wrapping_byte_add(TAG_PARKED),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("tags", &self.tags())
            .finish_non_exhaustive()
    }
}

/// What [`Inbox::take`] took, newest first.
pub(super) struct Chain<'t> {
    next: *mut Header,
    _tok: PhantomData<&'t Token<'t>>,
}

/// One taken inbox entry.
#[derive(Debug)]
pub(super) enum Taken<'t> {
    /// A new timer: the queue's reference.
    New(Owned),
    /// A cancel message for a node in one of the driver's lists.
    Message(Message<'t>),
}

/// A cancel message: the node is `CANCELLED | LINKED` and sits in a driver
/// list, which holds the queue's reference.
#[derive(Debug)]
pub(super) struct Message<'t> {
    node: NonNull<Header>,
    _tok: PhantomData<&'t Token<'t>>,
}

impl Chain<'_> {
    fn new(next: *mut Header) -> Self {
        Self {
            next,
            _tok: PhantomData,
        }
    }
}

impl<'t> Iterator for Chain<'t> {
    type Item = Taken<'t>;

    fn next(&mut self) -> Option<Taken<'t>> {
        let node = NonNull::new(self.next)?;
        // SAFETY: a taken node is referenced by the inbox (new) or by a driver list (message) until we hand it on (SAFETY.md, "TimerQueue: memory reclamation").
        let header = unsafe { node.as_ref() };
        // Relaxed: the take's Acquire made the pushes visible, and nobody
        // writes `next` again before we are done with this node.
        self.next = header.next.load(Ordering::Relaxed);
        // Relaxed: LINKED of a node in the inbox was fixed before its push.
        let s = header.state.load(Ordering::Relaxed);
        Some(if s & LINKED != 0 {
            debug_assert_eq!(phase(s), CANCELLED);
            Taken::Message(Message {
                node,
                _tok: PhantomData,
            })
        } else {
            // SAFETY: a new node's push gave the inbox the queue's reference (SAFETY.md, "TimerQueue: memory reclamation").
            Taken::New(unsafe { Owned::from_raw(node) })
        })
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Chain(..)")
    }
}

// ---------------------------------------------------------------- driver lists

/// An intrusive doubly linked list (Linux's `hlist`: each node points at
/// the cell pointing at it, so removal needs no list head). Holds the
/// queue's references of its nodes. Lives in the boxed `Shared` and never
/// moves.
pub(super) struct List {
    first: DriverCell<*mut Header>,
}

impl List {
    pub(super) const fn new() -> Self {
        Self {
            first: DriverCell::new(ptr::null_mut()),
        }
    }

    pub(super) fn is_empty(&self, tok: &Token<'_>) -> bool {
        self.first.get(tok).is_null()
    }

    /// Adds `node` (in no list) at the front.
    pub(super) fn push(&self, tok: &Token<'_>, node: Owned) {
        let h = node.header();
        debug_assert!(h.pprev.get(tok).is_null(), "node already in a list");
        let first = self.first.get(tok);
        h.link.set(tok, first);
        h.pprev.set(tok, &self.first);
        if let Some(first) = NonNull::new(first) {
            // SAFETY: nodes in a list are live: the list holds their queue reference (SAFETY.md, "TimerQueue: memory reclamation").
            unsafe { first.as_ref() }.pprev.set(tok, &h.link);
        }
        self.first.set(tok, node.into_raw().as_ptr());
    }

    /// Removes and returns the first node.
    pub(super) fn pop(&self, tok: &Token<'_>) -> Option<Owned> {
        let first = NonNull::new(self.first.get(tok))?;
        unlink_raw(tok, first);
        // SAFETY: the list held this reference (SAFETY.md, "TimerQueue: memory reclamation").
        Some(unsafe { Owned::from_raw(first) })
    }

    /// Moves every node to `to` (whose nodes stay; the order changes).
    pub(super) fn move_to(&self, tok: &Token<'_>, to: &List) {
        while let Some(node) = self.pop(tok) {
            to.push(tok, node);
        }
    }

    /// The earliest due time in the list.
    pub(super) fn min_due(&self, tok: &Token<'_>) -> Option<u64> {
        let mut min = None;
        let mut p = self.first.get(tok);
        while let Some(node) = NonNull::new(p) {
            // SAFETY: as in `push` (SAFETY.md, "TimerQueue: memory reclamation").
            let h = unsafe { node.as_ref() };
            let due = h.due.get(tok);
            min = Some(min.map_or(due, |m: u64| m.min(due)));
            p = h.link.get(tok);
        }
        min
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("List(..)")
    }
}

/// Takes a cancel message's node out of whatever driver list holds it,
/// returning the list's reference. `None` (and a debug panic) if it is in
/// none, which the protocol excludes.
pub(super) fn unlink(tok: &Token<'_>, message: Message<'_>) -> Option<Owned> {
    let node = message.node;
    // SAFETY: a message's node is live: a driver list holds its queue reference (SAFETY.md, "TimerQueue: memory reclamation").
    let h = unsafe { node.as_ref() };
    if h.pprev.get(tok).is_null() {
        debug_assert!(false, "cancel message for a node in no list");
        return None;
    }
    unlink_raw(tok, node);
    // SAFETY: the list held this reference (SAFETY.md, "TimerQueue: memory reclamation").
    Some(unsafe { Owned::from_raw(node) })
}

fn unlink_raw(tok: &Token<'_>, node: NonNull<Header>) {
    // SAFETY: the caller has checked that `node` is in a list, which keeps it live (SAFETY.md, "TimerQueue: memory reclamation").
    let h = unsafe { node.as_ref() };
    let pprev = h.pprev.get(tok);
    let next = h.link.get(tok);
    // SAFETY: `pprev` points at a list head in the boxed `Shared` or at a live node's `link` (SAFETY.md, "TimerQueue: memory reclamation").
    unsafe { &*pprev }.set(tok, next);
    if let Some(next) = NonNull::new(next) {
        // SAFETY: as in `List::push` (SAFETY.md, "TimerQueue: memory reclamation").
        unsafe { next.as_ref() }.pprev.set(tok, pprev);
    }
    h.pprev.set(tok, ptr::null());
    h.link.set(tok, ptr::null_mut());
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn header_is_small_and_leaves_three_tag_bits() {
        assert!(core::mem::align_of::<Header>() >= 8);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<Header>(), 56);
    }

    #[test]
    fn state_checks_accept_every_legal_word() {
        for s in [
            WAITING,
            WAITING | PARKED | LINKED,
            RUNNING | STOPPED | PARKED,
            FIRED | PANICKED,
            CANCELLED | INFLIGHT | LINKED,
        ] {
            check(s);
        }
        assert!(is_finished(FIRED) && is_finished(CANCELLED | LINKED));
        assert!(!is_finished(RUNNING | STOPPED));
    }
}
