//! The wait layer: park a thread on a 32-bit atomic word until it changes.
//!
//! # Contract
//!
//! Every backend (one file per OS, identical signatures) provides:
//!
//! - [`wait`]`(word, expected, deadline) -> bool`: if `word` still holds
//!   `expected`, sleep until woken, until `deadline` passes, or spuriously.
//!   Returns `false` **only** when the deadline has passed by the crate's
//!   own monotonic clock (`crate::time::now`, the clock the deadline is on),
//!   never on a bare "timed out" from the OS: every backend re-checks the
//!   deadline before reporting one (`unix.rs`'s `after_error` for the Unix
//!   futex calls). It returns `true` otherwise, *including*
//!   spurious returns. Callers therefore loop on their own predicate and
//!   never treat `true` as "the value changed".
//! - [`wake_all`]`(word)`: wake every thread sleeping in [`wait`] on this
//!   word (Barrier and Timer always release every waiter, so there is no
//!   `wake_one`). A wake with no sleeper is harmless.
//!
//! A wait that enters the kernel after a wake was issued does not sleep: the
//! kernel compares `*word` with `expected` atomically with queueing the
//! waiter. So "store new value, then wake" on one side and "see old value,
//! then wait(expected = old)" on the other never loses a wake-up. (The std
//! fallback, `fallback.rs`, gets the same from re-checking the word under a
//! bucket lock that wakers also take.) That is the
//! only synchronisation this layer promises; all memory ordering comes from
//! the atomic operations on the word itself (see SAFETY.md, "2. Wait layer").
//!
//! Deadlines ([`Deadline`], `src/time/`) are absolute points on the crate's
//! clock, computed once by the caller, so a retry after `EINTR` or a
//! spurious wake never stretches a timeout. A deadline too far away to
//! represent is `None`: "wait forever", never an overflow and never an
//! immediate timeout. The clock itself, and `set_clock`, live in
//! `src/time/`, chosen per target from the `rallypoint_clock` cfg, which
//! `build.rs` derives from the `rallypoint_backend` cfg of the backend
//! below, so that each backend's OS measures its timeouts on the clock its
//! deadlines are on.
//!
//! The shape (free functions, not a trait, one backend compiled in) is that
//! of std's `sys::sync::futex` and the `atomic-wait` crate.

use crate::sync::AtomicU32;
use crate::time::Deadline;

// Backend selection, checked in this order (each `cfg` below excludes the
// ones before it, so exactly one `imp` is compiled):
//
// | Condition                                    | Backend          |
// |----------------------------------------------|------------------|
// | `cfg(loom)`                                  | `loom.rs`        |
// | `cfg(rallypoint_force_spin)`                 | `spin.rs` (test-only cfg: runs the no-OS backend on any host) |
// | `cfg(rallypoint_force_fallback)` + `std`     | `fallback.rs` (test-only cfg: runs the fallback on any host) |
// | Linux, Android                               | `linux_abi.rs` + `linux.rs` |
// | FreeBSD                                      | `freebsd.rs`     |
// | Windows                                      | `windows.rs`     |
// | Apple                                        | `apple.rs`       |
// | OpenBSD                                      | `openbsd.rs`     |
// | NetBSD                                       | `linux_abi.rs` + `netbsd.rs` |
// | DragonFly BSD                                | `dragonfly.rs`   |
// | Fuchsia                                      | `fuchsia.rs`     |
// | Emscripten with the `atomics` target feature | `emscripten.rs`  |
// | other wasm32 with the `atomics` target feature | `wasm.rs`      |
// | any other OS, with the `std` feature         | `fallback.rs`    |
// | no OS (`target_os = "none"`, wasm32/64-unknown-unknown), or no `std` | `spin.rs` |
//
// `target_feature = "atomics"` is visible to `cfg` only on nightly (it is
// an unstable target feature), which is also the only way to build wasm
// threads outside wasm32-wasip1-threads; on stable, wasm32-wasip1-threads
// and Emscripten take `fallback.rs`, whose `std::sync::Condvar` parks with
// the same `memory.atomic.wait32` underneath.
//
// `build.rs` applies this table once and sets `rallypoint_backend` to the
// chosen file's name (loom builds ignore it), so each backend below needs
// one `cfg` and the list of OSes with a native futex exists in one place.

#[cfg(loom)]
#[path = "loom.rs"]
mod imp;

