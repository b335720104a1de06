//! Loom models of every Phaser protocol: the arrive/wait split with the
//! completing arrival racing a waiter's park, a drop to zero racing a
//! register, a register during the action, an abort during the action, a
//! token's `wait_timeout` racing the advance (visibility checked on every
//! return path, timed and untimed), a breaking timeout racing the last
//! arrival, reset racing arrivals, and a panicking action.
#![cfg(loom)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rallypoint::{BarrierError, Phaser};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;
use support::silence_expected_panic;

#[test]
fn split_arrive_wait_publishes_both_sides() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let data = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let (p, d) = (Arc::clone(&phaser), Arc::clone(&data));
        let other = thread::spawn(move || {
            d[1].store(1, Ordering::Relaxed);
            let token = p.arrive().unwrap();
            p.wait(token).unwrap();
            // Relaxed on purpose: only the phaser can order it.
            assert_eq!(
                d[0].load(Ordering::Relaxed),
                1,
                "main's write before arrive"
            );
            token
        });
        data[0].store(1, Ordering::Relaxed);
        let token = phaser.arrive().unwrap();
        phaser.wait(token).unwrap();
        assert_eq!(
            data[1].load(Ordering::Relaxed),
            1,
            "other's write before arrive"
        );
        assert_eq!(other.join().unwrap(), token, "both arrived in phase 0");
        assert_eq!(phaser.phase(), 1);
    });
}

#[test]
fn action_runs_once_before_any_waiter_returns() {
    loom::model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran);
        let phaser = Arc::new(Phaser::with_action(2, move || {
            r.fetch_add(1, Ordering::Relaxed);
        }));
        let (p, r2) = (Arc::clone(&phaser), Arc::clone(&ran));
        let other = thread::spawn(move || {
            let res = p.arrive_and_wait().unwrap();
            assert_eq!(
                r2.load(Ordering::Relaxed),
                1,
                "released before the action ran"
            );
            res
        });
        let token = phaser.arrive().unwrap();
        phaser.wait(token).unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
        let theirs = other.join().unwrap();
        assert_eq!(theirs.is_leader(), theirs.index() == 1);
    });
}

#[test]
fn drop_to_zero_racing_register() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(1));
        let p = Arc::clone(&phaser);
        let dropper = thread::spawn(move || p.arrive_and_drop().unwrap());
        let joined = phaser.register().unwrap();
        // The newcomer's first arrival lands in the phase it joined.
        let mine = phaser.arrive().unwrap();
        assert_eq!(
            mine.phase(),
            joined,
            "register returned a phase it did not join"
        );
        phaser.wait(mine).unwrap();
        let theirs = dropper.join().unwrap();
        phaser.wait(theirs).unwrap();
        // Joined before the drop: one phase, both in it. After: two.
        assert_eq!(joined, theirs.phase() + u32::from(joined != theirs.phase()));
        assert_eq!((phaser.phase(), phaser.parties()), (joined + 1, 1));
    });
}

#[test]
fn register_during_the_action_joins_the_next_phase() {
    loom::model(|| {
        let phases = Arc::new(AtomicUsize::new(0));
        let ph = Arc::clone(&phases);
        let phaser = Arc::new(Phaser::with_action(1, move || {
            ph.fetch_add(1, Ordering::Relaxed);
        }));
        let p = Arc::clone(&phaser);
        let first = thread::spawn(move || {
            let token = p.arrive().unwrap();
            p.wait(token).unwrap();
            token.phase()
        });
        let joined = phaser.register().unwrap();
        let token = phaser.arrive().unwrap();
        assert_eq!(
            token.phase(),
            joined,
            "joined the phase that was completing"
        );
        let first = first.join().unwrap();
        // If we joined phase 0, the first party's arrival did not complete it.
        let _ = phaser.arrive_and_drop();
        phaser.wait(token).unwrap();
        assert_eq!(first, 0);
        assert_eq!(phases.load(Ordering::Relaxed), phaser.phase() as usize);
    });
}

