//! [`on_unwind`]: run a clean-up if a call unwinds (the actions' and
//! timers' "break or finish on panic" paths), the same way with and
//! without loom.

/// Runs `f`; if it unwinds, runs `cleanup` and lets the panic continue.
///
/// Outside loom a drop guard does it, so it works without `std` (and with
/// `panic = "abort"` there is nothing to clean up). Under loom, a wake
/// issued from a destructor during unwinding takes the futex model's lock
/// (loom's `Mutex`), which fails inside loom with "panic in a destructor
/// during cleanup"; so there `cleanup` runs after `catch_unwind`, before
/// `resume_unwind`. Either way `cleanup` sees
/// the same state and makes the same transition.
#[inline]
pub(crate) fn on_unwind<R>(f: impl FnOnce() -> R, cleanup: impl FnOnce()) -> R {
    #[cfg(not(loom))]
    {
        struct Guard<C: FnOnce()>(Option<C>);
        impl<C: FnOnce()> Drop for Guard<C> {
            fn drop(&mut self) {
                if let Some(cleanup) = self.0.take() {
                    cleanup();
                }
            }
        }
        let mut guard = Guard(Some(cleanup));
        let result = f();
        guard.0 = None;
        result
    }
    #[cfg(loom)]
    {
        extern crate std;
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(payload) => {
                cleanup();
                std::panic::resume_unwind(payload)
            }
        }
    }
}
