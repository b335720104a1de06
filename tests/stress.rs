//! Long randomized runs. `#[ignore]`d: run them with
//! `cargo test --release --test stress -- --ignored`; scale the length with
//! `RALLYPOINT_STRESS_SCALE` (1.0 = full length; `.ci/run` uses a short form).
#![cfg(not(loom))] // Loom runs loom-tests/ only.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

mod common;

use rallypoint::{Barrier, BarrierError, Timer};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn scaled(full: u64) -> u64 {
    let scale: f64 = std::env::var("RALLYPOINT_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((full as f64 * scale) as u64).max(10)
}

/// A tiny xorshift PRNG, seeded per thread, so failures print a seed.
struct Rng(u64);
impl Rng {
    /// Any seed, 0 included (xorshift's state must never be 0).
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform enough in `0..n` for choosing test parameters.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    let s = std::env::var("RALLYPOINT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("RALLYPOINT_SEED={s}");
    s
}

#[test]
#[ignore = "long: run with --ignored"]
fn eight_threads_many_generations_unique_indices() {
    const T: usize = 8;
    let generations = scaled(100_000);
    let barrier = Barrier::new(T);
    // slots[g % 3]: bit i set by the party with index i in generation g. The
    // leader of g + 1 checks g's slot; g + 3 reuses it only after that.
    let slots: [AtomicU64; 3] = Default::default();
    thread::scope(|s| {
        for _ in 0..T {
            s.spawn(|| {
                for g in 0..generations {
                    let r = barrier.wait().unwrap();
                    let before =
                        slots[(g % 3) as usize].fetch_or(1 << r.index(), Ordering::Relaxed);
                    assert_eq!(
                        before & (1 << r.index()),
                        0,
                        "index {} twice in generation {g}",
                        r.index()
                    );
                    if r.is_leader() && g > 0 {
                        let prev = &slots[((g - 1) % 3) as usize];
                        assert_eq!(
                            prev.swap(0, Ordering::Relaxed),
                            (1 << T) - 1,
                            "generation {} incomplete",
                            g - 1
                        );
                    }
                }
            });
        }
    });
}

// ---------------------------------------------------------------- the soak

/// Every panic the soak provokes carries this payload; anything else fails.
const DELIBERATE: &str = "soak: deliberate panic";

/// A waiter that makes no progress for this long is a lost wake-up or a
/// deadlock: the watchdog ends the process, printing the seed.
const STALL: Duration = Duration::from_secs(60);

/// How long the soak runs: `RALLYPOINT_SOAK_SECS`, else 180 s scaled by
/// `RALLYPOINT_STRESS_SCALE`.
fn soak_length() -> Duration {
    if let Some(secs) = std::env::var("RALLYPOINT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        return Duration::from_secs_f64(secs.max(0.1));
    }
    Duration::from_millis(scaled(180_000))
}

/// A panic hook that stays quiet for the soak's own panics.
fn silence_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&DELIBERATE) {
                default(info);
            }
        }));
    });
}

fn assert_deliberate(payload: &(dyn std::any::Any + Send), what: &dyn std::fmt::Display) {
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&DELIBERATE),
        "{what}: an unexpected panic"
    );
}

/// Ends the process if one of the soak's activities (barrier episodes,
/// timer rounds) makes no progress for [`STALL`]: a thread parked forever
/// cannot be unwound, so a hang must not stay silent until CI's time limit.
/// Each activity has its own counter, so one cannot mask the other's hang.
struct Watchdog {
    progress: [AtomicU64; 2],
    done: AtomicBool,
    doing: [Mutex<String>; 2],
}

/// A lane's counter once its activity has ended.
const FINISHED: u64 = u64::MAX;

/// The soak's activities, as [`Watchdog`] lanes.
const BARRIERS: usize = 0;
const TIMERS: usize = 1;

