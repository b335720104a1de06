//! [`Phaser`]: a split-phase barrier with dynamic parties (C++20
//! `std::barrier`, Java's `Phaser`) and [`Barrier`](crate::Barrier)'s
//! failure semantics (abort, broken, `TimedOut` vs `Broken`, a panicking
//! action), lock-free in one atomic word.
//!
//! The public docs (a comparison with its anchors, a fuzzy-barrier loop, a
//! worker leaving early, the two kinds of timeout) are on [`Phaser`].
//!
//! # State word and memory ordering
//!
//! One `AtomicU64` holds the phase number, the parties, the arrivals and
//! the flags (`layout.rs`); every transition is one CAS made by
//! `StateWord::transition`, decided from the value that CAS saw, and
//! checked against `layout::invalid` in debug and loom builds. Waiters spin,
//! then park on `seq`, a separate futex word, after setting `SLEEPERS`; a
//! transition that ends what sleepers wait for clears `SLEEPERS` and only
//! then wakes (`waiting/`, shared with `Barrier`).
//!
//! - Every transition is `AcqRel`, every value decided from is read with
//!   `Acquire` (`StateWord::transition`, and the waiters' loads). An
//!   arrival's Release publishes the party's earlier writes; the completing
//!   arrival's Acquire (through the release sequence of RMWs on the word)
//!   sees them all before the action runs; the advance's Release publishes
//!   them and the action's effects to every waiter whose Acquire load sees
//!   the new phase.
//! - A break freezes the phase number: a waiter that looks while the phase
//!   is broken sees `BROKEN` on its own phase. [`reset`](Phaser::reset)
//!   consumes the broken phase's number, and first records it in a second
//!   word, `resets` (Release store, before the CAS that moves the phase on),
//!   so that a waiter that looks only later still learns its phase broke
//!   (SAFETY.md, "Phaser: a late waiter learns what ended its phase").
//!   A token carries the reset count read inside its arrival's transition;
//!   waits are counted by that count's parity (`readers.rs`), and a reset
//!   waits for the waits whose record it would overwrite before storing.
//!
//! Files: `control.rs` holds the types, construction, snapshots,
//! `register`, `abort`, `reset` and what a token's phase ended as
//! (`outcome`); `arrive.rs` the arrivals and the waits; `layout.rs` the
//! state word's fields; `readers.rs` the waits counted per reset class.
//! Import graph: `arrive -> control, layout, readers`;
//! `control -> layout, readers`.

mod arrive;
mod control;
mod layout;
mod readers;
#[cfg(all(test, not(loom)))]
mod tests;

pub use control::{ArrivalToken, Phaser};
