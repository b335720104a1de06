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
mod precision;
mod sync;
mod timer;
#[cfg(feature = "alloc")]
mod timer_queue;
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
pub use precision::Precision;
#[cfg(feature = "alloc")]
pub use timer::TimerControl;
#[cfg(feature = "std")]
pub use timer::TimerHandle;
pub use timer::{Timer, TimerState};
#[cfg(all(feature = "alloc", loom))]
#[doc(hidden)]
pub use timer_queue::loom_clock;
#[cfg(feature = "alloc")]
pub use timer_queue::{ScheduledTimer, TimerQueue};
