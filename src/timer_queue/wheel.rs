//! The driver's hierarchical timing wheel (only the driver touches it).
//!
//! Time is counted in ticks of `2^TICK_SHIFT` ns (8.2 µs). Level `l` has 64
//! slots of `64^l` ticks each; nine levels cover every `u64` nanosecond
//! (`u64::MAX >> 13 < 2^54`), so no timer needs an overflow list. A timer
//! goes to the level of the highest 6-bit digit in which its due tick
//! differs from `elapsed` (tokio's and Varghese & Lauck's scheme); when the
//! wheel reaches a slot of a higher level, its timers cascade to lower
//! levels, at most once per level. Insert and remove are O(1) (the
//! lists are intrusive and doubly linked); finding the next deadline is a
//! bitmap scan per level; each slot also keeps the earliest due nanosecond
//! filed in it, so the driver sleeps until the exact due time of its
//! earliest timer (not the slot's or level's first tick) in O(1).
//!
//! Timers whose tick has been reached sit in `current` until their exact
//! due nanosecond passes. Cancelled timers found while expiring wait in
//! `zombies` for their cancel message (which carries their reference);
//! released timers whose canceller is still `INFLIGHT` wait in `deferred`.

use super::entry::Owned;
use super::list::List;
use super::token::{DriverCell, Token};
use crate::sync::Ordering;
use crate::time::NEVER;
use crate::timer_phase::{phase, CANCELLED};

/// Nanoseconds per tick, as a shift (8 192 ns).
pub(super) const TICK_SHIFT: u32 = 13;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 9;

/// One level: 64 slots and a bitmap of the non-empty ones. A bit may be
/// stale (set for a slot a cancel emptied); the scans clear it.
struct Level {
    occupied: DriverCell<u64>,
    slots: [List; SLOTS],
    /// Per slot, the earliest due nanosecond filed there since the slot was
    /// last emptied ([`NEVER`] when empty). A cancel leaves it as it was, so
    /// it may be earlier than every timer still in the slot ("stale-low"):
    /// the driver then wakes early once, at an instant that is at or after
    /// the slot's first tick, and that wake cascades the slot (never late,
    /// never a busy loop; SAFETY.md, "TimerQueue: the wheel and
    /// never-early").
    earliest: [DriverCell<u64>; SLOTS],
}

impl Level {
    fn clear_slot(&self, tok: &Token<'_>, slot: usize) {
        self.occupied
            .set(tok, self.occupied.get(tok) & !(1 << slot));
        self.earliest[slot].set(tok, NEVER);
    }
}

/// Everything the driver owns.
pub(super) struct Driver {
    /// Ticks up to which the wheel has been advanced.
    elapsed: DriverCell<u64>,
    levels: [Level; LEVELS],
    /// Reached their tick, not yet their due nanosecond.
    current: List,
    /// Being fired (taken from `current`; left here if a function panics
    /// without `std`, and picked up by the next turn).
    firing: List,
    /// Due never (`Duration::MAX`): kept only so that cancel and shutdown
    /// find them.
    never: List,
    /// Cancelled, found while expiring; released by their cancel message.
    pub(super) zombies: List,
    /// Released, but their canceller is still `INFLIGHT`.
    pub(super) deferred: List,
    /// Scratch for sweeping `deferred`.
    sweep: List,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Driver(..)")
    }
}

