//! Lock-free, `no_std` synchronisation primitives that park threads on a
//! futex: a [`Barrier`], a [`Phaser`], a one-shot [`Timer`] and a
//! [`TimerQueue`] for many timers. Their state is packed into a few atomic
//! words (a barrier's state is one word) that change by one atomic
//! operation per transition: no lock and no allocation on any wait path;
//! waiters spin briefly, then sleep, and a wake-up is made only if one
//! sleeps.
//!
//! # Which one do I want?
//!
//! | You need | Use | Like | Blocking, `no_std` |
//! |---|---|---|---|
//! | N threads to meet, round after round (an action, timeouts, abort, reset) | [`Barrier`] | `std::sync::Barrier`, Python's `threading.Barrier` | `wait` blocks; `core` only |
//! | a barrier whose parties come and go, or arrive now and wait later | [`Phaser`] | Java's `Phaser`, C++20 `std::barrier` | `arrive` never blocks, `wait` does; `core`, 64-bit atomics |
//! | one function after a delay, with a cancel that says whether it won | [`Timer`] | Python's `threading.Timer` | `start` spawns a thread (`std`); `run` blocks a thread you give it (`core`) |
//! | thousands to millions of timers (timeouts, retries, leases) | [`TimerQueue`] | `tokio::time`, a timer wheel | `schedule`, `cancel` never block; one driver: `run` or `fire_due`; `alloc` |
//!
//! # Examples
//!
//! ```
//! use rallypoint::{Barrier, Phaser, Timer, TimerQueue};
//! use std::{thread, time::Duration};
//!
//! let barrier = Barrier::new(2); // two threads meet, round after round
//! thread::scope(|s| {
//!     s.spawn(|| barrier.wait().unwrap());
//!     assert!(barrier.wait().unwrap().index() < 2);
//! });
//!
//! let phaser = Phaser::new(2); // arrive now, wait later
//! thread::scope(|s| {
//!     s.spawn(|| phaser.arrive_and_wait().unwrap());
//!     let token = phaser.arrive().unwrap(); // never blocks
//!     phaser.wait(token).unwrap(); // until the other party arrived too
//! });
//!
//! let timer = Timer::new(Duration::from_secs(60), || println!("late")).start();
//! assert!(timer.cancel()); // true: the function will never run
//!
//! let queue = TimerQueue::new(); // or TimerQueue::global(), self-driven
//! let soon = queue.schedule(Duration::from_millis(1), || {});
//! while let Some(next) = queue.fire_due() { // an event loop; or run()
//!     thread::sleep(next);
//! }
//! assert!(soon.is_finished());
//! ```
//!
//! # Features
//!
//! - `std` (default): [`Timer::start`], [`TimerHandle`], [`TimerQueue::global`],
//!   [`ScheduledTimer::join`]; spinning waiters yield to the OS. Implies `alloc`.
//! - `alloc`: [`TimerQueue`], [`ScheduledTimer`], [`Timer::start_with`] (your
//!   runtime's spawner), [`TimerControl`].
//! - neither: [`Barrier`], [`Phaser`] and [`Timer::run`] need only `core`.
//!
//! # Platforms
//!
//! - Native waits: Linux, Android, Windows, macOS, iOS, FreeBSD, OpenBSD,
//!   NetBSD, DragonFly, Fuchsia, wasm threads, Emscripten.
//! - Any other OS with `std`: a table of `std` mutexes and condition variables.
//! - No OS: waits spin; timed waits read the clock you give [`set_clock`].
//!
//! README.md, "Platform support", names each backend, its clock and its CI check.
//!
//! # More
//!
//! Three files ship with the crate (docs.rs shows them under "Source"):
//! [README.md](https://docs.rs/crate/rallypoint/latest/source/README.md),
//! the race against each primitive's peers and the design notes;
//! [SAFETY.md](https://docs.rs/crate/rallypoint/latest/source/SAFETY.md),
//! the argument for every `unsafe` site, state word, ordering and OS call;
//! [VERIFYING.md](https://docs.rs/crate/rallypoint/latest/source/VERIFYING.md),
//! how each claim is checked (loom, Miri, sanitizers, mutants) and how to
//! run the checks.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Items that only loom builds leave out need no "non-loom" badge.
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]
// The wasm wait layer (`futex/wasm.rs`): `target_feature = "atomics"` is
// visible to `cfg` only on nightly, where these intrinsics are still unstable.
#![cfg_attr(
    all(
        target_arch = "wasm32",
        target_feature = "atomics",
        not(target_os = "emscripten")
    ),
    feature(stdarch_wasm_atomic_wait)
)]

// README.md's examples are doctests too (`cargo test`), so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod action;
mod barrier;
mod error;
mod futex;
#[cfg(target_has_atomic = "64")]
mod phaser;
mod precision;
mod sync;
#[allow(unsafe_code)] // the timer's function cell (SAFETY.md, "Timer: the function cell")
mod take_cell;
mod time;
mod timer;
mod timer_phase;
#[cfg(feature = "alloc")]
mod timer_queue;
mod unwind;
mod waiting;

pub use action::{BarrierAction, BarrierWaitResult, NoAction};
pub use barrier::Barrier;
pub use error::BarrierError;
#[cfg(target_has_atomic = "64")]
pub use phaser::{ArrivalToken, Phaser};
pub use precision::Precision;
pub use time::set_clock;
pub use timer::Timer;
#[cfg(feature = "alloc")]
pub use timer::TimerControl;
#[cfg(feature = "std")]
pub use timer::TimerHandle;
pub use timer_phase::TimerState;
#[cfg(feature = "alloc")]
pub use timer_queue::{ScheduledTimer, TimerQueue};
#[cfg(all(feature = "alloc", loom))]
#[doc(hidden)]
pub use {time::loom_clock, timer_queue::loom_stall};
