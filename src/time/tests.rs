//! Unit tests of the clock, deadlines and the packed nanoseconds.

use super::{now, Deadline, Nanos};
use core::time::Duration;

#[test]
fn nanos_round_trips_and_saturates() {
    for d in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_millis(1500),
        Duration::from_nanos(u64::MAX - 2),
    ] {
        assert_eq!(Nanos::from_duration(d).to_duration(), d);
    }
    assert_eq!(Nanos::from_duration(Duration::MAX), Nanos::FOREVER);
    assert_eq!(
        Nanos::from_duration(Duration::from_nanos(u64::MAX - 1)),
        Nanos::FOREVER
    );
    assert_eq!(Nanos::FOREVER.to_duration(), Duration::MAX);
    assert_eq!(Nanos::FOREVER.deadline(), None);
    assert_eq!(core::mem::size_of::<Option<Nanos>>(), 8);
}

#[test]
fn deadline_max_means_never() {
    assert_eq!(Deadline::after(Duration::MAX), None);
    // `now + u64::MAX s` overflows unless the clock reads under a second
    // (the std fallback's clock starts at zero): either way it is
    // "never" or a deadline that has not passed, never an overflow.
    let huge = Deadline::after(Duration::from_secs(u64::MAX));
    assert!(huge.map_or(true, |d| !d.has_passed()), "{huge:?}");
    let d = Deadline::after(Duration::from_secs(3600)).expect("an hour fits");
    assert!(!d.has_passed());
    assert!(d.remaining() > Duration::from_secs(3599));
}

#[test]
fn zero_deadline_has_passed_at_once() {
    let d = Deadline::after(Duration::ZERO).expect("zero fits");
    assert!(d.has_passed());
    assert_eq!(d.remaining(), Duration::ZERO);
}

#[test]
fn clock_is_monotonic() {
    let mut last = now();
    for _ in 0..10_000 {
        let t = now();
        assert!(t >= last);
        last = t;
    }
}

#[test]
fn nanos_saturates_at_never() {
    use super::{nanos, NEVER};
    assert_eq!(nanos(Duration::from_nanos(5)), 5);
    assert_eq!(nanos(Duration::from_nanos(u64::MAX - 1)), NEVER - 1);
    assert_eq!(nanos(Duration::from_nanos(u64::MAX)), NEVER);
    assert_eq!(nanos(Duration::MAX), NEVER);
}
