//! The waiting layer: what every primitive's waiters share, above the wait
//! layer (`futex/`) and below the primitives.
//!
//! | File | Holds |
//! |---|---|
//! | `state_word.rs` | [`StateWord`]: a packed state word with a `SLEEPERS` bit, the invariant-checked transition that decides *whether* to wake, the spin → yield → park step, parking on `seq` |
//! | `thread.rs` | the thread waiter: *how* a thread sleeps and is woken (bump `seq`, futex wake), and [`park_flagged`], the one park-on-my-word step of the primitives whose waiters sleep on the word they wait on |
//! | `wait_count.rs` | [`WaitCount`]: a count of registered waits whose last leaver wakes the one thread blocked until it is zero |
//! | `backoff.rs` | [`Backoff`]: the spin → yield → park policy |
//! | `cpus.rs` | the CPU count `Backoff` asks once |
//!
//! # The protocol
//!
//! The state word holds whatever the primitive packs into it, plus one bit,
//! `SLEEPERS`, meaning "some thread is parked (or about to park) on `seq`".
//! Every change of the state word is one successful CAS made by
//! [`StateWord::transition`], decided from the value the CAS saw, and
//! checked against the primitive's invariant in debug and loom builds. A
//! transition that ends what sleepers wait for clears `SLEEPERS`; when it
//! does (and only then), `transition` wakes them: it bumps `seq` and wakes
//! every thread parked on it (`thread.rs`). No call site decides whether
//! to wake, and no transition makes a syscall when nobody sleeps.
//!
//! The decision (a transition that clears `SLEEPERS`) is made in one place,
//! `StateWord::transition`; how a sleeper is woken is the waiter's business
//! (`thread.rs` today). A second kind of waiter (an async task's waker)
//! sits beside `thread.rs` and is woken from the same place,
//! `StateWord::wake_sleepers`.
//!
//! A waiter spins on the state word for a while (see [`Backoff`]), then
//! parks (`StateWord::park`): it reads `seq`, sets `SLEEPERS` with a CAS
//! that also checks the state is still the one it gave up on, and waits on
//! `seq` with the value it read. SAFETY.md, "Waiting: no lost wake-up",
//! gives the argument that this never misses a wake.
//!
//! # Memory ordering
//!
//! - Every successful transition is `AcqRel`, and every value
//!   `transition` hands to its closure or returns (`Ok` or `Err`) was read
//!   with `Acquire` (the initial load and the CAS's failure ordering). So
//!   any decision a caller makes from a value it got here (return `Ok`,
//!   report `Broken`, depart) synchronises with the transition that wrote
//!   that value, and through the release sequence of RMWs on the word with
//!   every transition before it.
//! - `seq` is loaded `Acquire` before the state is re-checked in `park`; the
//!   waker bumps it with `Release` after its state CAS.
//!
//! Import graph: `state_word -> thread, backoff`; `wait_count -> thread`;
//! `backoff -> cpus`; this file only declares and re-exports.

mod backoff;
#[cfg(all(not(loom), feature = "std"))]
#[allow(unsafe_code)]
mod cpus;
mod state_word;
mod thread;
mod wait_count;

pub(crate) use backoff::Backoff;
pub(crate) use state_word::StateWord;
pub(crate) use thread::park_flagged;
pub(crate) use wait_count::WaitCount;
