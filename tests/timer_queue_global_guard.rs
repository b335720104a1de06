//! `TimerQueue::global()` cannot be shut down (issue 19). A test binary of
//! its own: while the guard is missing, this test shuts the process-wide
//! queue down, and no other test may share a process with that.
#![cfg(all(not(loom), feature = "std"))] // Loom runs loom-tests/ only; the global queue needs `std`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use rallypoint::TimerQueue;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

/// How long a timer due at once may take to fire before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// `TimerQueue::global().shutdown()` panics with a message saying the
/// global queue cannot be shut down, and the global queue keeps working: a
/// timer scheduled afterwards fires. Today the call shuts the process-wide
/// queue down, and every later timer on it is born cancelled.
#[test]
#[cfg_attr(
    miri,
    ignore = "the global driver thread outlives main, which Miri reports as a leak"
)]
fn the_global_queue_cannot_be_shut_down() {
    let global = TimerQueue::global();
    assert!(global
        .schedule(Duration::ZERO, || {})
        .wait_timeout(PATIENCE));
    let payload = panic::catch_unwind(AssertUnwindSafe(|| global.shutdown()))
        .expect_err("TimerQueue::global().shutdown() returned instead of panicking");
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("");
    assert!(
        text.contains("TimerQueue::global() cannot be shut down"),
        "panicked with {text:?}"
    );
    assert!(!global.is_shut_down());
    let later = global.schedule(Duration::ZERO, || {});
    assert!(
        later.wait_timeout(PATIENCE),
        "the global queue stopped working: a timer due at once is {:?}",
        later.state()
    );
}
