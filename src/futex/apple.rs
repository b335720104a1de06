//! macOS, iOS, tvOS, watchOS, visionOS: `os_sync_wait_on_address` (macOS
//! 14.4+ / iOS 17.4+), falling back to `__ulock_wait2` / `__ulock_wake`.
//!
//! Why not libc++'s `std::atomic::wait` (what the `atomic-wait` crate uses):
//! it waits on a 256-entry global table keyed by address hash, never on the
//! word itself, so a timed wait of ours on the word could never be woken by
//! it. One word, one backend: every wait and wake here goes through the
//! backend chosen below.
//!
//! The `os_sync` functions are looked up once with `dlsym` (linking them
//! directly would stop the binary from loading on older systems) and the
//! choice is cached; if they are missing we use `__ulock_wait2` (macOS 11+),
//! the private call libc++ and Zig use. Both take a **relative** timeout and
//! give 0 a special meaning (`EINVAL` for os_sync, "forever" for ulock), so a
//! timed wait whose deadline has passed returns without calling them, and a
//! positive remainder below 1 ns is never passed as 0.

use super::unix::errno;
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicPtr, AtomicU8};

type WaitFn = unsafe extern "C" fn(*mut c_void, u64, usize, u32) -> c_int;
type WaitTimeoutFn = unsafe extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> c_int;
type WakeFn = unsafe extern "C" fn(*mut c_void, usize, u32) -> c_int;

/// The functions of the `os_sync` backend.
#[derive(Clone, Copy)]
struct OsSync {
    wait: WaitFn,
    wait_timeout: WaitTimeoutFn,
    wake_all: WakeFn,
}

/// `__ulock_wait2(operation, addr, value, timeout_ns, value2)`, macOS 11+.
type Ulock2Fn = unsafe extern "C" fn(u32, *mut c_void, u64, u64, u64) -> c_int;

extern "C" {
    // Present since macOS 10.12, Rust's oldest supported macOS.
    fn __ulock_wake(operation: u32, addr: *mut c_void, wake_value: u64) -> c_int;
}

const UL_COMPARE_AND_WAIT: u32 = 1;
const ULF_WAKE_ALL: u32 = 0x0000_0100;
const ULF_NO_ERRNO: u32 = 0x0100_0000;
/// `RTLD_DEFAULT` from `<dlfcn.h>` on Apple platforms.
const RTLD_DEFAULT: *mut c_void = -2isize as *mut c_void;

const UNRESOLVED: u8 = 0;
const OS_SYNC: u8 = 1;
const ULOCK: u8 = 2;

/// Which backend this process uses, chosen once. Release when storing the
/// choice pairs with Acquire when loading it, so the pointers stored before
/// it are visible to every reader of `OS_SYNC`/`ULOCK`.
static BACKEND: AtomicU8 = AtomicU8::new(UNRESOLVED);
static WAIT: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
static WAIT_TIMEOUT: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
static WAKE_ALL: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
static ULOCK_WAIT2: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

fn lookup(name: &[u8]) -> *mut c_void {
    debug_assert_eq!(name.last(), Some(&0));
    // `name` is NUL-terminated and RTLD_DEFAULT searches every loaded
    // image.
    // SAFETY: see SAFETY.md, "Wait layer: Apple backend selection".
    unsafe { libc::dlsym(RTLD_DEFAULT, name.as_ptr() as *const c_char) }
}

/// Picks the backend once; later calls read the cached choice.
#[cold]
fn resolve() -> u8 {
    let wait = lookup(b"os_sync_wait_on_address\0");
    let wait_timeout = lookup(b"os_sync_wait_on_address_with_timeout\0");
    let wake_all = lookup(b"os_sync_wake_by_address_all\0");
    let choice = if !(wait.is_null() || wait_timeout.is_null() || wake_all.is_null()) {
        WAIT.store(wait, Ordering::Relaxed);
        WAIT_TIMEOUT.store(wait_timeout, Ordering::Relaxed);
        WAKE_ALL.store(wake_all, Ordering::Relaxed);
        OS_SYNC
    } else {
        let ulock = lookup(b"__ulock_wait2\0");
        assert!(
            !ulock.is_null(),
            "rallypoint needs macOS 11 / iOS 14 or later (neither os_sync_wait_on_address nor __ulock_wait2 exists)"
        );
        ULOCK_WAIT2.store(ulock, Ordering::Relaxed);
        ULOCK
    };
    // Pairs with the Acquire load in `backend`.
    BACKEND.store(choice, Ordering::Release);
    choice
}

#[inline]
fn backend() -> u8 {
    // Pairs with the Release store in `resolve`.
    match BACKEND.load(Ordering::Acquire) {
        UNRESOLVED => resolve(),
        b => b,
    }
}

