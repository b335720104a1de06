//! [`Timeout`]: a waiter's timeout, turned into a [`Deadline`] only when
//! first needed.

use super::deadline::Deadline;
use core::cell::Cell;
use core::time::Duration;

/// A waiter's timeout, turned into a deadline only when first needed.
///
/// Most timed waits end while still spinning (a two-thread round takes
/// ~60-100 ns); reading the clock up front would cost each of them a clock
/// read, about as much again as the round. So the deadline is computed the
/// first time the waiter looks at it: once spinning is over (at the latest
/// before its first yield, in `waiting::StateWord::pause`), or when it
/// parks. The wait then ends at least `timeout` after the call (never
/// early), late by at most the spin phase (16 `spin_loop` hints, none when
/// too many parties are missing: `waiting::Backoff`).
pub(crate) struct Timeout(Cell<Limit>);

#[derive(Clone, Copy)]
enum Limit {
    Forever,
    After(Duration),
    At(Deadline),
}

impl Timeout {
    /// `None`: wait forever.
    #[inline]
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Self(Cell::new(timeout.map_or(Limit::Forever, Limit::After)))
    }

    /// The deadline (`None`: never), computed on first use.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        match self.0.get() {
            Limit::Forever => None,
            Limit::At(d) => Some(d),
            Limit::After(t) => {
                let d = Deadline::after(t);
                self.0.set(d.map_or(Limit::Forever, Limit::At));
                d
            }
        }
    }

    /// Whether the deadline has passed; not looked at while `spinning`
    /// (the waiter's `Backoff::is_spinning`).
    #[inline]
    pub(crate) fn has_passed(&self, spinning: bool) -> bool {
        match self.0.get() {
            Limit::Forever => false,
            _ if spinning => false,
            _ => self.has_expired(),
        }
    }

    /// Whether the deadline has passed, whatever the spin phase.
    pub(crate) fn has_expired(&self) -> bool {
        self.deadline().is_some_and(Deadline::has_passed)
    }
}
