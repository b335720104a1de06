#![doc = include_str!("../README.md")]
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
#[cfg(feature = "alloc")]
pub use timer::TimerControl;
#[cfg(feature = "std")]
pub use timer::TimerHandle;
pub use timer::{Timer, TimerState};
#[cfg(all(feature = "alloc", loom))]
#[doc(hidden)]
pub use timer_queue::{loom_clock, loom_stall};
#[cfg(feature = "alloc")]
pub use timer_queue::{ScheduledTimer, TimerQueue};
