//! The queue's inbox: a lock-free multi-producer intrusive stack of nodes
//! (new timers, and cancel messages for timers already in a driver list)
//! whose head word also carries the queue's tags: `PARKED` (the driver
//! sleeps), `SHUTDOWN`, and `DRIVING`, the bit a [`Token`] proves.

use super::entry::{Header, Owned, LINKED};
use super::token::Token;
use crate::sync::{AtomicPtr, Ordering};
use crate::timer_phase::{phase, CANCELLED};
use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};

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

    /// Pushes a cancel message for `node` (`CANCELLED | INFLIGHT | LINKED`:
    /// a driver list holds the queue's reference, which the message names).
    /// Returns the tags the push saw, or `None` if shut down.
    pub(super) fn push_message(&self, node: &Owned) -> Option<usize> {
        self.push(node.as_ptr()).ok()
    }

    /// Pushes `node` (a new timer, or a cancel message); returns the tags
    /// the push saw, or `Err` if shut down.
    fn push(&self, node: NonNull<Header>) -> Result<usize, ()> {
        // SAFETY: the caller holds a reference to `node` (SAFETY.md, "TimerQueue: memory reclamation").
        let header = unsafe { node.as_ref() };
        // SAFETY: the inbox link is the inbox's own (SAFETY.md, "TimerQueue: memory reclamation").
        let next = unsafe { header.inbox_link() };
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
                // SAFETY: this CAS set DRIVING, and only `try_release` or `release_drained` (which take the token) clears it (SAFETY.md, "TimerQueue: who owns what").
                Ok(_) => return Some(unsafe { Token::new() }),
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
                    // SAFETY: this CAS set DRIVING (when `add` has it), held until the drain's `release_drained` (SAFETY.md, "TimerQueue: who owns what").
                    let tok = (add & TAG_DRIVING != 0).then(|| unsafe { Token::new() });
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

impl Message<'_> {
    /// The node, for the driver to unlink from its list.
    pub(super) fn into_ptr(self) -> NonNull<Header> {
        self.node
    }
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
        // SAFETY: the inbox link is the inbox's own (SAFETY.md, "TimerQueue: memory reclamation").
        self.next = unsafe { header.inbox_link() }.load(Ordering::Relaxed);
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
