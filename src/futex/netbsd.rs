//! NetBSD (9 and later): the Linux-compatible `__futex` system call
//! (`SYS___futex`, number 166), for the Linux-ABI wait loop and
//! wake (`linux_abi.rs`: `FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG` and an
//! *absolute* `CLOCK_MONOTONIC` deadline, as on Linux).
//!
//! NetBSD's `__futex` takes one argument more than Linux's (`val2`, between
//! `uaddr2` and `val3`), which `libc` does not wrap: we call `syscall(2)`
//! with the number, as Rust std did while it used this call and as
//! Boost.Atomic's `detail/futex.hpp` does. The number is not in `libc`'s
//! NetBSD module, so it is spelled here (`sys/syscall.h`: `SYS___futex
//! 166`).

use crate::sync::AtomicU32;
use core::ptr;

/// `SYS___futex` in NetBSD's `sys/syscall.h` (NetBSD 9.0 onwards).
const SYS___FUTEX: libc::c_int = 166;

/// `__futex(word, op, val, timeout, NULL, 0, !0)`: the Linux-ABI call.
pub(super) fn futex(
    word: &AtomicU32,
    op: libc::c_int,
    val: u32,
    timeout: Option<&libc::timespec>,
) -> bool {
    let timeout = timeout.map_or(ptr::null(), |ts| ts as *const libc::timespec);
    // - `word` is a live, aligned `AtomicU32` for the whole call;
    // - `timeout` is null or points to a `timespec` the caller borrows
    //   for the call;
    // - uaddr2 (null) and val2 (0) are unused by FUTEX_WAIT_BITSET and
    //   FUTEX_WAKE; val3 is the bitset (all ones: match every wake).
    // SAFETY: see SAFETY.md, "Wait layer: NetBSD __futex".
    let r = unsafe {
        libc::syscall(
            SYS___FUTEX,
            word.as_ptr(),
            op,
            val,
            timeout,
            ptr::null::<u32>(),
            0,
            !0u32,
        )
    };
    r >= 0
}