// A build that skips `build.rs` (some non-cargo build systems) gets this
// message instead of "cannot find module `imp`".
#[cfg(all(
    not(loom),
    not(any(
        rallypoint_backend = "linux",
        rallypoint_backend = "freebsd",
        rallypoint_backend = "windows",
        rallypoint_backend = "apple",
        rallypoint_backend = "openbsd",
        rallypoint_backend = "netbsd",
        rallypoint_backend = "dragonfly",
        rallypoint_backend = "fuchsia",
        rallypoint_backend = "emscripten",
        rallypoint_backend = "wasm",
        rallypoint_backend = "fallback",
        rallypoint_backend = "spin"
    ))
))]
compile_error!(
    "rallypoint: no `rallypoint_backend` cfg: the crate's build script (build.rs) must run; \
     it selects the wait layer for the target (or pass `--cfg rallypoint_backend=\"...\"` \
     with a name from the table in src/futex/mod.rs, and `--cfg rallypoint_clock=\"...\"` \
     with its clock from the table in src/time/clock.rs)"
);

#[cfg(all(
    not(loom),
    any(
        rallypoint_backend = "linux",
        rallypoint_backend = "freebsd",
        rallypoint_backend = "apple",
        rallypoint_backend = "openbsd",
        rallypoint_backend = "netbsd",
        rallypoint_backend = "dragonfly",
        rallypoint_backend = "emscripten"
    )
))]
#[allow(unsafe_code)]
mod unix;

// Linux and NetBSD share the Linux futex ABI: `linux_abi.rs` holds the
// loop, and compiles `linux.rs` or `netbsd.rs` for the system call.
#[cfg(all(
    not(loom),
    any(rallypoint_backend = "linux", rallypoint_backend = "netbsd")
))]
#[allow(unsafe_code)]
#[path = "linux_abi.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "freebsd"))]
#[allow(unsafe_code)]
#[path = "freebsd.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "windows"))]
#[allow(unsafe_code)]
#[path = "windows.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "apple"))]
#[allow(unsafe_code)]
#[path = "apple.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "openbsd"))]
#[allow(unsafe_code)]
#[path = "openbsd.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "dragonfly"))]
#[allow(unsafe_code)]
#[path = "dragonfly.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "fuchsia"))]
#[allow(unsafe_code)]
#[path = "fuchsia.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "emscripten"))]
#[allow(unsafe_code)]
#[path = "emscripten.rs"]
mod imp;

#[cfg(all(not(loom), rallypoint_backend = "wasm"))]
#[allow(unsafe_code)]
#[path = "wasm.rs"]
mod imp;

// An OS without a futex-like call (illumos, Solaris, AIX, Haiku, Hurd, QNX,
// VxWorks, Redox, ..., and the wasm targets above without `atomics`), with
// `std`: park on a table of std Mutex + Condvar buckets. Also on any host
// with `cfg(rallypoint_force_fallback)` (test-only).
#[cfg(all(not(loom), rallypoint_backend = "fallback"))]
#[path = "fallback.rs"]
mod imp;

// No OS, or no `std` on an OS without a futex: spin. Also on any host with
// `cfg(rallypoint_force_spin)` (test-only: runs the no-OS backend natively,
// with the clock the tests register; it wins over the forced fallback).
#[cfg(all(not(loom), rallypoint_backend = "spin"))]
#[path = "spin.rs"]
mod imp;

// The no-OS and std-fallback backends are also compiled on hosts with a
// native backend, for their own unit tests, so that the code bare-metal and
// futex-less users run is tested here too. (Under `rallypoint_force_spin`
// the spin backend is `imp` itself; its unit test registers a fake clock,
// which the other unit tests' timed waits would then read: with that cfg,
// run the integration tests, which register the host's clock.)
#[cfg(all(test, not(loom), feature = "std"))]
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
#[path = "fallback.rs"]
mod fallback;
#[cfg(all(test, not(loom), not(rallypoint_force_spin)))]
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
#[path = "spin.rs"]
mod spin;

/// Sleeps while `*word == expected`, until woken or `deadline` passes.
///
/// Returns `false` only if the deadline has passed; may return `true`
/// spuriously. See the module docs for the full contract.
#[inline]
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Deadline>) -> bool {
    imp::wait(word, expected, deadline)
}

/// Wakes every thread sleeping in [`wait`] on `word`.
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) {
    imp::wake_all(word);
}

#[cfg(all(test, not(loom)))]
mod tests;
