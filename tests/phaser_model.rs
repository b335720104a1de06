//! Property tests: random sequences of register / arrive / arrive_and_drop
//! / wait / arrive_and_wait / abort / reset from a model of several
//! parties, each blocking call on its own thread, checked step by step
//! against a sequential reference model of the phaser.
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use common::poll;
use proptest::prelude::*;
use rallypoint::{ArrivalToken, BarrierError, BarrierWaitResult, Phaser};
use std::thread::{self, ScopedJoinHandle};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Op {
    Register,
    Arrive,
    ArriveAndDrop,
    /// A new thread calls `arrive_and_wait()`.
    ArriveAndWait,
    /// A new thread calls `wait` on the token with this index (mod the
    /// number of tokens so far).
    Wait(usize),
    /// `wait_timeout(token, 0)` on this thread.
    Poll(usize),
    Abort,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Register),
        4 => Just(Op::Arrive),
        2 => Just(Op::ArriveAndDrop),
        3 => Just(Op::ArriveAndWait),
        3 => (0..64usize).prop_map(Op::Wait),
        2 => (0..64usize).prop_map(Op::Poll),
        1 => Just(Op::Abort),
        1 => Just(Op::Reset),
    ]
}

/// How a token's phase ended, in the reference model.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Pending,
    Completed,
    Broken,
}

#[derive(Debug)]
struct Token {
    /// `None` for an `arrive_and_wait` (it has no token to redeem).
    real: Option<ArrivalToken>,
    phase: u32,
    fate: Fate,
    /// Resets (that ended a phase) made before the arrival.
    resets: u32,
}

/// The reference: a phaser as a plain struct.
#[derive(Debug, Default)]
struct Model {
    phase: u32,
    parties: usize,
    arrived: usize,
    broken: bool,
    resets: u32,
    tokens: Vec<Token>,
}

impl Model {
    /// What `wait(token)` returns now, `None` while it blocks. Two resets
    /// since the arrival make the answer `Broken` whatever happened (the
    /// documented cautious answer).
    fn wait(&self, t: &Token) -> Option<Result<(), BarrierError>> {
        match t.fate {
            Fate::Pending => None,
            _ if self.resets - t.resets >= 2 => Some(Err(BarrierError::Broken)),
            Fate::Completed => Some(Ok(())),
            Fate::Broken => Some(Err(BarrierError::Broken)),
        }
    }

    fn end_phase(&mut self, fate: Fate) {
        for t in &mut self.tokens {
            if t.fate == Fate::Pending {
                t.fate = fate;
            }
        }
        if fate == Fate::Completed {
            self.phase += 1;
            self.arrived = 0;
        }
    }
}

type Waiter<'s> = (ScopedJoinHandle<'s, Result<(), BarrierError>>, usize);
type Arriver<'s> = (
    ScopedJoinHandle<'s, Result<BarrierWaitResult, BarrierError>>,
    usize,
    usize,
);