/// The level a timer due at `tick` belongs to, given `elapsed < tick`.
#[inline]
fn level_for(elapsed: u64, tick: u64) -> usize {
    let masked = (elapsed ^ tick) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

impl Driver {
    pub(super) fn new() -> Self {
        Self {
            elapsed: DriverCell::new(0),
            levels: core::array::from_fn(|_| Level {
                occupied: DriverCell::new(0),
                slots: core::array::from_fn(|_| List::new()),
                earliest: core::array::from_fn(|_| DriverCell::new(NEVER)),
            }),
            current: List::new(),
            firing: List::new(),
            never: List::new(),
            zombies: List::new(),
            deferred: List::new(),
            sweep: List::new(),
        }
    }

    /// Files a pending timer by its due time.
    pub(super) fn insert(&self, tok: &Token<'_>, node: Owned) {
        let due = node.due(tok);
        if due == NEVER {
            self.never.push(tok, node);
            return;
        }
        let tick = due >> TICK_SHIFT;
        let elapsed = self.elapsed.get(tok);
        if tick <= elapsed {
            self.current.push(tok, node);
            return;
        }
        let level = level_for(elapsed, tick);
        let slot = ((tick >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1);
        let l = &self.levels[level];
        l.slots[slot].push(tok, node);
        l.occupied.set(tok, l.occupied.get(tok) | 1 << slot);
        let earliest = &l.earliest[slot];
        earliest.set(tok, earliest.get(tok).min(due));
    }

    /// The next non-empty slot: `(level, slot, first tick)`.
    fn next_expiration(&self, tok: &Token<'_>) -> Option<(usize, usize, u64)> {
        let elapsed = self.elapsed.get(tok);
        for (level, l) in self.levels.iter().enumerate() {
            let shift = level as u32 * SLOT_BITS;
            loop {
                let occupied = l.occupied.get(tok);
                if occupied == 0 {
                    break;
                }
                let now_slot = ((elapsed >> shift) as usize) & (SLOTS - 1);
                let slot = (occupied.rotate_right(now_slot as u32).trailing_zeros() as usize
                    + now_slot)
                    % SLOTS;
                if l.slots[slot].is_empty(tok) {
                    // Emptied by cancel messages: clear the stale bit.
                    l.clear_slot(tok, slot);
                    continue;
                }
                // At most 2^54 ticks: no shift overflows.
                let level_range = 1u64 << (shift + SLOT_BITS);
                let level_start = elapsed & !(level_range - 1);
                let start = level_start + ((slot as u64) << shift);
                debug_assert!(start > elapsed || level == 0 && start == elapsed);
                return Some((level, slot, start));
            }
        }
        None
    }

    /// Advances to `now` (ns): every slot whose first tick has been reached
    /// cascades down; timers of reached ticks move to `current`.
    pub(super) fn advance(&self, tok: &Token<'_>, now: u64) {
        let now_tick = now >> TICK_SHIFT;
        while let Some((level, slot, start)) = self.next_expiration(tok) {
            if start > now_tick {
                break;
            }
            self.elapsed.set(tok, start);
            let l = &self.levels[level];
            l.clear_slot(tok, slot);
            while let Some(node) = l.slots[slot].pop(tok) {
                if phase(node.state().load(Ordering::Relaxed)) == CANCELLED {
                    // Its cancel message (on its way) releases it.
                    self.zombies.push(tok, node);
                } else {
                    self.insert(tok, node);
                }
            }
        }
        if now_tick > self.elapsed.get(tok) {
            self.elapsed.set(tok, now_tick);
        }
    }

    /// Moves `current` (and leftovers of an interrupted pass) into
    /// `firing`; the caller pops from [`firing`](Self::pop_firing).
    pub(super) fn start_firing(&self, tok: &Token<'_>) {
        self.current.move_to(tok, &self.firing);
    }

    pub(super) fn pop_firing(&self, tok: &Token<'_>) -> Option<Owned> {
        self.firing.pop(tok)
    }

    /// Puts a not-yet-due timer back into `current`.
    pub(super) fn keep_current(&self, tok: &Token<'_>, node: Owned) {
        self.current.push(tok, node);
    }

    /// The earliest instant (ns) at which the driver has something to do:
    /// the exact due time of the earliest pending timer (or, after cancels,
    /// possibly an earlier instant within the first occupied slot; see
    /// [`Level::earliest`]).
    ///
    /// The first occupied slot of the lowest occupied level holds the
    /// earliest timers of the wheel: a timer sits at the level of the
    /// highest 6-bit digit in which its tick differs from `elapsed`, so a
    /// lower level's timers share more leading digits with `elapsed` and
    /// fall in an earlier block, and within a level the slots are scanned
    /// in tick order from `elapsed`'s.
    pub(super) fn next_deadline(&self, tok: &Token<'_>) -> Option<u64> {
        let current = self.current.min_due(tok);
        let wheel = self
            .next_expiration(tok)
            .map(|(level, slot, _)| self.levels[level].earliest[slot].get(tok));
        match (current, wheel) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves `deferred` into the sweep list, for the caller to pop.
    pub(super) fn start_sweep(&self, tok: &Token<'_>) {
        self.deferred.move_to(tok, &self.sweep);
    }

    pub(super) fn pop_sweep(&self, tok: &Token<'_>) -> Option<Owned> {
        self.sweep.pop(tok)
    }

    /// Removes every timer from every list, handing each to `f` (the
    /// shutdown drain).
    pub(super) fn drain(&self, tok: &Token<'_>, mut f: impl FnMut(Owned)) {
        for list in [&self.current, &self.firing, &self.never, &self.zombies] {
            while let Some(node) = list.pop(tok) {
                f(node);
            }
        }
        for l in &self.levels {
            if l.occupied.get(tok) == 0 {
                continue;
            }
            for (slot, list) in l.slots.iter().enumerate() {
                while let Some(node) = list.pop(tok) {
                    f(node);
                }
                l.earliest[slot].set(tok, NEVER);
            }
            l.occupied.set(tok, 0);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn levels_cover_every_tick() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(0, u64::MAX >> TICK_SHIFT), LEVELS - 1);
        assert!(LEVELS as u32 * SLOT_BITS + TICK_SHIFT >= 64);
    }
}
