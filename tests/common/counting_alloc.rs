//! A counting global allocator for the tests that prove what allocates:
//! `tests/no_alloc.rs` (no allocation on any core path) and
//! `tests/timer_queue_alloc.rs` (one per scheduled timer, bytes per timer,
//! memory back after cancels). A test binary opts in with
//! `#[global_allocator] static GLOBAL: Counting = Counting;`; the others
//! compile it and never use it.
#![allow(unsafe_code)] // The allocator; no unsafe touches rallypoint.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts allocations of the *current thread* while [`allocations_in`]
/// runs (so the harness's own threads cannot disturb the count), and the
/// live bytes of the whole process in [`LIVE`].
pub(crate) struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, process-wide (all threads).
pub(crate) static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: a thread's last allocations may come after its
        // thread-locals are gone.
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                ALLOCATIONS.with(|a| a.set(a.get() + 1));
            }
        });
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { backing::alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { backing::dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns how many allocations this thread made meanwhile.
pub(crate) fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get))
}

/// Where the counted allocations really come from: the system allocator.
#[cfg(not(all(miri, windows)))]
mod backing {
    use std::alloc::{GlobalAlloc, Layout, System};
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    pub(crate) unsafe fn alloc(layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    /// # Safety
    /// `GlobalAlloc::dealloc`'s contract.
    pub(crate) unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller keeps `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Under Miri on Windows, std's `System` allocator trips Stacked and Tree
/// Borrows on its own: over-aligned blocks keep a header *before* the
/// pointer, outside the range the freed `Box` may access (rust-lang/miri
/// #2104, open). Miri's own allocator hooks have no header, so the tests
/// still count every allocation on that target.
#[cfg(all(miri, windows))]
mod backing {
    use std::alloc::Layout;
    extern "Rust" {
        fn miri_alloc(size: usize, align: usize) -> *mut u8;
        fn miri_dealloc(ptr: *mut u8, size: usize, align: usize);
    }
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    pub(crate) unsafe fn alloc(layout: Layout) -> *mut u8 {
        // SAFETY: Miri provides this function; any non-zero-size layout is valid.
        unsafe { miri_alloc(layout.size(), layout.align()) }
    }
    /// # Safety
    /// `GlobalAlloc::dealloc`'s contract.
    pub(crate) unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `miri_alloc` with this layout (the caller's contract).
        unsafe { miri_dealloc(ptr, layout.size(), layout.align()) }
    }
}
