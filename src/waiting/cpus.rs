//! How many CPUs this process may run on, if the OS says so without
//! allocating: asked once per process by [`Backoff`](super::Backoff), and
//! only with `std` (without it a waiter cannot yield, so the count would
//! change nothing).
//!
//! On Linux and Android from `sched_getaffinity(2)` (what
//! `std::thread::available_parallelism` asks first). Not std's function
//! itself: on Linux it also reads cgroup quota files, which allocates, and
//! the wait paths that ask must not allocate (`tests/no_alloc.rs`). So a
//! CPU quota (a container limited to 2 CPUs of a 64-CPU host) is not seen
//! here; the caller then keeps its policy for machines with room.
//! Elsewhere std's answer allocates nothing (`sysconf`, `GetSystemInfo`,
//! `cpuset_getaffinity`).

/// The CPUs this process may run on (`None`: unknown).
pub(super) fn cpus() -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        affinity()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        extern crate std;
        std::thread::available_parallelism()
            .ok()
            .map(core::num::NonZeroUsize::get)
    }
}

/// The number of CPUs in this thread's affinity mask, or `None` if the OS
/// will not say (more than 1024 CPUs, or an error).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn affinity() -> Option<usize> {
    // 1024 bits: glibc's `cpu_set_t` (CPU_SETSIZE), read as 16 words.
    let mut mask = [0u64; 16];
    // - `mask` is a live, writable, 8-aligned buffer of exactly the size
    //   passed, and outlives the call;
    // - pid 0 means the calling thread.
    // SAFETY: see SAFETY.md, "Wait layer: CPU count".
    let r = unsafe {
        libc::sched_getaffinity(
            0,
            core::mem::size_of_val(&mask),
            mask.as_mut_ptr().cast::<libc::cpu_set_t>(),
        )
    };
    if r != 0 {
        return None;
    }
    let n: u32 = mask.iter().map(|w| w.count_ones()).sum();
    (n > 0).then_some(n as usize)
}