#[test]
fn abort_during_the_action_passes_that_phase_and_breaks_the_next() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::with_action(2, || {}));
        let p = Arc::clone(&phaser);
        let other = thread::spawn(move || p.arrive_and_wait());
        let p = Arc::clone(&phaser);
        let aborter = thread::spawn(move || p.abort());
        let mine = phaser.arrive_and_wait();
        let theirs = other.join().unwrap();
        aborter.join().unwrap();
        match (mine, theirs) {
            (Ok(a), Ok(b)) => assert_ne!(a.index(), b.index()),
            (Err(BarrierError::Broken), Err(BarrierError::Broken)) => {}
            other => panic!("mixed phase: {other:?}"),
        }
        // Whenever the abort landed, the phase after it is broken.
        assert!(phaser.is_broken());
        assert_eq!(phaser.arrive(), Err(BarrierError::Broken));
    });
}

#[test]
fn token_wait_timeout_racing_the_advance_publishes_on_every_ok() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let data = Arc::new(AtomicUsize::new(0));
        let (p, d) = (Arc::clone(&phaser), Arc::clone(&data));
        let timed = thread::spawn(move || {
            let token = p.arrive().unwrap();
            // Times out at once under loom unless the phase has ended.
            match p.wait_timeout(token, Duration::from_secs(1)) {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(e, BarrierError::TimedOut);
                    assert!(!p.is_broken(), "a token's timeout broke the phaser");
                    p.wait(token).unwrap(); // The arrival stands.
                }
            }
            assert_eq!(d.load(Ordering::Relaxed), 1, "Ok without the other's write");
        });
        data.store(1, Ordering::Relaxed);
        let _ = phaser.arrive().unwrap();
        timed.join().unwrap();
    });
}

#[test]
fn breaking_timeout_racing_the_last_arrival_is_all_or_nothing() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let data = Arc::new(AtomicUsize::new(0));
        let (p, d) = (Arc::clone(&phaser), Arc::clone(&data));
        let timed = thread::spawn(move || {
            let r = p.arrive_and_wait_timeout(Duration::from_secs(1));
            if r.is_ok() {
                assert_eq!(d.load(Ordering::Relaxed), 1, "Ok without the other's write");
            }
            r
        });
        data.store(1, Ordering::Relaxed);
        let last = phaser.arrive_and_wait();
        match (timed.join().unwrap(), last) {
            (Ok(a), Ok(b)) => assert_ne!(a.index(), b.index()),
            (Err(BarrierError::TimedOut), Err(BarrierError::Broken)) => {}
            other => panic!("mixed or wrong outcome: {other:?}"),
        }
    });
}

#[test]
fn reset_racing_arrivals_tells_each_token_its_phase_outcome() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let p = Arc::clone(&phaser);
        let waiter = thread::spawn(move || {
            let token = p.arrive().unwrap();
            (token, p.wait(token))
        });
        phaser.reset();
        // The second party: completes phase 0 unless the reset ended it.
        let mine = phaser.arrive().unwrap();
        let (theirs, outcome) = waiter.join().unwrap();
        if mine.phase() == theirs.phase() {
            assert_eq!(outcome, Ok(()), "a completed phase reported broken");
            assert_eq!(phaser.phase(), 1);
        } else {
            assert_eq!(
                outcome,
                Err(BarrierError::Broken),
                "a reset phase reported Ok"
            );
            assert_eq!((phaser.phase(), phaser.arrived()), (1, 1));
        }
        assert!(!phaser.is_broken());
        // Redeemed late, the same token tells the same story.
        assert_eq!(phaser.wait(theirs), outcome);
    });
}

