//! Linux and Android: how many CPUs this process may run on, from
//! `sched_getaffinity(2)` (what `std::thread::available_parallelism` asks
//! first). Not std's function itself: on Linux it also reads cgroup quota
//! files, which allocates, and the wait paths that ask must not allocate
//! (`tests/no_alloc.rs`). So a CPU quota (a container limited to 2 CPUs of
//! a 64-CPU host) is not seen here; the caller then keeps its policy for
//! machines with room (`sync::Backoff`).

/// The number of CPUs in this thread's affinity mask, or `None` if the OS
/// will not say (more than 1024 CPUs, or an error).
pub(super) fn cpus() -> Option<usize> {
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
