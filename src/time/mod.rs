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
//!   the same unit: the `TimerQueue`'s due times (`instant.rs`: [`now_ns`],
//!   [`due_after`], and under loom the model clock the queue reads).
//!
//! Under loom there is no time: the clock stays at zero and every finite
//! deadline counts as passed ([`Deadline::has_passed`]), so the models
//! explore each timeout racing every other step.
//!
//! Import graph: `nanos -> deadline -> clock -> clock/*`,
//! `timeout -> deadline`, `instant -> nanos, clock`; this file only
//! declares and re-exports.

mod clock;
mod deadline;
#[cfg(feature = "alloc")]
mod instant;
mod nanos;
#[cfg(all(test, not(loom)))]
mod tests;
mod timeout;

// The clock itself is read through `Deadline`, and directly by the
// TimerQueue's instants (`alloc`) and the fallback backend's tests.
#[cfg_attr(
    not(any(all(feature = "alloc", not(loom)), all(test, not(loom)))),
    allow(unused_imports)
)]
pub(crate) use clock::now;
#[cfg(any(all(test, not(loom)), rallypoint_backend = "spin"))]
pub(crate) use clock::registered_now;
pub use clock::set_clock;
pub(crate) use deadline::Deadline;
#[cfg(all(feature = "alloc", loom))]
pub use instant::loom_clock;
#[cfg(feature = "alloc")]
pub(crate) use instant::{due_after, now_ns};
// `nanos` and `NEVER` serve the TimerQueue (`alloc`).
#[cfg_attr(not(feature = "alloc"), allow(unused_imports))]
pub(crate) use nanos::{nanos, Nanos, NEVER};
pub(crate) use timeout::Timeout;