impl Watchdog {
    fn start() -> Arc<Self> {
        let dog = Arc::new(Self {
            progress: Default::default(),
            done: AtomicBool::new(false),
            doing: Default::default(),
        });
        let watch = Arc::clone(&dog);
        thread::spawn(move || {
            let mut last = [(0, Instant::now()); 2];
            while !watch.done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(200));
                for (lane, (count, since)) in last.iter_mut().enumerate() {
                    let now = watch.progress[lane].load(Ordering::Relaxed);
                    if now == FINISHED {
                        continue;
                    } else if now != *count {
                        (*count, *since) = (now, Instant::now());
                    } else if since.elapsed() > STALL {
                        let what = ["barrier episodes", "timer rounds"][lane];
                        eprintln!(
                            "soak: {what} made no progress for {STALL:?} (a lost wake-up or a deadlock); last: {}",
                            watch.doing[lane].lock().unwrap()
                        );
                        std::process::exit(1);
                    }
                }
            }
        });
        dog
    }
    fn tick(&self, lane: usize) {
        self.progress[lane].fetch_add(1, Ordering::Relaxed);
    }
    fn finish(&self, lane: usize) {
        self.progress[lane].store(FINISHED, Ordering::Relaxed);
    }
    fn doing(&self, lane: usize, what: String) {
        *self.doing[lane].lock().unwrap() = what;
    }
}

/// One barrier episode's parameters, derived from its seed: printed with
/// every failure, so `RALLYPOINT_SEED` replays the same episodes.
#[derive(Debug, Clone, Copy)]
struct Episode {
    seed: u64,
    threads: usize,
    parties: usize,
    rounds: usize,
    /// Every thread a party, no faults: every wait must pass.
    calm: bool,
    /// Per-mille chances, per round, of each fault (0 when calm).
    abort: u64,
    reset: u64,
    zero_timeout: u64,
    short_timeout: u64,
    action_panic: u64,
    /// The barrier's default timeout, used by plain `wait()` calls.
    default_timeout: Option<Duration>,
}

impl Episode {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let threads = 2 + rng.below(31) as usize; // 2..=32
        let rounds = 20 + rng.below(3_000 / threads as u64) as usize;
        if rng.below(3) == 0 {
            // Calm: every thread is a party, every wait must pass. Untimed
            // (or never-expiring) waits, so a lost wake-up is a hang.
            let default_timeout = (rng.below(2) == 0).then_some(Duration::from_secs(3_600));
            return Self {
                seed,
                threads,
                parties: threads,
                rounds,
                calm: true,
                abort: 0,
                reset: 0,
                zero_timeout: 0,
                short_timeout: 0,
                action_panic: 0,
                default_timeout,
            };
        }
        let parties = if rng.below(2) == 0 {
            threads
        } else {
            1 + rng.below(threads as u64) as usize
        };
        Self {
            seed,
            threads,
            parties,
            rounds,
            calm: false,
            abort: rng.below(20),
            reset: rng.below(30),
            zero_timeout: rng.below(30),
            short_timeout: rng.below(300),
            action_panic: rng.below(30),
            default_timeout: (rng.below(3) == 0)
                .then(|| Duration::from_micros(50 + rng.below(5_000))),
        }
    }

    /// The parameters, and how to replay just this episode.
    fn describe(&self) -> String {
        format!(
            "{self:?} (replay: RALLYPOINT_EPISODE={} cargo test --release --test stress soak -- --ignored)",
            self.seed
        )
    }
}

/// What one thread saw in an episode.
#[derive(Default)]
struct Seen {
    /// (completed generations read right after returning, index) per `Ok`.
    oks: Vec<(usize, usize)>,
    broken: usize,
    timed_out: usize,
    panicked: usize,
}

