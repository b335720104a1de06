//! Property tests: random schedules of `wait` / `wait_timeout(0)` / `abort` /
//! `reset`, each `wait` on its own thread, checked step by step against a
//! simple sequential reference model of Python's barrier.
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

use proptest::prelude::*;
use rallypoint::{Barrier, BarrierError, BarrierWaitResult};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Op {
    /// A new thread calls `wait()` (blocks unless it completes the generation).
    Wait,
    /// A new thread calls `wait_timeout(Duration::ZERO)`: breaks the barrier
    /// unless it is the last party.
    WaitZero,
    Abort,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![5 => Just(Op::Wait), 1 => Just(Op::WaitZero), 1 => Just(Op::Abort), 1 => Just(Op::Reset)]
}

/// The reference model: who is blocked (in arrival order) and whether broken.
#[derive(Default)]
struct Model {
    pending: usize,
    broken: bool,
}

type Outcome = Result<BarrierWaitResult, BarrierError>;

mod common;
use common::poll;

fn run_schedule(parties: usize, ops: &[Op]) {
    let _dog = common::watchdog();
    let barrier = Barrier::new(parties);
    let mut model = Model::default();
    thread::scope(|s| {
        // Blocked threads, in arrival order.
        let mut blocked: Vec<thread::ScopedJoinHandle<'_, Outcome>> = Vec::new();
        let expect_all = |blocked: &mut Vec<thread::ScopedJoinHandle<'_, Outcome>>,
                          want: Option<BarrierError>| {
            for (i, h) in blocked.drain(..).enumerate() {
                let got = h.join().unwrap();
                match want {
                    None => assert_eq!(got.map(|r| r.index()), Ok(i), "released party {i}"),
                    Some(e) => assert_eq!(got, Err(e), "failed party {i}"),
                }
            }
        };
        for &op in ops {
            match op {
                Op::Wait | Op::WaitZero => {
                    let zero = matches!(op, Op::WaitZero);
                    let b = &barrier;
                    let h = s.spawn(move || {
                        if zero {
                            b.wait_timeout(Duration::ZERO)
                        } else {
                            b.wait()
                        }
                    });
                    if model.broken {
                        assert_eq!(
                            h.join().unwrap(),
                            Err(BarrierError::Broken),
                            "wait on a broken barrier"
                        );
                    } else if model.pending + 1 == parties {
                        let r = h.join().unwrap().expect("the last party passes");
                        assert_eq!(r.index(), parties - 1);
                        assert!(r.is_leader());
                        expect_all(&mut blocked, None);
                        model.pending = 0;
                    } else if zero {
                        assert_eq!(h.join().unwrap(), Err(BarrierError::TimedOut));
                        expect_all(&mut blocked, Some(BarrierError::Broken));
                        model = Model {
                            pending: 0,
                            broken: true,
                        };
                    } else {
                        model.pending += 1;
                        blocked.push(h);
                        poll("the new waiter", || barrier.n_waiting() == model.pending);
                    }
                }
                Op::Abort => {
                    barrier.abort();
                    expect_all(&mut blocked, Some(BarrierError::Broken));
                    model = Model {
                        pending: 0,
                        broken: true,
                    };
                }
                Op::Reset => {
                    barrier.reset();
                    expect_all(&mut blocked, Some(BarrierError::Broken));
                    model = Model {
                        pending: 0,
                        broken: false,
                    };
                }
            }
            assert_eq!(barrier.is_broken(), model.broken, "after {op:?}");
            assert_eq!(
                barrier.n_waiting(),
                if model.broken { 0 } else { model.pending },
                "after {op:?}"
            );
        }
        barrier.abort();
        expect_all(&mut blocked, Some(BarrierError::Broken));
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 96 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn barrier_matches_the_reference_model(parties in 1usize..5, ops in prop::collection::vec(op(), 1..24)) {
        run_schedule(parties, &ops);
    }
}

#[test]
fn reset_then_refill_regression() {
    // A reset with waiters leaves RESETTING until they depart; the next
    // generation must then fill normally.
    run_schedule(
        3,
        &[
            Op::Wait,
            Op::Wait,
            Op::Reset,
            Op::Wait,
            Op::Wait,
            Op::Wait,
            Op::Wait,
        ],
    );
}