#[test]
fn racing_resets_the_one_that_does_not_reset_sees_the_others_writes() {
    loom::model(|| {
        // One arrival, so a reset has work to do; two resets race. One
        // breaks and moves the phase; the other finds it in progress and
        // waits for it to finish, or finds it done (nothing to reset).
        // Either way that one returns after the other's reset and sees what
        // its thread wrote before (`await_reset`'s Acquire load, or
        // `transition`'s): at least one of the two threads sees the
        // other's write.
        let phaser = Arc::new(Phaser::new(2));
        let token = phaser.arrive().unwrap();
        let (mine, theirs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (p, m, t) = (Arc::clone(&phaser), Arc::clone(&mine), Arc::clone(&theirs));
        let other = thread::spawn(move || {
            t.store(1, Ordering::Relaxed);
            p.reset();
            // Relaxed: only the phaser's Release/Acquire can make it visible.
            m.load(Ordering::Relaxed)
        });
        mine.store(1, Ordering::Relaxed);
        phaser.reset();
        let seen_by_me = theirs.load(Ordering::Relaxed);
        let seen_by_other = other.join().unwrap();
        assert!(
            seen_by_me == 1 || seen_by_other == 1,
            "neither reset() saw the other's write"
        );
        assert_eq!(phaser.wait(token), Err(BarrierError::Broken));
        assert!(!phaser.is_broken());
    });
}

#[test]
fn a_timeout_break_wakes_a_parked_untimed_waiter() {
    loom::model(|| {
        // 3 parties, 2 arrive: the timed one times out (at once, under
        // loom) and breaks the phase; the untimed one, spinning or parked,
        // must wake and fail (a lost wake-up is a loom deadlock).
        let phaser = Arc::new(Phaser::new(3));
        let p = Arc::clone(&phaser);
        let untimed = thread::spawn(move || p.arrive_and_wait());
        // Loom does not run a new thread before this one's next step by
        // itself: let the untimed party arrive first, so that it can park.
        while phaser.arrived() == 0 {
            thread::yield_now();
        }
        assert_eq!(
            phaser.arrive_and_wait_timeout(Duration::from_secs(1)),
            Err(BarrierError::TimedOut)
        );
        assert_eq!(untimed.join().unwrap(), Err(BarrierError::Broken));
    });
}

#[test]
fn reset_racing_abort_and_arrival_never_corrupts() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let p = Arc::clone(&phaser);
        let resetter = thread::spawn(move || p.reset());
        let p = Arc::clone(&phaser);
        let arriver = thread::spawn(move || p.arrive_and_wait_timeout(Duration::from_secs(1)));
        phaser.abort();
        resetter.join().unwrap();
        let r = arriver.join().unwrap();
        assert!(r.is_err(), "a lone party passed a two-party phase: {r:?}");
        // Whatever happened, a reset leaves a working phaser.
        phaser.reset();
        assert!(!phaser.is_broken());
        assert_eq!(phaser.arrived(), 0);
    });
}

#[test]
fn panicking_action_breaks_its_phase() {
    silence_expected_panic("action failed");
    loom::model(|| {
        let phaser = Arc::new(Phaser::with_action(2, || panic!("action failed")));
        let p = Arc::clone(&phaser);
        let other = thread::spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let token = p.arrive()?;
                p.wait(token)
            }))
        });
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let token = phaser.arrive()?;
            phaser.wait(token)
        }));
        match (mine, other.join().unwrap()) {
            (Err(_), Ok(r)) | (Ok(r), Err(_)) => assert_eq!(r, Err(BarrierError::Broken)),
            _ => panic!("exactly one party must see the panic"),
        }
        assert!(phaser.is_broken());
    });
}

/// Issue 19, item 9: a party of `arrive_and_wait` whose phase completed
/// gets `Ok`, however many later phases `reset()` ends before it looks.
/// Its arrival races the first reset (so it may arrive in phase 0, be
/// failed by that reset, or arrive in phase 1 after it); if phase 1
/// completed before the second abort, its party must get `Ok`, even if it
/// runs only after two more resets. With no preemption at all loom runs the
/// woken party last.
#[test]
fn a_party_released_before_two_resets_still_gets_ok() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let p = Arc::clone(&phaser);
        let party = thread::spawn(move || p.arrive_and_wait());
        phaser.abort();
        phaser.reset();
        let mine = phaser.arrive().unwrap();
        // Phase `mine.phase()` completed iff the phase moved past it before
        // the abort below (which then breaks the phase after it).
        let completed = phaser.phase() != mine.phase();
        phaser.abort();
        phaser.reset();
        phaser.abort();
        phaser.reset();
        phaser.abort(); // A party that arrives only now must not wait alone.
        let theirs = party.join().unwrap();
        if completed {
            assert!(
                theirs.is_ok(),
                "a party of a completed phase got {theirs:?}"
            );
        }
    });
}

