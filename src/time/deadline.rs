//! [`Deadline`]: an absolute point on the crate's clock (`clock.rs`).

use super::clock::now;
use core::time::Duration;

/// An absolute point in time on [`now`]'s clock.
///
/// Computed once per wait, so a retry after `EINTR` or a spurious wake
/// never stretches a timeout. A deadline too far away to represent is
/// `None` where an `Option<Deadline>` is taken: "never", not an overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline {
    at: Duration,
}

impl Deadline {
    /// The deadline `timeout` from now, or `None` ("never") when `timeout`
    /// is `Duration::MAX` or the sum overflows.
    #[inline]
    pub(crate) fn after(timeout: Duration) -> Option<Self> {
        if timeout == Duration::MAX {
            return None;
        }
        now().checked_add(timeout).map(|at| Self { at })
    }

    /// The deadline `at` after the clock's origin.
    #[inline]
    #[allow(dead_code)] // used by the TimerQueue and the backends' tests
    pub(crate) fn at(at: Duration) -> Self {
        Self { at }
    }

    /// Whether the deadline has passed on [`now`]'s clock.
    ///
    /// Under loom time is not modelled: every finite deadline counts as
    /// passed, so the models explore each timeout racing each other step.
    #[inline]
    pub(crate) fn has_passed(self) -> bool {
        #[cfg(loom)]
        {
            let _ = self;
            true
        }
        #[cfg(not(loom))]
        {
            now() >= self.at
        }
    }

    /// The time left until the deadline, zero once it has passed.
    #[inline]
    #[allow(dead_code)] // used by the backends that take relative timeouts
    pub(crate) fn remaining(self) -> Duration {
        self.at.saturating_sub(now())
    }

    /// The deadline as time since the clock's origin.
    #[inline]
    #[allow(dead_code)] // used by the backends that take absolute deadlines
    pub(crate) fn since_origin(self) -> Duration {
        self.at
    }
}
