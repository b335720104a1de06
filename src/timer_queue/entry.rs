//! The timer node: one reference-counted allocation per timer (header,
//! repeat data, body) and its state word; [`Owned`] is one counted
//! reference, [`Claim`] the ownership of the body that a winning claim CAS
//! gives.
//!
//! Soundness rests on the invariants of SAFETY.md, "TimerQueue" (each
//! `// SAFETY:` names its heading):
//!
//! - A node is one allocation (`Node<B>`: header, extra, body), freed when
//!   its reference count drops to zero.
//! - The body (the user's closure) is touched only by whoever holds a
//!   [`Claim`], which only a winning `WAITING -> RUNNING` or
//!   `WAITING -> CANCELLED` CAS on the node's state word creates.
//! - The fields marked "driver" are touched only by the thread that holds
//!   the queue's `DRIVING` bit (`token.rs`).
//!
//! # State word
//!
//! The timer phase machine of `timer_phase.rs` (the phase in bits 0..2,
//! `PARKED` in bit 2, as `Timer`'s) plus the queue's flags:
//!
//! | bit | flag       | meaning                                                      |
//! |-----|------------|--------------------------------------------------------------|
//! | 3   | `LINKED`   | in a driver list: a cancel sends a cancel message            |
//! | 4   | `STOPPED`  | repeating, cancelled during a run: no run starts again       |
//! | 5   | `INFLIGHT` | a canceller still uses the queue (only with `CANCELLED`)     |
//! | 6   | `PANICKED` | the body panicked (only with `FIRED`); payload in `next`     |

use super::body::{Body, BodyCell, Repeat};
use super::current::Queue;
#[cfg(feature = "std")]
use super::panic::Payload;
use super::token::{DriverCell, Token};
use crate::futex;
use crate::sync::{AtomicPtr, AtomicU32, Ordering};
use crate::timer_phase::{self, phase, CANCELLED, FIRED, FLAGS, PARKED, PHASE, RUNNING, WAITING};
use alloc::boxed::Box;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};

/// The node sits in one of the driver's lists: whoever cancels it must send
/// it to the driver through the inbox (a "cancel message").
pub(super) const LINKED: u32 = FLAGS;
/// Repeating timer cancelled while its body runs: no run starts again.
pub(super) const STOPPED: u32 = FLAGS << 1;
/// A canceller is still touching the queue: the queue must not free this
/// node's reference (nor itself) until the bit clears.
pub(super) const INFLIGHT: u32 = FLAGS << 2;
/// The body panicked; with `std` the payload sits in the `next` field.
pub(super) const PANICKED: u32 = FLAGS << 3;
/// Every bit in use; the rest of the word stays zero.
const ALL_BITS: u32 = PHASE | PARKED | LINKED | STOPPED | INFLIGHT | PANICKED;

/// Whether the word is final (`FIRED`, or `CANCELLED` with the canceller's
/// queue work done: a `CANCELLED | INFLIGHT` word still reads as pending, so
/// whoever sees a timer finished also sees `len` without it).
#[inline]
pub(super) const fn is_finished(s: u32) -> bool {
    timer_phase::is_finished(s) && s & INFLIGHT == 0
}

/// Checks a state word's invariants (debug and loom builds).
#[inline]
pub(super) fn check(s: u32) {
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
    /// The queue's shared part (`shared.rs`'s `Shared`, erased: this file
    /// sits below it); dereferenced only under `INFLIGHT`, by `Cancel`.
    shared: Queue,
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

// The link fields are private, and reaching them is `unsafe`: the inbox
// and the lists dereference every pointer stored in them, so a store from
// safe code elsewhere could make those dereferences unsound. Only
// `inbox.rs` and `list.rs` (and this file) call these, each under the
// argument of SAFETY.md, "TimerQueue: memory reclamation".
impl Header {
    /// The inbox link.
    ///
    /// # Safety
    ///
    /// Only the inbox's push and take (`inbox.rs`) and the panic payload
    /// (this file) use it: whatever is stored must be what they expect
    /// (a pushed node or null; a payload box while `PANICKED`).
    #[inline]
    pub(super) unsafe fn inbox_link(&self) -> &AtomicPtr<Header> {
        &self.next
    }

    /// The driver-list links: the next node, and the cell pointing here.
    ///
    /// # Safety
    ///
    /// Only the driver lists (`list.rs`) use them, keeping `link` and
    /// `pprev` a consistent doubly linked list of live nodes.
    #[inline]
    #[allow(clippy::type_complexity)]
    pub(super) unsafe fn list_links(
        &self,
    ) -> (
        &DriverCell<*mut Header>,
        &DriverCell<*const DriverCell<*mut Header>>,
    ) {
        (&self.link, &self.pprev)
    }

    /// The due time (driver only).
    #[inline]
    pub(super) fn due(&self, tok: &Token<'_>) -> u64 {
        self.due.get(tok)
    }
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
        shared: Queue,
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
    /// never dereferenced (that needs `INFLIGHT`: `Cancel::queue`).
    #[inline]
    pub(super) fn queue_addr(&self) -> Queue {
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

    /// The node's address; the reference stays with `self`.
    #[inline]
    pub(super) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }

    /// Gives up the counted reference as a pointer (to a list or the
    /// inbox); [`from_raw`](Self::from_raw) takes it back.
    pub(super) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    /// # Safety
    /// `p` carries a counted reference given up by `into_raw`.
    pub(super) unsafe fn from_raw(p: NonNull<Header>) -> Owned {
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

impl<'a> Claim<'a> {
    /// The claimed node.
    #[inline]
    pub(super) fn node(&self) -> &'a Owned {
        self.node
    }

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
        crate::unwind::on_unwind(|| self.drop_body(), publish);
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