/// Issue 19, item 9: a token counts only the resets made after its
/// arrival. `arrive` once read the reset count before its CAS (and before
/// waiting out a running action): a reset in between made the count lag,
/// and one more reset after the phase completed then turned `Ok` into
/// `Err(Broken)`. One party, so every arrival completes its phase.
#[test]
fn a_token_counts_only_the_resets_after_its_arrival() {
    loom::model(|| {
        let phaser = Arc::new(Phaser::with_action(1, || {}));
        let p = Arc::clone(&phaser);
        let other = thread::spawn(move || p.arrive());
        let _ = phaser.arrive().unwrap();
        phaser.abort();
        // Broken: no arrival can move the phase; this is the one the reset ends.
        let first = phaser.phase();
        phaser.reset();
        let Ok(token) = other.join().unwrap() else {
            return; // Arrived while broken: refused, nothing to check.
        };
        phaser.abort();
        phaser.reset();
        let outcome = phaser.wait(token);
        if token.phase() > first {
            // Arrived after the first reset: only the second one follows it,
            // and that one ended a later phase.
            assert_eq!(
                outcome,
                Ok(()),
                "token {token:?}: one reset since, of a later phase"
            );
        }
    });
}

/// Issue 19, item 10: a timed party counted in a phase that an abort then
/// breaks gets `TimedOut`, not `Broken`, when its own deadline has passed
/// (under loom every finite deadline has), as `Barrier` does. No polling
/// (a `yield_now` poll lets loom run the party's first look, which breaks
/// the phase itself, before the abort): the abort races the arrival, and
/// `counted`, read once the phase is broken, says which came first.
#[test]
fn a_timed_party_past_its_deadline_gets_timed_out_when_an_abort_breaks_its_phase() {
    static COUNTED: support::BothOutcomes = support::BothOutcomes::new();
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let p = Arc::clone(&phaser);
        let timed = thread::spawn(move || p.arrive_and_wait_timeout(Duration::from_secs(1)));
        phaser.abort();
        // Whether the party arrived before its phase broke (by this abort
        // or by its own timeout): nothing can arrive in a broken phase, so
        // `arrived` no longer changes.
        let counted = phaser.arrived() == 1;
        let result = timed.join().unwrap();
        COUNTED.record(counted);
        if counted {
            assert_eq!(result, Err(BarrierError::TimedOut));
        } else {
            assert!(result.is_err(), "{result:?}");
        }
    });
    COUNTED.assert_both("abort first", "arrival first");
}

/// Issue 19, item 9, a token's wait: it is counted from its first look that
/// finds the phase pending, and the reset that would overwrite the record
/// it needs waits for it. Racing a completion and two resets, the wait
/// never deadlocks with the waiting reset and answers `Ok` (counted in
/// time, or looking before the second reset) or the cautious `Err(Broken)`
/// (its first look came after the second reset: a late redemption); both
/// occur. Its phase completed, so nothing else is allowed.
#[test]
fn a_token_wait_racing_two_resets_is_counted_or_late() {
    static OK: support::BothOutcomes = support::BothOutcomes::new();
    loom::model(|| {
        let phaser = Arc::new(Phaser::new(2));
        let token = phaser.arrive().unwrap();
        let p = Arc::clone(&phaser);
        let waiter = thread::spawn(move || p.wait(token));
        let _ = phaser.arrive().unwrap(); // Completes phase 0.
        phaser.abort();
        phaser.reset();
        phaser.abort();
        phaser.reset();
        let outcome = waiter.join().unwrap();
        assert!(
            matches!(outcome, Ok(()) | Err(BarrierError::Broken)),
            "{outcome:?}"
        );
        OK.record(outcome.is_ok());
    });
    OK.assert_both("late (cautious Err)", "Ok");
}
