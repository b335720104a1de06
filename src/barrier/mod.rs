//! [`Barrier`]: Python's `threading.Barrier`, lock-free in one atomic word.
//!
//! # State word
//!
//! The whole state lives in one `AtomicU64` (`AtomicU32` on targets without
//! 64-bit atomics); every transition is one successful CAS on it, decided
//! from the value the CAS saw, never from a re-load. The fields (`count`,
//! `SLEEPERS`, `BROKEN`, `RESETTING`, `gen`) are laid out in `layout.rs`.
//!
//! A generation ends exactly once, by **release** (`gen + 1`: its parties
//! get `Ok`) or by a **break** (`BROKEN` or `RESETTING` set with `gen`
//! unchanged: its parties get `Err`). After a break, `count` is the number of
//! that generation's waiters that have not yet seen it; each "departs" by
//! decrementing it, and `gen` cannot move on until `count` is 0. Then
//! `reset` (or the last of its victims) opens a fresh generation under the
//! *same* number: nobody who could confuse the two is left, and only
//! releases ever move `gen`. So a waiter
//! that wakes late, after any number of later events, reads what ended *its*
//! generation: `gen` moved on means released; `gen` unchanged with a break
//! flag means broken. Releases, the hot path, cost no departure RMW. That
//! `gen` never comes round to a stalled waiter's generation again is
//! `lag.rs`'s job on the narrow layout, and 2^45 generations' on the wide
//! one.
//!
//! Every transition keeps the word's invariant (`count <= parties`, no
//! underflow, flags consistent with `count`): each is written to refuse
//! rather than corrupt, and debug and loom builds check the invariant on
//! every one (`Barrier::transition`).
//!
//! Waiters spin briefly on the state word, then park on `seq`, a separate
//! 32-bit futex word, after setting `SLEEPERS` (`waiting/`, shared with
//! the crate's other primitives). Each transition that ends what sleepers
//! wait for clears `SLEEPERS` and, only if it was set, bumps `seq` and calls
//! `wake_all`: no syscall when nobody sleeps.
//!
//! # Memory ordering
//!
//! - Arrival CAS: `AcqRel`. Release publishes the arriving party's earlier
//!   writes; Acquire, through the release sequence of RMWs on the word, lets
//!   the leader see every earlier arrival's writes before the action runs.
//! - Release CAS (leader): `AcqRel`; waiters' `Acquire` loads of the state
//!   that observe the new `gen` synchronise with it, so every party's
//!   pre-barrier writes and the action's effects happen-before every
//!   party's return.
//! - Break, reset, departure CAS: `AcqRel`, for the same reasons on the
//!   error path.
//! - Every value a decision is made from was read with `Acquire`: the
//!   waiters' loads, and the values `transition` hands its closures or
//!   returns as `Err` (its initial load and its CAS failure ordering). In
//!   particular a timed-out waiter that finds its generation released
//!   (`time_out` returning `Released`) has synchronised with the release.
//! - Parking: `seq` is loaded `Acquire` *before* the state is re-checked (by
//!   the CAS that sets `SLEEPERS`, or a load); the waker bumps `seq` with
//!   `Release` *after* its state CAS. If the parker read the bump it also
//!   sees the new state and does not sleep; otherwise its futex wait compares
//!   against the pre-bump value and cannot miss the wake. SAFETY.md,
//!   "Waiting: no lost wake-up", gives the full argument.
//!
//! Files: `control.rs` holds the type, its construction, snapshots,
//! `abort` and `reset` (every transition that is not a wait); `wait.rs`
//! the arrival and the wait for release; `layout.rs` the state word's
//! fields; `lag.rs` the narrow layout's stragglers. Import graph:
//! `wait -> control, lag, layout`; `control -> lag, layout`.

mod control;
mod lag;
mod layout;
#[cfg(all(test, not(loom)))]
mod tests;
mod wait;

pub use control::Barrier;
