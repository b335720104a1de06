//! Durations and instants as `u64` nanoseconds: [`nanos`], [`NEVER`], and
//! [`Nanos`], the packed form the primitives store.

use super::deadline::Deadline;
use core::num::NonZeroU64;
use core::time::Duration;

/// "Never" as `u64` nanoseconds: the value [`nanos`] saturates to. As an
/// instant (nanoseconds since the clock's origin), a due time that never
/// comes: ~584 years after the origin.
pub(crate) const NEVER: u64 = u64::MAX;

/// `d` in whole nanoseconds, saturating at [`NEVER`].
#[inline]
pub(crate) const fn nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n >= NEVER as u128 {
        NEVER
    } else {
        n as u64
    }
}

/// A `Duration` packed into eight bytes, `Option`-friendly.
///
/// Stores `nanoseconds + 1` in a `NonZeroU64`, so `Option<Nanos>` is also
/// eight bytes. Durations of `u64::MAX - 1` ns (about 584 years) or more
/// saturate to [`Nanos::FOREVER`], which reads back as `Duration::MAX` and
/// means "never": no timeout that long can elapse, so nothing observable is
/// lost. Keeps `Barrier` within 24 bytes and `Timer`'s state within 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nanos(NonZeroU64);

impl Nanos {
    /// "Never": `Duration::MAX` and everything at or above ~584 years.
    pub(crate) const FOREVER: Self = Self(NonZeroU64::MAX);

    /// Packs `duration`, saturating to [`Nanos::FOREVER`].
    pub(crate) const fn from_duration(duration: Duration) -> Self {
        // [`NEVER`] and `NEVER - 1` have no `+ 1` below `u64::MAX`.
        let nanos = nanos(duration);
        if nanos >= NEVER - 1 {
            return Self::FOREVER;
        }
        match NonZeroU64::new(nanos + 1) {
            Some(n) => Self(n),
            None => Self::FOREVER, // unreachable: nanos + 1 >= 1
        }
    }

    /// Unpacks; [`Nanos::FOREVER`] reads back as `Duration::MAX`.
    pub(crate) const fn to_duration(self) -> Duration {
        if self.0.get() == u64::MAX {
            Duration::MAX
        } else {
            Duration::from_nanos(self.0.get() - 1)
        }
    }

    /// The deadline this far from now (`None` for "never").
    #[inline]
    pub(crate) fn deadline(self) -> Option<Deadline> {
        Deadline::after(self.to_duration())
    }
}