fn run_schedule(parties: usize, ops: &[Op]) {
    let phaser = Phaser::new(parties);
    let mut m = Model {
        parties,
        ..Model::default()
    };
    thread::scope(|s| {
        // Threads blocked in `wait(token #k)`, and in `arrive_and_wait`
        // with their expected index.
        let mut waiters: Vec<Waiter<'_>> = Vec::new();
        let mut arrivers: Vec<Arriver<'_>> = Vec::new();
        let settle = |m: &Model, waiters: &mut Vec<Waiter<'_>>, arrivers: &mut Vec<Arriver<'_>>| {
            let (done, still): (Vec<_>, Vec<_>) = waiters
                .drain(..)
                .partition(|(_, k)| m.tokens[*k].fate != Fate::Pending);
            *waiters = still;
            for (h, k) in done {
                assert_eq!(
                    Some(h.join().unwrap()),
                    m.wait(&m.tokens[k]),
                    "waiter of token {k}"
                );
            }
            let (done, still): (Vec<_>, Vec<_>) = arrivers
                .drain(..)
                .partition(|(_, k, _)| m.tokens[*k].fate != Fate::Pending);
            *arrivers = still;
            for (h, k, index) in done {
                let got = h.join().unwrap();
                match m.tokens[k].fate {
                    Fate::Completed => assert_eq!(
                        got.map(|r| (r.index(), r.is_leader())),
                        Ok((index, false)),
                        "arrive_and_wait of token {k}"
                    ),
                    _ => assert_eq!(
                        got,
                        Err(BarrierError::Broken),
                        "arrive_and_wait of token {k}"
                    ),
                }
            }
        };
        for &op in ops {
            let stay = !matches!(op, Op::ArriveAndDrop);
            match op {
                Op::Register => {
                    if m.parties >= 6 {
                        continue;
                    }
                    let got = phaser.register();
                    if m.broken {
                        assert_eq!(got, Err(BarrierError::Broken));
                    } else {
                        assert_eq!(got, Ok(m.phase));
                        m.parties += 1;
                    }
                }
                Op::Arrive | Op::ArriveAndDrop | Op::ArriveAndWait => {
                    if m.parties == 0 {
                        continue; // Panics: tests/phaser.rs covers it.
                    }
                    let index = m.arrived;
                    let (real, handle) = if let Op::ArriveAndWait = op {
                        let h = s.spawn(|| phaser.arrive_and_wait());
                        if m.broken {
                            assert_eq!(h.join().unwrap(), Err(BarrierError::Broken));
                            continue;
                        }
                        // The arrival is made when the count moves (or the phase).
                        let phase = m.phase;
                        poll("the arrival", || {
                            phaser.arrived() > index || phaser.phase() != phase
                        });
                        (None, Some(h))
                    } else {
                        let got = if stay {
                            phaser.arrive()
                        } else {
                            phaser.arrive_and_drop()
                        };
                        if m.broken {
                            assert_eq!(got, Err(BarrierError::Broken));
                            continue;
                        }
                        (Some(got.unwrap()), None)
                    };
                    let k = m.tokens.len();
                    m.tokens.push(Token {
                        real,
                        phase: m.phase,
                        fate: Fate::Pending,
                        resets: m.resets,
                    });
                    if let Some(t) = real {
                        assert_eq!(t.phase(), m.phase, "token phase");
                    }
                    if stay {
                        m.arrived += 1;
                    } else {
                        m.parties -= 1;
                    }
                    let completes = m.arrived == m.parties;
                    if let Some(h) = handle {
                        if completes {
                            let r = h.join().unwrap().expect("the completing arrival passes");
                            assert_eq!((r.index(), r.is_leader()), (index, true));
                            m.tokens[k].fate = Fate::Completed;
                        } else {
                            arrivers.push((h, k, index));
                        }
                    }
                    if completes {
                        m.end_phase(Fate::Completed);
                    }
                }
                Op::Wait(k) | Op::Poll(k) => {
                    if m.tokens.is_empty() {
                        continue;
                    }
                    let k = k % m.tokens.len();
                    let Some(t) = m.tokens[k].real else {
                        continue; // An arrive_and_wait: it has no token to redeem.
                    };
                    assert_eq!(t.phase(), m.tokens[k].phase);
                    if let Op::Poll(_) = op {
                        let want = m.wait(&m.tokens[k]).unwrap_or(Err(BarrierError::TimedOut));
                        assert_eq!(
                            phaser.wait_timeout(t, Duration::ZERO),
                            want,
                            "poll token {k}"
                        );
                    } else {
                        let phaser = &phaser;
                        waiters.push((s.spawn(move || phaser.wait(t)), k));
                    }
                }
                Op::Abort => {
                    phaser.abort();
                    if !m.broken {
                        m.broken = true;
                        m.end_phase(Fate::Broken);
                    }
                }
                Op::Reset => {
                    phaser.reset();
                    if m.broken || m.arrived > 0 {
                        m.end_phase(Fate::Broken);
                        m.broken = false;
                        m.phase += 1;
                        m.arrived = 0;
                        m.resets += 1;
                    }
                }
            }
            settle(&m, &mut waiters, &mut arrivers);
            assert_eq!(
                (
                    phaser.phase(),
                    phaser.parties(),
                    phaser.arrived(),
                    phaser.is_broken()
                ),
                (m.phase, m.parties, m.arrived, m.broken),
                "after {op:?}"
            );
        }
        phaser.abort();
        if !m.broken {
            m.end_phase(Fate::Broken);
        }
        settle(&m, &mut waiters, &mut arrivers);
        assert!(waiters.is_empty() && arrivers.is_empty());
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 128 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn phaser_matches_the_reference_model(parties in 0usize..4, ops in prop::collection::vec(op(), 1..if cfg!(miri) { 12 } else { 32 })) {
        run_schedule(parties, &ops);
    }
}

#[test]
fn two_resets_since_an_arrival_make_its_token_report_broken() {
    // Token 0's phase completed; two resets later its wait says Broken
    // (the record keeps one reset); token 1's phase completed after the
    // first reset, one reset ago: Ok.
    run_schedule(
        1,
        &[
            Op::Arrive,
            Op::Abort,
            Op::Reset,
            Op::Arrive,
            Op::Abort,
            Op::Reset,
            Op::Wait(0),
            Op::Poll(0),
            Op::Poll(1),
        ],
    );
}
