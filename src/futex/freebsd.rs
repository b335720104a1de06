//! FreeBSD: `_umtx_op(UMTX_OP_WAIT_UINT_PRIVATE)` with an absolute
//! `CLOCK_MONOTONIC` deadline (`UMTX_ABSTIME`), and `UMTX_OP_WAKE_PRIVATE`.
//!
//! `UMTX_OP_WAIT_UINT_PRIVATE` compares a 32-bit word (plain `UMTX_OP_WAIT`
//! compares a `long`). Passing the *absolute* deadline with `UMTX_ABSTIME` is
//! what Rust std does; a relative duration with `UMTX_ABSTIME` (a bug seen in
//! the wild) times out at once.

use super::unix::{after_error, errno, timespec};
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::ffi::c_void;
use core::ptr;

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    // `None` if time_t cannot hold the deadline: then wait untimed (forever).
    let mut umtx_time = deadline.and_then(|d| {
        Some(libc::_umtx_time {
            _timeout: timespec(d.since_origin())?,
            _flags: libc::UMTX_ABSTIME,
            _clockid: libc::CLOCK_MONOTONIC as u32,
        })
    });
    // The kernel learns the timeout's type from `uaddr` = its size.
    let (size, timeout) = match umtx_time.as_mut() {
        Some(t) => (
            core::mem::size_of::<libc::_umtx_time>() as *mut c_void,
            t as *mut libc::_umtx_time as *mut c_void,
        ),
        None => (ptr::null_mut(), ptr::null_mut()),
    };
    loop {
        if word.load(Ordering::Relaxed) != expected {
            return true;
        }
        // - `word` is a live, aligned `AtomicU32` for the whole call;
        // - `timeout` is null or points to `umtx_time`, alive for the call,
        //   and `size` is its size as the op requires.
        // SAFETY: see SAFETY.md, "Wait layer: FreeBSD umtx".
        let r = unsafe {
            libc::_umtx_op(
                word.as_ptr().cast(),
                libc::UMTX_OP_WAIT_UINT_PRIVATE,
                expected as libc::c_ulong,
                size,
                timeout,
            )
        };
        if r == 0 {
            return true;
        }
        // A timeout is re-checked on our clock (the same CLOCK_MONOTONIC).
        if let Some(woken) = after_error(errno(), deadline) {
            return woken;
        }
    }
}

pub(super) fn wake_all(word: &AtomicU32) {
    // `word` is a live, aligned `AtomicU32`; the wake op reads no
    // other pointer.
    // SAFETY: see SAFETY.md, "Wait layer: FreeBSD umtx".
    let r = unsafe {
        libc::_umtx_op(
            word.as_ptr().cast(),
            libc::UMTX_OP_WAKE_PRIVATE,
            i32::MAX as libc::c_ulong,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    debug_assert_eq!(r, 0, "_umtx_op wake failed: errno {}", errno());
}
