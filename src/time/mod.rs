//! Time, in one place: the crate's monotonic clock, the deadlines measured
//! on it, "never", and the conversions the primitives store.
//!
//! - [`now`] (`clock.rs`): time since an arbitrary origin on the one clock
//!   every timed wait uses, chosen once per target (the OS's monotonic
//!   clock, or the one an application registers with [`set_clock`]). The
//!   wait layer (`futex/`) measures nothing itself: its backends take a
//!   [`Deadline`] on this clock and re-check it before reporting a timeout.
//! - [`Deadline`] (`deadline.rs`): an absolute point on that clock,
//!   computed once per wait, so that a retry never stretches a timeout;
//!   `None` where an `Option<Deadline>` is taken means "never".
//! - [`Timeout`] (`timeout.rs`): a waiter's timeout, turned into a deadline
//!   only when first needed (most waits end before).
//! - Nanoseconds as a `u64` (`nanos.rs`): [`nanos`] converts a `Duration`,
//!   saturating at [`NEVER`] (`u64::MAX`); [`Nanos`] packs one into a
//!   `NonZeroU64` for the primitives that store a duration (`Barrier`'s
//!   default timeout, `Timer`'s interval). An instant kept as `u64`
//!   nanoseconds since the clock's origin, with `NEVER` for "not due", is
//!   the same unit.
//!
//! Under loom there is no time: the clock stays at zero and every finite
//! deadline counts as passed ([`Deadline::has_passed`]), so the models
//! explore each timeout racing every other step.
//!
//! Import graph: `nanos -> deadline -> clock -> clock/*`,
//! `timeout -> deadline`; this file only declares and re-exports.

mod clock;
mod deadline;
mod nanos;
#[cfg(all(test, not(loom)))]
mod tests;
mod timeout;

pub(crate) use clock::now;
#[cfg(any(test, rallypoint_backend = "spin"))]
pub(crate) use clock::registered_now;
pub use clock::set_clock;
pub(crate) use deadline::Deadline;
#[allow(unused_imports)] // the unit of the TimerQueue's instants (`NEVER`)
pub(crate) use nanos::{nanos, Nanos, NEVER};
pub(crate) use timeout::Timeout;
