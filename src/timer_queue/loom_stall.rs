//! Under loom, a model can make one thread's driver wakes stall for good
//! right after the `seq` bump (a preempted waker that never runs again):
//! the queue must still wake the driver through any other waker. Not part
//! of the API.

loom::thread_local! {
    static STALLED: core::cell::Cell<bool> = core::cell::Cell::new(false);
}

/// Makes the calling model thread's later driver wakes stall.
pub fn stall_my_wakes() {
    STALLED.with(|c| c.set(true));
}

/// Whether the calling model thread's driver wakes stall.
pub(crate) fn stalled() -> bool {
    STALLED.with(core::cell::Cell::get)
}
