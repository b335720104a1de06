//! The wait layer's unit tests, run against the backend compiled in.

extern crate std;

use super::{wait, wake_all};
use crate::sync::{AtomicU32, Ordering};
use crate::time::Deadline;
use core::sync::atomic::AtomicUsize;
use core::time::Duration;
use std::thread;
use std::time::Instant;

/// Never early; late by at most a generous 2 s (shared, noisy machines).
fn assert_on_time(elapsed: Duration, timeout: Duration, what: &str) {
    assert!(
        elapsed >= timeout,
        "{what} of {timeout:?} returned after {elapsed:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "{what} of {timeout:?} took {elapsed:?}"
    );
}

/// Spins until `n` threads have announced they are about to wait.
fn until(counter: &AtomicUsize, n: usize) {
    while counter.load(Ordering::SeqCst) < n {
        thread::yield_now();
    }
}

#[test]
fn stale_value_returns_at_once() {
    let word = AtomicU32::new(7);
    let start = Instant::now();
    assert!(wait(&word, 6, None));
    assert!(wait(&word, 6, Deadline::after(Duration::from_secs(3600))));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn one_wake_all_releases_eight_waiters() {
    let word = AtomicU32::new(0);
    let ready = AtomicUsize::new(0);
    let woken = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                ready.fetch_add(1, Ordering::SeqCst);
                while word.load(Ordering::Acquire) == 0 {
                    wait(&word, 0, None);
                }
                woken.fetch_add(1, Ordering::SeqCst);
            });
        }
        until(&ready, 8);
        thread::sleep(Duration::from_millis(20));
        word.store(1, Ordering::Release);
        wake_all(&word);
    });
    assert_eq!(woken.load(Ordering::SeqCst), 8);
}

#[test]
fn timed_wait_is_never_early_and_not_much_late() {
    let word = AtomicU32::new(0);
    for ms in [0u64, 1, 5, 30] {
        let timeout = Duration::from_millis(ms);
        let start = Instant::now();
        let deadline = Deadline::after(timeout);
        // Loop as callers do: `true` may be spurious.
        while wait(&word, 0, deadline) {}
        assert_on_time(start.elapsed(), timeout, "a timed wait");
        assert!(deadline.unwrap().has_passed());
    }
}

#[test]
fn untimed_and_max_waits_do_not_overflow() {
    // Duration::MAX and near-MAX: woken by a store, never a panic or an
    // immediate timeout.
    for timeout in [
        Duration::MAX,
        Duration::from_secs(u64::MAX / 2),
        Duration::from_secs(1 << 40),
    ] {
        let word = AtomicU32::new(0);
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let deadline = Deadline::after(timeout);
                while word.load(Ordering::Acquire) == 0 {
                    assert!(wait(&word, 0, deadline), "a {timeout:?} wait timed out");
                }
            });
            thread::sleep(Duration::from_millis(20));
            word.store(1, Ordering::Release);
            wake_all(&word);
            waiter.join().unwrap();
        });
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
#[cfg_attr(miri, ignore = "Miri has no signals; runs natively")]
fn eintr_neither_wakes_nor_stretches_a_timed_wait() {
    extern "C" fn on_signal(_: libc::c_int) {}
    // A no-op SIGUSR1 handler without SA_RESTART, so futex waits see EINTR.
    #[allow(unsafe_code)]
    // SAFETY: (test) all-zero is a valid `sigaction`.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
    #[allow(unsafe_code)]
    // SAFETY: (test) `action` is a valid sigaction; the old one is not read.
    let r = unsafe { libc::sigaction(libc::SIGUSR1, &action, core::ptr::null_mut()) };
    assert_eq!(r, 0);
    let word = AtomicU32::new(0);
    let timeout = Duration::from_millis(300);
    thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let word = &word;
        let waiter = s.spawn(move || {
            #[allow(unsafe_code)]
            // SAFETY: (test) pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            let start = Instant::now();
            let deadline = Deadline::after(timeout);
            let mut spurious = 0;
            while wait(word, 0, deadline) {
                spurious += 1;
            }
            (start.elapsed(), spurious)
        });
        let pthread = rx.recv().unwrap();
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(20));
            #[allow(unsafe_code)]
            // SAFETY: (test) the thread is alive until joined below.
            unsafe {
                libc::pthread_kill(pthread, libc::SIGUSR1);
            }
        }
        let (elapsed, spurious) = waiter.join().unwrap();
        assert_on_time(elapsed, timeout, "a wait interrupted by EINTR");
        assert_eq!(spurious, 0, "EINTR must be retried inside the layer");
    });
}
