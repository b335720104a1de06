//! The driver's intrusive lists of nodes (only the driver touches them, by
//! its [`Token`]): the wheel's slots and the driver's holding lists.

use super::entry::{Header, Owned};
use super::inbox::Message;
use super::token::{DriverCell, Token};
use core::fmt;
use core::ptr::{self, NonNull};

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
        // SAFETY: the list code keeps the links consistent (SAFETY.md, "TimerQueue: memory reclamation").
        let (link, pprev) = unsafe { node.header().list_links() };
        debug_assert!(pprev.get(tok).is_null(), "node already in a list");
        let first = self.first.get(tok);
        link.set(tok, first);
        pprev.set(tok, &self.first);
        if let Some(first) = NonNull::new(first) {
            // SAFETY: nodes in a list are live: the list holds their queue reference (SAFETY.md, "TimerQueue: memory reclamation").
            let first = unsafe { first.as_ref() };
            // SAFETY: as above.
            unsafe { first.list_links() }.1.set(tok, link);
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
            let due = h.due(tok);
            min = Some(min.map_or(due, |m: u64| m.min(due)));
            // SAFETY: as above; the link is only read.
            p = unsafe { h.list_links() }.0.get(tok);
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
    let node = message.into_ptr();
    // SAFETY: a message's node is live: a driver list holds its queue reference (SAFETY.md, "TimerQueue: memory reclamation").
    let h = unsafe { node.as_ref() };
    // SAFETY: only read here (SAFETY.md, "TimerQueue: memory reclamation").
    if unsafe { h.list_links() }.1.get(tok).is_null() {
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
    // SAFETY: the list code keeps the links consistent (SAFETY.md, "TimerQueue: memory reclamation").
    let (link, pprev_cell) = unsafe { h.list_links() };
    let pprev = pprev_cell.get(tok);
    let next = link.get(tok);
    // SAFETY: `pprev` points at a list head in the boxed `Shared` or at a live node's `link` (SAFETY.md, "TimerQueue: memory reclamation").
    unsafe { &*pprev }.set(tok, next);
    if let Some(next) = NonNull::new(next) {
        // SAFETY: as in `List::push` (SAFETY.md, "TimerQueue: memory reclamation").
        let next = unsafe { next.as_ref() };
        // SAFETY: as above.
        unsafe { next.list_links() }.1.set(tok, pprev);
    }
    pprev_cell.set(tok, ptr::null());
    link.set(tok, ptr::null_mut());
}
