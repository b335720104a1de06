#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod barrier;
mod error;
mod futex;
#[cfg(target_has_atomic = "64")]
mod phaser;
mod sync;
mod timer;
mod waiting;

pub use barrier::{Barrier, BarrierAction, BarrierWaitResult, NoAction};
pub use error::BarrierError;
#[cfg(all(
    not(loom),
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        windows,
        target_vendor = "apple"
    ))
))]
pub use futex::set_clock;
#[cfg(target_has_atomic = "64")]
pub use phaser::{ArrivalToken, Phaser};
#[cfg(feature = "alloc")]
pub use timer::TimerControl;
#[cfg(feature = "std")]
pub use timer::TimerHandle;
pub use timer::{Timer, TimerState};
