//! The loom shim: every atomic the algorithms use, and `loom_const_fn!`.
//!
//! Algorithm code imports its atomics only from here, so that
//! `RUSTFLAGS="--cfg loom"` swaps in loom's model-checked types without
//! touching a line of it. Keyed on `cfg(loom)` alone (not `all(test, loom)`,
//! which never switches on for `loom-tests/`, where the library is built
//! without `cfg(test)`).
//!
//! Under loom, [`AtomicU32`] is a wrapper that carries the per-word mutex and
//! condition variable of the futex model (`futex/loom.rs`); it dereferences to
//! loom's own `AtomicU32`, so the algorithms call the usual methods on it.

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), feature = "alloc"))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};

#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;
#[cfg(all(loom, feature = "alloc"))]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};

/// Under loom: loom's `AtomicU32` plus the futex model's per-word lock.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct AtomicU32 {
    pub(crate) atomic: loom::sync::atomic::AtomicU32,
    /// Held while a waiter checks the value and while a waker notifies, so
    /// a check-then-sleep can never miss a wake (what the kernel's futex
    /// hash-bucket lock does for a real futex).
    pub(crate) lock: loom::sync::Mutex<()>,
    pub(crate) cond: loom::sync::Condvar,
}

#[cfg(loom)]
impl AtomicU32 {
    pub(crate) fn new(value: u32) -> Self {
        Self {
            atomic: loom::sync::atomic::AtomicU32::new(value),
            lock: loom::sync::Mutex::new(()),
            cond: loom::sync::Condvar::new(),
        }
    }
}

#[cfg(loom)]
impl core::ops::Deref for AtomicU32 {
    type Target = loom::sync::atomic::AtomicU32;
    fn deref(&self) -> &Self::Target {
        &self.atomic
    }
}

/// Declares a `const fn` that loses its `const` under loom, whose atomics
/// cannot be built in a const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])* #[cfg(not(loom))] $vis const fn $name($($arg: $ty),*) -> $ret $body
        $(#[$attr])* #[cfg(loom)] $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;
