//! [`TakeCell`]: a value that one thread moves out once (the timer's
//! function). The crate's one `unsafe` cell outside the wait layer and the
//! TimerQueue (SAFETY.md, "Timer: the function cell").

use core::mem::ManuallyDrop;

#[cfg(loom)]
use loom::cell::UnsafeCell;

/// `core`'s `UnsafeCell` with loom's `with_mut` interface.
#[cfg(not(loom))]
#[derive(Debug)]
struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A value that one thread moves out once: the timer's function.
///
/// One of the crate's few `unsafe` sites (SAFETY.md §1). Whoever calls `take` or
/// `drop_untaken` must have exclusive, once-only rights to the value; the
/// timer's state machine grants them to the thread whose CAS won
/// `Waiting -> Running` (SAFETY.md, "Timer: the function cell"). Under loom
/// the cell is loom's `UnsafeCell`, which fails the model on any concurrent
/// access.
pub(crate) struct TakeCell<T> {
    value: UnsafeCell<ManuallyDrop<T>>,
}

// A `&TakeCell<T>` gives no access to the `T` except through the `unsafe`
// methods below, whose callers guarantee that exactly one thread ever
// touches it, once; that thread may not be the one that built it.
// SAFETY: one-time access by one thread, hence only `T: Send` is needed (SAFETY.md, "Timer: the function cell").
unsafe impl<T: Send> Sync for TakeCell<T> {}

impl<T> TakeCell<T> {
    crate::sync::loom_const_fn! {
        pub(crate) fn new(value: T) -> Self {
            Self {
                value: UnsafeCell::new(ManuallyDrop::new(value)),
            }
        }
    }

    /// Moves the value out.
    ///
    /// # Safety
    ///
    /// Over the cell's whole life, at most one call of `take` or
    /// `drop_untaken` happens, and no other access runs concurrently.
    pub(crate) unsafe fn take(&self) -> T {
        self.value.with_mut(|value| {
            // The caller guarantees exclusive, once-only access, so the value
            // is initialised and nobody reads it after this.
            // SAFETY: exclusive, once-only read (SAFETY.md, "Timer: the function cell").
            ManuallyDrop::into_inner(unsafe { value.read() })
        })
    }

    /// Drops the value in place.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    pub(crate) unsafe fn drop_untaken(&mut self) {
        self.value.with_mut(|value| {
            // As in `take`; `&mut self` excludes other access, and
            // `ManuallyDrop<T>` has `T`'s layout (`repr(transparent)`).
            // SAFETY: exclusive, once-only drop (SAFETY.md, "Timer: the function cell").
            unsafe { core::ptr::drop_in_place(value.cast::<T>()) }
        });
    }
}

impl<T> core::fmt::Debug for TakeCell<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TakeCell(..)")
    }
}