/// The `os_sync` functions (only called once `backend() == OS_SYNC`).
fn os_sync() -> OsSync {
    let (wait, wait_timeout, wake_all) = (
        WAIT.load(Ordering::Relaxed),
        WAIT_TIMEOUT.load(Ordering::Relaxed),
        WAKE_ALL.load(Ordering::Relaxed),
    );
    OsSync {
        // A non-null result of dlsym for this exact symbol, whose C
        // signature `WaitFn` matches.
        // SAFETY: see SAFETY.md, "Wait layer: Apple backend selection".
        wait: unsafe { core::mem::transmute::<*mut c_void, WaitFn>(wait) },
        // SAFETY: as above, for `WaitTimeoutFn`.
        wait_timeout: unsafe { core::mem::transmute::<*mut c_void, WaitTimeoutFn>(wait_timeout) },
        // SAFETY: as above, for `WakeFn`.
        wake_all: unsafe { core::mem::transmute::<*mut c_void, WakeFn>(wake_all) },
    }
}

fn ulock_wait2() -> Ulock2Fn {
    let p = ULOCK_WAIT2.load(Ordering::Relaxed);
    // A non-null result of dlsym for `__ulock_wait2`, whose signature
    // `Ulock2Fn` matches xnu's `bsd/sys/ulock.h`.
    // SAFETY: see SAFETY.md, "Wait layer: Apple backend selection".
    unsafe { core::mem::transmute::<*mut c_void, Ulock2Fn>(p) }
}

/// Nanoseconds left, at least 1 (0 means "forever" or `EINVAL`), or `None`
/// if the deadline has passed.
fn remaining_nanos(deadline: Deadline) -> Option<u64> {
    let left = deadline.remaining();
    if left.is_zero() {
        return None;
    }
    Some(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX).max(1))
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    let addr = word.as_ptr() as *mut c_void;
    let backend = backend();
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        let timeout = match deadline {
            None => None,
            Some(d) => match remaining_nanos(d) {
                None => return false,
                some => some,
            },
        };
        let (r, e) = if backend == OS_SYNC {
            let f = os_sync();
            let r = match timeout {
                // `addr` is a live, aligned 4-byte atomic for the
                // whole call.
                // SAFETY: see SAFETY.md, "Wait layer: Apple os_sync".
                None => unsafe { (f.wait)(addr, expected.into(), 4, 0) },
                // As above; `ns >= 1` and the clock is one
                // os_sync accepts.
                // SAFETY: see SAFETY.md, "Wait layer: Apple os_sync".
                Some(ns) => unsafe {
                    (f.wait_timeout)(
                        addr,
                        expected.into(),
                        4,
                        0,
                        libc::OS_CLOCK_MACH_ABSOLUTE_TIME,
                        ns,
                    )
                },
            };
            (r, if r < 0 { errno() } else { 0 })
        } else {
            let wait2 = ulock_wait2();
            // 0 means "no timeout" to ulock; remaining_nanos never yields 0.
            let ns = timeout.unwrap_or(0);
            // `addr` is a live, aligned 4-byte atomic for the whole
            // call; with ULF_NO_ERRNO errors come back as `-errno`.
            // SAFETY: see SAFETY.md, "Wait layer: Apple ulock".
            let r = unsafe {
                wait2(
                    UL_COMPARE_AND_WAIT | ULF_NO_ERRNO,
                    addr,
                    expected.into(),
                    ns,
                    0,
                )
            };
            (r, if r < 0 { -r } else { 0 })
        };
        if r >= 0 {
            return true;
        }
        match e {
            // Timed out by the kernel; the loop re-checks our own clock.
            libc::ETIMEDOUT => continue,
            // "Interrupted / spurious wake-up", possibly transient faults: retry.
            libc::EINTR | libc::EFAULT | libc::ENOMEM => continue,
            e => {
                debug_assert!(false, "unexpected Apple wait error {e}");
                return true;
            }
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    let addr = word.as_ptr() as *mut c_void;
    if backend() == OS_SYNC {
        let wake_all = os_sync().wake_all;
        // `addr` is a live, aligned 4-byte atomic; ENOENT (no waiter)
        // is harmless.
        // SAFETY: see SAFETY.md, "Wait layer: Apple os_sync".
        unsafe { wake_all(addr, 4, 0) };
    } else {
        let op = UL_COMPARE_AND_WAIT | ULF_NO_ERRNO | ULF_WAKE_ALL;
        // `addr` is a live, aligned 4-byte atomic; -ENOENT (no waiter)
        // is harmless.
        // SAFETY: see SAFETY.md, "Wait layer: Apple ulock".
        unsafe { __ulock_wake(op, addr, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The selection really runs (under Miri too: its `dlsym` resolves the
    /// `os_sync` names and returns null for `__ulock_wait2`, which it does
    /// not implement): `os_sync` wherever all three functions exist, chosen
    /// once and then cached.
    #[test]
    fn backend_is_os_sync_where_it_exists_and_chosen_once() {
        let has_os_sync = [
            &b"os_sync_wait_on_address\0"[..],
            b"os_sync_wait_on_address_with_timeout\0",
            b"os_sync_wake_by_address_all\0",
        ]
        .iter()
        .all(|name| !lookup(name).is_null());
        let first = backend();
        assert_eq!(first, if has_os_sync { OS_SYNC } else { ULOCK });
        assert_eq!(BACKEND.load(Ordering::Acquire), first, "cached");
        assert_eq!(backend(), first);
    }
}
