//! Linux and Android: the `futex(2)` system call, for the Linux-ABI wait
//! loop and wake (`linux_abi.rs`, which says why `FUTEX_WAIT_BITSET |
//! FUTEX_PRIVATE_FLAG` with an absolute deadline).

use crate::sync::AtomicU32;
use core::ptr;

// riscv32 Linux has only the 64-bit-time futex syscall.
#[cfg(not(target_arch = "riscv32"))]
use libc::SYS_futex as SYS_FUTEX;
#[cfg(target_arch = "riscv32")]
use libc::SYS_futex_time64 as SYS_FUTEX;

/// `futex(word, op, val, timeout, NULL, !0)`: the Linux-ABI call.
pub(super) fn futex(
    word: &AtomicU32,
    op: libc::c_int,
    val: u32,
    timeout: Option<&libc::timespec>,
) -> bool {
    let timeout = timeout.map_or(ptr::null(), |ts| ts as *const libc::timespec);
    // - `word` is a live, aligned `AtomicU32` for the whole call, since
    //   we hold a shared reference to it;
    // - `timeout` is null or points to a `timespec` the caller borrows
    //   for the call;
    // - uaddr2 is unused by FUTEX_WAIT_BITSET and FUTEX_WAKE (null), val3
    //   is the bitset (FUTEX_WAKE reads neither).
    // SAFETY: see SAFETY.md, "Wait layer: Linux futex".
    let r = unsafe {
        libc::syscall(
            SYS_FUTEX,
            word.as_ptr(),
            op,
            val,
            timeout,
            ptr::null::<u32>(),
            !0u32,
        )
    };
    r >= 0
}
