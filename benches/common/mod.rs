//! The contenders and the measuring harness, shared by `benches/*.rs` and
//! `examples/compare/main.rs` (`#[path]`-included), so every number in both comes
//! from the same code.
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Process CPU time (all threads), for "CPU per round".
pub fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: (bench) valid out-pointer; the clock exists on every unix.
        #[allow(unsafe_code)]
        let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        assert_eq!(r, 0);
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    #[cfg(not(unix))]
    {
        Duration::ZERO
    }
}

/// A Mutex + Condvar barrier shaped like CPython's `threading.Barrier`
/// (lock, condition, count, generation). Also the seed's own design.
pub struct CondvarBarrier {
    parties: usize,
    state: Mutex<(usize, u64)>, // (count, generation)
    cond: Condvar,
}

impl CondvarBarrier {
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            state: Mutex::new((0, 0)),
            cond: Condvar::new(),
        }
    }
    /// Returns whether this caller was the last to arrive.
    pub fn wait(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        let gen = s.1;
        s.0 += 1;
        if s.0 == self.parties {
            s.0 = 0;
            s.1 += 1;
            self.cond.notify_all();
            return true;
        }
        while s.1 == gen {
            s = self.cond.wait(s).unwrap();
        }
        false
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierKind {
    Rallypoint,
    Std,
    Hurdles,
    Spin,
    Condvar,
}

impl BarrierKind {
    pub const ALL: [BarrierKind; 5] = [
        Self::Rallypoint,
        Self::Std,
        Self::Hurdles,
        Self::Spin,
        Self::Condvar,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Rallypoint => "rallypoint::Barrier",
            Self::Std => "std::sync::Barrier",
            Self::Hurdles => "hurdles::Barrier (spin)",
            Self::Spin => "spin::Barrier (spin)",
            Self::Condvar => "Mutex+Condvar (CPython-shaped)",
        }
    }

    /// Pure spinners: with more threads than cores they can take seconds
    /// per thousand rounds, so runs of them are capped harder.
    pub fn spins_forever(self) -> bool {
        matches!(self, Self::Hurdles | Self::Spin)
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    pub rounds: u64,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Measurement {
    pub fn rounds_per_sec(&self) -> f64 {
        self.rounds as f64 / self.wall.as_secs_f64()
    }
    pub fn wall_per_round(&self) -> Duration {
        self.wall.div_f64(self.rounds.max(1) as f64)
    }
    pub fn cpu_per_round(&self) -> Duration {
        self.cpu.div_f64(self.rounds.max(1) as f64)
    }
}

/// Runs `threads` threads through barrier rounds until `budget` has passed
/// or `max_rounds` were done, whichever first. `make` builds one thread's
/// wait function (returning "was leader").
///
/// Stopping needs care: every thread must do the same number of rounds. The
/// leader of an odd round decides; everyone reads the decision after the
/// following round, which the leader only enters after writing it.
pub fn drive<W>(
    threads: usize,
    budget: Duration,
    max_rounds: u64,
    make: impl Fn() -> W,
) -> Measurement
where
    W: FnMut() -> bool + Send,
{
    let stop = AtomicBool::new(false);
    let start_line = std::sync::Barrier::new(threads);
    let result = Mutex::new((0u64, Duration::ZERO));
    let cpu0 = cpu_time();
    thread::scope(|s| {
        for t in 0..threads {
            let mut wait = make();
            let (stop, start_line, result) = (&stop, &start_line, &result);
            s.spawn(move || {
                start_line.wait();
                let t0 = Instant::now();
                let mut done = 0u64;
                loop {
                    if wait() && (t0.elapsed() >= budget || done + 2 >= max_rounds) {
                        stop.store(true, Ordering::Release);
                    }
                    wait();
                    done += 2;
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                }
                if t == 0 {
                    *result.lock().unwrap() = (done, t0.elapsed());
                }
            });
        }
    });
    let (rounds, wall) = *result.lock().unwrap();
    Measurement {
        rounds,
        wall,
        cpu: cpu_time() - cpu0,
    }
}

/// One contender at one thread count.
pub fn run_barrier(
    kind: BarrierKind,
    threads: usize,
    budget: Duration,
    max_rounds: u64,
) -> Measurement {
    match kind {
        BarrierKind::Rallypoint => {
            let b = Arc::new(rallypoint::Barrier::new(threads));
            drive(threads, budget, max_rounds, || {
                let b = Arc::clone(&b);
                move || b.wait().unwrap().is_leader()
            })
        }
        BarrierKind::Std => {
            let b = Arc::new(std::sync::Barrier::new(threads));
            drive(threads, budget, max_rounds, || {
                let b = Arc::clone(&b);
                move || b.wait().is_leader()
            })
        }
        BarrierKind::Hurdles => {
            let b = Mutex::new(hurdles::Barrier::new(threads));
            drive(threads, budget, max_rounds, || {
                let mut mine = b.lock().unwrap().clone();
                move || mine.wait().is_leader()
            })
        }
        BarrierKind::Spin => {
            let b = Arc::new(spin::Barrier::new(threads));
            drive(threads, budget, max_rounds, || {
                let b = Arc::clone(&b);
                move || b.wait().is_leader()
            })
        }
        BarrierKind::Condvar => {
            let b = Arc::new(CondvarBarrier::new(threads));
            drive(threads, budget, max_rounds, || {
                let b = Arc::clone(&b);
                move || b.wait()
            })
        }
    }
}

/// The ping-pong word, alone on its cache lines (128 bytes: adjacent-line
/// prefetchers move 64-byte lines in pairs), so that nothing else either
/// thread writes shares them.
#[repr(align(128))]
struct Padded(AtomicU64);

/// What [`ping_pong`] measured.
#[derive(Debug, Clone, Copy)]
pub struct PingPong {
    /// The whole run; one "round" is one one-way hand-off (half an exchange).
    pub run: Measurement,
    /// Time per hand-off in the run's fastest chunk of [`PING_PONG_CHUNK`]
    /// exchanges: the floor (see [`ping_pong`]).
    pub best: Duration,
}

/// Exchanges per timed chunk of [`ping_pong`]: microseconds, far above the
/// clock's resolution and its cost, and short enough that on a busy machine
/// some chunks still run with both threads on a core throughout.
pub const PING_PONG_CHUNK: u64 = 64;

/// One turn of a [`ping_pong`] spinner that has waited `idle` turns: a
/// spin, or every 1024th turn a yield, so that a partner the scheduler put
/// on the same core gets it (microseconds of spinning first: a hand-off
/// takes tens of nanoseconds, so the chunks that count never yield).
fn spin_or_yield(idle: u32) -> u32 {
    if idle % 1024 == 1023 {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
    idle.wrapping_add(1)
}

/// Two threads bouncing one atomic word: A writes odd values, B answers
/// with the next even one. Each write, seen by the other core, is one
/// one-way hand-off of the cache line.
///
/// That is the floor under a 2-thread barrier round. Each thread must learn
/// that the other arrived: A leaves round r at least one hand-off after B
/// arrived at r, and B arrived there only after leaving round r-1, itself at
/// least one hand-off after A arrived at r-1. So two rounds take at least
/// two hand-offs, and a round at least one (a barrier can overlap the two
/// directions; a ping-pong cannot, so it counts two per exchange). The
/// whole run's time per hand-off adds whatever the scheduler took from
/// either spinner; noise only ever adds time, so the fastest chunk
/// (`best`) is the floor with the least noise in it. Spinning (yielding
/// only after microseconds): the whole run is only meaningful with 2 free
/// cores; `best` also on a busy machine, as long as some chunk ran with
/// both threads on a core.
pub fn ping_pong(budget: Duration, max_hand_offs: u64) -> PingPong {
    const STOP: u64 = u64::MAX;
    let word = Padded(AtomicU64::new(0));
    let ready = AtomicBool::new(false);
    let cpu0 = cpu_time();
    let mut t0 = Instant::now();
    let mut best = Duration::MAX;
    let exchanges = thread::scope(|s| {
        s.spawn(|| {
            // Once, before the loop: a store in the loop would pull a line
            // away from the other core on every turn.
            ready.store(true, Ordering::Release);
            let mut idle = 0u32;
            loop {
                let v = word.0.load(Ordering::Acquire);
                if v == STOP {
                    break;
                }
                if v % 2 == 1 {
                    word.0.store(v + 1, Ordering::Release);
                    idle = 0;
                } else {
                    idle = spin_or_yield(idle);
                }
            }
        });
        while !ready.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        t0 = Instant::now(); // the partner runs: start timing
        let mut chunk_start = t0;
        let mut v = 0u64;
        loop {
            word.0.store(v + 1, Ordering::Release);
            let mut idle = 0u32;
            while word.0.load(Ordering::Acquire) != v + 2 {
                idle = spin_or_yield(idle);
            }
            v += 2;
            let exchanges = v / 2;
            if exchanges % PING_PONG_CHUNK == 0 {
                let now = Instant::now();
                best = best.min(now - chunk_start);
                chunk_start = now;
                if now - t0 >= budget || 2 * exchanges >= max_hand_offs {
                    word.0.store(STOP, Ordering::Release);
                    break exchanges;
                }
            }
        }
    });
    PingPong {
        run: Measurement {
            rounds: 2 * exchanges,
            wall: t0.elapsed(),
            cpu: cpu_time() - cpu0,
        },
        best: best / (2 * PING_PONG_CHUNK) as u32,
    }
}

// ------------------------------------------------------------------ timers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Rallypoint,
    Condvar,
    Sleep,
}

impl TimerKind {
    pub const ALL: [TimerKind; 3] = [Self::Rallypoint, Self::Condvar, Self::Sleep];
    pub fn name(self) -> &'static str {
        match self {
            Self::Rallypoint => "rallypoint::Timer::start",
            Self::Condvar => "Condvar::wait_timeout thread (Python's Event)",
            Self::Sleep => "thread::sleep thread",
        }
    }
}

/// A started timer of any kind: cancel it, join it.
pub struct AnyTimer {
    cancel: Box<dyn FnOnce() -> bool + Send>,
    join: Box<dyn FnOnce() + Send>,
}

impl AnyTimer {
    pub fn cancel_and_join(self) {
        (self.cancel)();
        (self.join)();
    }
    pub fn join(self) {
        (self.join)();
    }
}

/// Starts a timer of `kind` that runs `f` after `interval`.
pub fn start_timer(
    kind: TimerKind,
    interval: Duration,
    f: impl FnOnce() + Send + 'static,
) -> AnyTimer {
    match kind {
        TimerKind::Rallypoint => {
            let h = Arc::new(Mutex::new(Some(
                rallypoint::Timer::new(interval, f).start(),
            )));
            let h2 = Arc::clone(&h);
            AnyTimer {
                cancel: Box::new(move || h.lock().unwrap().as_ref().unwrap().cancel()),
                join: Box::new(move || h2.lock().unwrap().take().unwrap().join().unwrap()),
            }
        }
        TimerKind::Condvar => {
            // Python's Timer: Event.wait(interval) = Condvar::wait_timeout on a flag.
            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let p = Arc::clone(&pair);
            let deadline = Instant::now() + interval;
            let t = thread::spawn(move || {
                let (lock, cv) = &*p;
                let mut cancelled = lock.lock().unwrap();
                while !*cancelled {
                    let now = Instant::now();
                    if now >= deadline {
                        drop(cancelled);
                        f();
                        return;
                    }
                    cancelled = cv.wait_timeout(cancelled, deadline - now).unwrap().0;
                }
            });
            AnyTimer {
                cancel: Box::new(move || {
                    *pair.0.lock().unwrap() = true;
                    pair.1.notify_all();
                    true
                }),
                join: Box::new(move || t.join().unwrap()),
            }
        }
        TimerKind::Sleep => {
            let cancelled = Arc::new(AtomicBool::new(false));
            let c = Arc::clone(&cancelled);
            let t = thread::spawn(move || {
                thread::sleep(interval);
                if !c.load(Ordering::Acquire) {
                    f();
                }
            });
            AnyTimer {
                cancel: Box::new(move || {
                    cancelled.store(true, Ordering::Release);
                    true
                }),
                join: Box::new(move || t.join().unwrap()),
            }
        }
    }
}

/// Firing lateness: (time the function ran) - (start + interval), per sample.
pub fn lateness(kind: TimerKind, interval: Duration, samples: usize) -> Vec<Duration> {
    (0..samples)
        .map(|_| {
            let fired = Arc::new(Mutex::new(None));
            let f = Arc::clone(&fired);
            let start = Instant::now();
            start_timer(kind, interval, move || {
                *f.lock().unwrap() = Some(Instant::now())
            })
            .join();
            let at = fired.lock().unwrap().expect("timer fired");
            at.saturating_duration_since(start + interval)
        })
        .collect()
}

/// Cancel-to-joined latency of a long timer that has already parked.
pub fn cancel_to_joined(kind: TimerKind, interval: Duration, samples: usize) -> Vec<Duration> {
    (0..samples)
        .map(|_| {
            let t = start_timer(kind, interval, || {});
            thread::sleep(Duration::from_millis(1)); // let it park
            let t0 = Instant::now();
            t.cancel_and_join();
            t0.elapsed()
        })
        .collect()
}

/// The `q`-quantile (0.0..=1.0) of `v`.
pub fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}