/// Runs one barrier episode and checks every invariant it can observe.
fn barrier_episode(e: Episode, dog: &Watchdog) -> usize {
    let completed = AtomicUsize::new(0);
    let panic_next = AtomicBool::new(false);
    let panics = AtomicUsize::new(0);
    let barrier = Barrier::with_action(e.parties, || {
        if panic_next.swap(false, Ordering::Relaxed) {
            panics.fetch_add(1, Ordering::Relaxed);
            panic::panic_any(DELIBERATE);
        }
        completed.fetch_add(1, Ordering::Relaxed);
    });
    let barrier = match e.default_timeout {
        Some(t) => barrier.with_timeout(t),
        None => barrier,
    };
    let finished = AtomicUsize::new(0);
    let seen: Vec<Seen> = thread::scope(|s| {
        let workers: Vec<_> = (0..e.threads)
            .map(|t| {
                let (barrier, completed, panic_next, finished) =
                    (&barrier, &completed, &panic_next, &finished);
                s.spawn(move || {
                    let mut rng =
                        Rng::new(e.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let mut seen = Seen::default();
                    for _ in 0..e.rounds {
                        let mut op = rng.below(1_000);
                        if op < e.abort {
                            barrier.abort();
                            continue;
                        }
                        op -= e.abort;
                        if op < e.reset {
                            barrier.reset();
                            continue;
                        }
                        op -= e.reset;
                        if rng.below(1_000) < e.action_panic {
                            panic_next.store(true, Ordering::Relaxed);
                        }
                        let timeout = if op < e.zero_timeout {
                            Some(Duration::ZERO)
                        } else if op - e.zero_timeout < e.short_timeout {
                            Some(Duration::from_micros(20 + rng.below(2_000)))
                        } else {
                            match rng.below(3) {
                                0 => Some(Duration::MAX),
                                _ => None, // `wait()`: the default timeout, if any.
                            }
                        };
                        let result = panic::catch_unwind(AssertUnwindSafe(|| match timeout {
                            Some(t) => barrier.wait_timeout(t),
                            None => barrier.wait(),
                        }));
                        match result {
                            Ok(Ok(r)) => seen
                                .oks
                                .push((completed.load(Ordering::Relaxed), r.index())),
                            Ok(Err(BarrierError::Broken)) => {
                                seen.broken += 1;
                                if rng.below(2) == 0 {
                                    barrier.reset();
                                }
                            }
                            Ok(Err(_)) => seen.timed_out += 1,
                            Err(payload) => {
                                assert_deliberate(&*payload, &e.describe());
                                seen.panicked += 1;
                            }
                        }
                        dog.tick(BARRIERS);
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                    if !e.calm {
                        // Fail whoever still waits for a partner that has
                        // finished (a calm episode has none).
                        while finished.load(Ordering::SeqCst) < e.threads {
                            barrier.abort();
                            thread::yield_now();
                        }
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let completed = completed.into_inner();
    let what = e.describe();
    // A generation ran its action to completion exactly when all its parties
    // got `Ok`, each with a distinct index: so over the episode each index
    // was returned exactly `completed` times (a mixed generation breaks it).
    let mut per_index = vec![0usize; e.parties];
    for s in &seen {
        for &(_, i) in &s.oks {
            assert!(i < e.parties, "{what}: index {i} out of range");
            per_index[i] += 1;
        }
    }
    assert!(
        per_index.iter().all(|&n| n == completed),
        "{what}: {completed} generations completed, but Oks per index were {per_index:?}"
    );
    let panicked: usize = seen.iter().map(|s| s.panicked).sum();
    assert_eq!(
        panicked,
        panics.into_inner(),
        "{what}: action panics vs leaders that saw one"
    );
    if e.parties == e.threads {
        // Nobody passes twice before everyone passed once: the completed
        // count read right after `Ok` names the generation; each has one of
        // every index.
        let mut by_generation: HashMap<usize, Vec<usize>> = HashMap::new();
        for s in &seen {
            for &(k, i) in &s.oks {
                by_generation.entry(k).or_default().push(i);
            }
        }
        for (k, mut indices) in by_generation {
            indices.sort_unstable();
            assert!(
                indices.iter().copied().eq(0..e.parties),
                "{what}: generation {k} returned indices {indices:?}"
            );
        }
    }
    if e.calm {
        for (t, s) in seen.iter().enumerate() {
            assert_eq!(
                (s.oks.len(), s.broken, s.timed_out),
                (e.rounds, 0, 0),
                "{what}: thread {t} in a calm episode"
            );
        }
        assert_eq!(completed, e.rounds, "{what}");
    }
    completed
}

/// One timer scenario, chosen by `rng`; checks that `cancel()` and `run()`
/// tell the truth and every waiter returns.
fn timer_round(rng: &mut Rng, what: &str) {
    let interval = Duration::from_nanos(rng.below(300_000));
    match rng.below(3) {
        // One runner, one canceller aimed at a random distance (up to
        // 100 µs either way) from the deadline.
        0 => {
            let aim = interval.as_nanos() as i64 + rng.below(200_000) as i64 - 100_000;
            common::race_cancel_at(interval, aim, what);
        }
        // `start()`, a cancel after a random sleep, join; sometimes the
        // function panics.
        #[cfg(feature = "std")]
        1 => {
            let ran = Arc::new(AtomicBool::new(false));
            let panics = rng.below(5) == 0;
            let ran2 = Arc::clone(&ran);
            let handle = Timer::new(interval, move || {
                ran2.store(true, Ordering::SeqCst);
                if panics {
                    panic::panic_any(DELIBERATE);
                }
            })
            .start();
            thread::sleep(Duration::from_nanos(rng.below(400_000)));
            let cancelled = handle.cancel();
            let joined = handle.join();
            let ran = ran.load(Ordering::SeqCst);
            assert_ne!(
                cancelled, ran,
                "{what}: cancel() = {cancelled}, fired = {ran}"
            );
            match joined {
                Err(payload) => {
                    assert!(ran && panics, "{what}: join failed, fired = {ran}");
                    assert_deliberate(&*payload, &what);
                }
                Ok(()) => assert!(!(ran && panics), "{what}: the panic was lost"),
            }
        }
        // Several runners, waiters and a canceller on one timer.
        _ => {
            let fired = AtomicUsize::new(0);
            let timer = Timer::new(interval, || {
                fired.fetch_add(1, Ordering::SeqCst);
            });
            let (runners, waiters) = (1 + rng.below(3), 1 + rng.below(3));
            let spins = rng.below(20_000);
            let (won, cancelled) = thread::scope(|s| {
                let runs: Vec<_> = (0..runners).map(|_| s.spawn(|| timer.run())).collect();
                let waits: Vec<_> = (0..waiters).map(|_| s.spawn(|| timer.wait())).collect();
                for _ in 0..spins {
                    std::hint::spin_loop();
                }
                let cancelled = timer.cancel();
                waits.into_iter().for_each(|w| w.join().unwrap());
                let won = runs
                    .into_iter()
                    .map(|r| r.join().unwrap())
                    .filter(|&won| won)
                    .count();
                (won, cancelled)
            });
            let fired = fired.load(Ordering::SeqCst);
            assert!(
                won <= 1 && fired == won,
                "{what}: {won} runs won, fired {fired}×"
            );
            assert_ne!(
                cancelled,
                fired == 1,
                "{what}: cancel() = {cancelled}, fired {fired}×"
            );
            assert!(
                timer.is_finished(),
                "{what}: waiters returned before the end"
            );
        }
    }
}

/// The soak: barrier episodes of 2-32 threads (calm, or mixing timeouts,
/// aborts, resets and action panics) while timers fire and get cancelled
/// beside them, for `soak_length()`. Fails with the seed on any violated
/// invariant; a watchdog ends the process (with the seed) on a hang.
#[test]
#[ignore = "long: run with --ignored (scripts/soak for minutes-long runs)"]
fn soak_barriers_and_timers() {
    silence_deliberate_panics();
    let seed = seed();
    let length = soak_length();
    let dog = Watchdog::start();
    let start = Instant::now();
    let timers_done = AtomicUsize::new(0);
    let (episodes, generations) = thread::scope(|s| {
        s.spawn(|| {
            let mut rng = Rng::new(seed.rotate_left(17));
            while start.elapsed() < length {
                let n = timers_done.load(Ordering::Relaxed);
                let what = format!("RALLYPOINT_SEED={seed}, timer round {n}");
                dog.doing(TIMERS, what.clone());
                timer_round(&mut rng, &what);
                timers_done.fetch_add(1, Ordering::Relaxed);
                dog.tick(TIMERS);
            }
            dog.finish(TIMERS);
        });
        let mut rng = Rng::new(seed);
        // RALLYPOINT_EPISODE: run one failing episode's parameters again
        // and again (the interleavings differ each time).
        let replay = std::env::var("RALLYPOINT_EPISODE")
            .ok()
            .and_then(|s| s.parse().ok());
        let (mut episodes, mut generations) = (0, 0);
        while start.elapsed() < length {
            let e = Episode::new(replay.unwrap_or_else(|| rng.next()));
            dog.doing(
                BARRIERS,
                format!(
                    "RALLYPOINT_SEED={seed}, episode {episodes}: {}",
                    e.describe()
                ),
            );
            generations += barrier_episode(e, &dog);
            episodes += 1;
        }
        (episodes, generations)
    });
    dog.done.store(true, Ordering::Relaxed);
    println!(
        "soak {length:?}: {episodes} barrier episodes, {generations} generations, {} timer rounds",
        timers_done.into_inner()
    );
}

// ---------------------------------------------------------------- phaser soak

/// One phaser episode: `threads` workers, each a party at the start, run
/// `rounds` steps of blocking arrivals, split arrive/wait (some with a
/// token `wait_timeout` that must change nothing), leave and re-register;
/// unless calm, with breaking timeouts, aborts, resets and action panics.
/// Checks: every call of a calm episode passes and the action runs once per
/// phase before any waiter returns; in every episode an `Ok` wait means its
/// phase moved on, errors are only the documented ones, nobody hangs.
fn phaser_episode(e: Episode, dog: &Watchdog) -> usize {
    use rallypoint::Phaser;
    let completed = AtomicUsize::new(0);
    let panic_next = AtomicBool::new(false);
    let phaser = Phaser::with_action(e.threads, || {
        if panic_next.swap(false, Ordering::Relaxed) {
            panic::panic_any(DELIBERATE);
        }
        completed.fetch_add(1, Ordering::Relaxed);
    });
    let finished = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..e.threads {
            let (phaser, completed, panic_next, finished) =
                (&phaser, &completed, &panic_next, &finished);
            s.spawn(move || {
                let what = e.describe();
                let mut rng = Rng::new(e.seed ^ (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
                let mut registered = true;
                for _ in 0..e.rounds {
                    dog.tick(BARRIERS);
                    let op = rng.below(1_000);
                    if !e.calm && op < e.abort {
                        phaser.abort();
                        continue;
                    }
                    if !e.calm && op < e.abort + e.reset {
                        phaser.reset();
                        continue;
                    }
                    if !e.calm && rng.below(1_000) < e.action_panic {
                        panic_next.store(true, Ordering::Relaxed);
                    }
                    if !registered {
                        match phaser.register() {
                            Ok(_) => registered = true,
                            Err(BarrierError::Broken) => {
                                assert!(!e.calm, "{what}: register failed in a calm episode");
                                phaser.reset();
                            }
                            Err(other) => panic!("{what}: register returned {other:?}"),
                        }
                        continue;
                    }
                    let result = panic::catch_unwind(AssertUnwindSafe(|| match rng.below(4) {
                        0 => {
                            let timeout = if e.calm || rng.below(2) == 0 {
                                Duration::from_secs(3_600)
                            } else {
                                Duration::from_micros(20 + rng.below(2_000))
                            };
                            phaser.arrive_and_wait_timeout(timeout).map(|_| None)
                        }
                        1 => {
                            // Leave; come back on a later step. (If the
                            // action panics, the drop has happened.)
                            registered = false;
                            let token = phaser
                                .arrive_and_drop()
                                .inspect_err(|_| registered = true)?;
                            phaser.wait(token).map(|()| Some(token))
                        }
                        _ => {
                            let token = phaser.arrive()?;
                            loop {
                                // A token's timeout changes nothing: retry.
                                match phaser
                                    .wait_timeout(token, Duration::from_micros(rng.below(500)))
                                {
                                    Err(BarrierError::TimedOut) => continue,
                                    other => break other.map(|()| Some(token)),
                                }
                            }
                        }
                    }));
                    match result {
                        Ok(Ok(token)) => {
                            if let Some(token) = token {
                                assert_ne!(
                                    phaser.phase(),
                                    token.phase(),
                                    "{what}: Ok before the phase moved on"
                                );
                            }
                            if e.calm {
                                assert!(
                                    completed.load(Ordering::Relaxed) >= 1,
                                    "{what}: Ok before any action"
                                );
                            }
                        }
                        Ok(Err(err)) => {
                            assert!(!e.calm, "{what}: {err:?} in a calm episode");
                            if rng.below(2) == 0 {
                                phaser.reset();
                            }
                        }
                        Err(payload) => {
                            assert!(!e.calm, "{what}: a panic in a calm episode");
                            assert_deliberate(&*payload, &what);
                        }
                    }
                }
                finished.fetch_add(1, Ordering::SeqCst);
                if registered {
                    // Leave for good, so the others' phases can complete.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| phaser.arrive_and_drop()));
                }
                if !e.calm {
                    while finished.load(Ordering::SeqCst) < e.threads {
                        phaser.abort();
                        thread::yield_now();
                    }
                }
            });
        }
    });
    let (phase, parties) = (phaser.phase() as usize, phaser.parties());
    let completed = completed.into_inner();
    if e.calm {
        // No resets, no breaks: every phase number was a completed phase.
        assert_eq!((completed, parties), (phase, 0), "{}", e.describe());
    }
    completed
}

/// The phaser soak: random phaser episodes (calm, or with faults) for a
/// third of `soak_length()`. Fails with the seed on any violated
/// invariant; the watchdog ends the process on a hang.
#[test]
#[ignore = "long: run with --ignored (scripts/soak for minutes-long runs)"]
fn soak_phasers() {
    silence_deliberate_panics();
    let seed = seed();
    let length = soak_length() / 3;
    let dog = Watchdog::start();
    dog.finish(TIMERS);
    let start = Instant::now();
    let mut rng = Rng::new(seed.rotate_left(29));
    let replay = std::env::var("RALLYPOINT_EPISODE")
        .ok()
        .and_then(|s| s.parse().ok());
    let (mut episodes, mut phases) = (0, 0);
    while start.elapsed() < length {
        let mut e = Episode::new(replay.unwrap_or_else(|| rng.next()));
        e.threads = 2 + e.threads % 7; // 2..=8: every thread is a party
        e.rounds = e.rounds.min(600);
        dog.doing(
            BARRIERS,
            format!(
                "RALLYPOINT_SEED={seed}, phaser episode {episodes}: {}",
                e.describe()
            ),
        );
        phases += phaser_episode(e, &dog);
        episodes += 1;
    }
    dog.done.store(true, Ordering::Relaxed);
    println!("phaser soak {length:?}: {episodes} episodes, {phases} completed phases");
}

/// The TimerQueue soak: three threads schedule batches of one-shot and
/// repeating timers (some of whose functions panic) on one driven queue,
/// then cancel them at random distances from their deadlines, or let them
/// fire. Checks `cancel()` ⇔ not run, one run per fired one-shot, no run
/// after a repeating timer's cancel, panics reported by `join`, every
/// waiter returning (a bounded wait: a lost wake fails, not hangs), and
/// `len()` back to zero.
#[cfg(feature = "std")]
#[test]
#[ignore = "long: run with --ignored"]
fn soak_timer_queue() {
    silence_deliberate_panics();
    let seed = seed();
    let length = soak_length();
    let queue = rallypoint::TimerQueue::new();
    let timers = AtomicUsize::new(0);
    thread::scope(|s| {
        let driver = s.spawn(|| queue.run());
        let workers: Vec<_> = (0..3u64)
            .map(|t| {
                let (queue, timers) = (&queue, &timers);
                s.spawn(move || {
                    let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let start = Instant::now();
                    while start.elapsed() < length {
                        let what = format!("RALLYPOINT_SEED={seed}, queue worker {t}");
                        let batch: Vec<_> = (0..1 + rng.below(64))
                            .map(|_| {
                                let ran = Arc::new(AtomicUsize::new(0));
                                let r = Arc::clone(&ran);
                                let panics = rng.below(16) == 0;
                                let repeating = rng.below(6) == 0;
                                let delay = Duration::from_nanos(rng.below(2_000_000));
                                let f = move || {
                                    r.fetch_add(1, Ordering::SeqCst);
                                    if panics {
                                        panic::panic_any(DELIBERATE);
                                    }
                                };
                                let timer = if repeating {
                                    queue
                                        .schedule_repeating(delay.max(Duration::from_micros(50)), f)
                                } else {
                                    queue.schedule(delay, f)
                                };
                                (timer, ran, panics, repeating, rng.below(3) == 0)
                            })
                            .collect();
                        thread::sleep(Duration::from_nanos(rng.below(1_500_000)));
                        for (timer, ran, panics, repeating, let_fire) in batch {
                            let cancelled = if let_fire && !repeating {
                                None
                            } else {
                                Some(timer.cancel())
                            };
                            assert!(timer.wait_timeout(STALL), "{what}: a waiter never returned");
                            let runs = ran.load(Ordering::SeqCst);
                            assert_eq!(timer.runs(), runs as u64, "{what}: runs()");
                            match (repeating, cancelled) {
                                (false, None) => assert_eq!(runs, 1, "{what}: fired {runs}×"),
                                (false, Some(c)) => {
                                    assert_ne!(c, runs == 1, "{what}: cancel() = {c}, ran {runs}×")
                                }
                                (true, Some(true)) => {
                                    thread::sleep(Duration::from_micros(200));
                                    assert_eq!(
                                        ran.load(Ordering::SeqCst),
                                        runs,
                                        "{what}: ran after cancel"
                                    );
                                    // A run in progress at the cancel completes; if it
                                    // panics the timer ends `Fired` (API item 5).
                                    let end = timer.state();
                                    assert!(
                                        end == rallypoint::TimerState::Cancelled
                                            || (panics && end == rallypoint::TimerState::Fired),
                                        "{what}: stopped repeating timer ended {end:?}"
                                    );
                                }
                                (true, _) => assert!(
                                    panics && runs >= 1,
                                    "{what}: a repeating timer could not be stopped"
                                ),
                            }
                            match timer.join() {
                                Err(payload) => {
                                    assert!(
                                        panics && runs >= 1,
                                        "{what}: join failed without a panic"
                                    );
                                    assert_deliberate(&*payload, &what);
                                }
                                Ok(()) => {
                                    assert!(!(panics && runs >= 1), "{what}: the panic was lost")
                                }
                            }
                            timers.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(queue.len(), 0, "len() after every timer finished");
        queue.shutdown();
        driver.join().unwrap();
    });
    println!("queue soak {length:?}: {} timers", timers.into_inner());
}
