//! The timer-service harness shared by `examples/timers.rs`,
//! `examples/compare` (its TimerQueue race), `benches/timer_queue.rs` and
//! the tokio / scheduled-thread-pool anchors (`benches/timer-anchors/`): one
//! `Service` trait, the contenders that need no extra dependency, and the
//! measurements.
#![allow(dead_code, unreachable_pub)] // Each includer uses a subset; the anchors crate needs `pub`.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Bench code uses std.
#![allow(unsafe_code)] // The counting allocator only.

use rallypoint::{Precision, ScheduledTimer, TimerQueue};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- allocator

/// Counts live bytes of the whole process (declare it `#[global_allocator]`).
pub(crate) struct Counting;
pub(crate) static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The process's peak and current resident memory (Linux), in MiB.
pub(crate) fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

// ---------------------------------------------------------------- services

/// A timer service: schedule a one-shot, cancel it.
pub(crate) trait Service: Sync {
    type Handle: Send;
    fn name(&self) -> String;
    fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> Self::Handle;
    /// Cancels; whether the service says it won (`true` if it cannot tell).
    fn cancel(&self, handle: &Self::Handle) -> bool;
}

/// `rallypoint::TimerQueue` driven by its own thread.
pub(crate) struct Queue {
    queue: Arc<TimerQueue>,
    driver: Option<thread::JoinHandle<()>>,
    precision: Precision,
}

impl Queue {
    pub(crate) fn new(precision: Precision) -> Self {
        let queue = Arc::new(TimerQueue::new().with_precision(precision));
        let q = Arc::clone(&queue);
        let driver = Some(thread::spawn(move || q.run()));
        Self {
            queue,
            driver,
            precision,
        }
    }
    pub(crate) fn queue(&self) -> &TimerQueue {
        &self.queue
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.queue.shutdown();
        if let Some(d) = self.driver.take() {
            d.join().unwrap();
        }
    }
}

impl Service for Queue {
    type Handle = ScheduledTimer;
    fn name(&self) -> String {
        match self.precision {
            Precision::Precise => "rallypoint TimerQueue (precise)".into(),
            _ => "rallypoint TimerQueue".into(),
        }
    }
    fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> ScheduledTimer {
        self.queue.schedule(delay, f)
    }
    fn cancel(&self, handle: &ScheduledTimer) -> bool {
        handle.cancel()
    }
}

/// Java's `ScheduledThreadPoolExecutor` shape: a `Mutex<BinaryHeap>` and a
/// `Condvar` driver thread; cancel sets a flag (the entry stays in the heap
/// until due, as in `scheduled-thread-pool` and STPE's default).
pub(crate) struct Heap {
    shared: Arc<HeapShared>,
    driver: Option<thread::JoinHandle<()>>,
}

pub(crate) struct HeapShared {
    heap: Mutex<(BinaryHeap<HeapEntry>, u64, bool)>,
    cond: Condvar,
}

pub(crate) struct HeapEntry {
    due: Instant,
    seq: u64,
    cancelled: Arc<AtomicBool>,
    job: Box<dyn FnOnce() + Send>,
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq)) // min-heap
    }
}

impl Heap {
    pub(crate) fn new() -> Self {
        let shared = Arc::new(HeapShared {
            heap: Mutex::new((BinaryHeap::new(), 0, false)),
            cond: Condvar::new(),
        });
        let s = Arc::clone(&shared);
        let driver = Some(thread::spawn(move || {
            let mut guard = s.heap.lock().unwrap();
            loop {
                if guard.2 {
                    return;
                }
                let now = Instant::now();
                match guard.0.peek().map(|e| e.due) {
                    Some(due) if due <= now => {
                        let e = guard.0.pop().unwrap();
                        drop(guard);
                        if !e.cancelled.load(Ordering::Acquire) {
                            (e.job)();
                        }
                        guard = s.heap.lock().unwrap();
                    }
                    Some(due) => guard = s.cond.wait_timeout(guard, due - now).unwrap().0,
                    None => guard = s.cond.wait(guard).unwrap(),
                }
            }
        }));
        Self { shared, driver }
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        self.shared.heap.lock().unwrap().2 = true;
        self.shared.cond.notify_all();
        if let Some(d) = self.driver.take() {
            d.join().unwrap();
        }
    }
}

impl Service for Heap {
    type Handle = Arc<AtomicBool>;
    fn name(&self) -> String {
        "Mutex<BinaryHeap>+Condvar".into()
    }
    fn schedule<F: FnOnce() + Send + 'static>(&self, delay: Duration, f: F) -> Arc<AtomicBool> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let due = Instant::now() + delay.min(Duration::from_secs(1 << 32));
        let mut g = self.shared.heap.lock().unwrap();
        g.1 += 1;
        let seq = g.1;
        let earliest = g.0.peek().map_or(true, |e| due < e.due);
        g.0.push(HeapEntry {
            due,
            seq,
            cancelled: Arc::clone(&cancelled),
            job: Box::new(f),
        });
        drop(g);
        if earliest {
            self.shared.cond.notify_one();
        }
        cancelled
    }
    fn cancel(&self, handle: &Arc<AtomicBool>) -> bool {
        !handle.swap(true, Ordering::AcqRel)
    }
}

// ---------------------------------------------------------------- measurements

/// A tiny xorshift for spreading due times.
pub(crate) struct Rng(u64);
impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median ns per `schedule` and per `cancel` (batches of `batch`, timers an
/// hour or more away), with `pending` other timers already scheduled.
pub(crate) fn schedule_cancel_ns<S: Service>(
    s: &S,
    pending: usize,
    batches: usize,
    batch: usize,
) -> (f64, f64) {
    let mut rng = Rng::new(42);
    let far: Vec<_> = (0..pending)
        .map(|_| s.schedule(Duration::from_secs(3600 + rng.below(3600)), || {}))
        .collect();
    let mut sched = Vec::new();
    let mut canc = Vec::new();
    let mut handles = Vec::with_capacity(batch);
    for _ in 0..batches {
        let delays: Vec<_> = (0..batch)
            .map(|_| Duration::from_secs(3600) + Duration::from_micros(rng.below(3_600_000_000)))
            .collect();
        let t = Instant::now();
        for &d in &delays {
            handles.push(s.schedule(d, || {}));
        }
        sched.push(t.elapsed().as_nanos() as f64 / batch as f64);
        let t = Instant::now();
        for h in &handles {
            std::hint::black_box(s.cancel(h));
        }
        canc.push(t.elapsed().as_nanos() as f64 / batch as f64);
        handles.clear();
    }
    for h in &far {
        s.cancel(h);
    }
    (median(sched), median(canc))
}

/// schedule+cancel pairs per second from `threads` threads for `ms`.
pub(crate) fn pairs_per_sec<S: Service>(s: &S, threads: usize, ms: u64) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    thread::scope(|sc| {
        for t in 0..threads {
            let (stop, total) = (&stop, &total);
            sc.spawn(move || {
                let mut rng = Rng::new(7 + t as u64);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        let h = s.schedule(Duration::from_secs(3600 + rng.below(3600)), || {});
                        s.cancel(&h);
                    }
                    n += 256;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
        thread::sleep(Duration::from_millis(ms));
        stop.store(true, Ordering::Relaxed);
    });
    total.load(Ordering::Relaxed) as f64 / (ms as f64 / 1000.0)
}

/// Live bytes per pending timer (a zero-sized closure), from `LIVE`.
pub(crate) fn bytes_per_timer<S: Service>(s: &S, n: usize) -> f64 {
    let mut handles = Vec::with_capacity(n);
    let before = LIVE.load(Ordering::SeqCst);
    for i in 0..n {
        handles.push(s.schedule(Duration::from_secs(3600 + i as u64 % 3600), || {}));
    }
    let after = LIVE.load(Ordering::SeqCst);
    for h in &handles {
        s.cancel(h);
    }
    // The handles themselves are the caller's: count them out.
    let handle_bytes = std::mem::size_of::<S::Handle>() as f64;
    (after - before) as f64 / n as f64 - handle_bytes * 0.0
}

/// Lateness (fired - due) of `k` timers due evenly at random over `span`:
/// (min, p50, p99) in µs. `min < 0` would be an early fire.
pub(crate) fn lateness<S: Service>(s: &S, k: usize, span: Duration) -> (f64, f64, f64) {
    let base = Instant::now();
    let fired: Arc<Vec<AtomicU64>> = Arc::new((0..k).map(|_| AtomicU64::new(0)).collect());
    let mut rng = Rng::new(99);
    let mut dues = Vec::with_capacity(k);
    let mut handles = Vec::with_capacity(k);
    for i in 0..k {
        let delay =
            Duration::from_millis(20) + Duration::from_nanos(rng.below(span.as_nanos() as u64));
        let f = Arc::clone(&fired);
        let at = Instant::now();
        handles.push(s.schedule(delay, move || {
            f[i].store(base.elapsed().as_nanos() as u64, Ordering::Release);
        }));
        dues.push((at + delay - base).as_nanos() as i64);
    }
    let deadline = Instant::now() + span + Duration::from_secs(30);
    while fired.iter().any(|f| f.load(Ordering::Acquire) == 0) {
        assert!(
            Instant::now() < deadline,
            "{}: timers never fired",
            s.name()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let mut late: Vec<f64> = fired
        .iter()
        .zip(&dues)
        .map(|(f, &due)| (f.load(Ordering::Acquire) as i64 - due) as f64 / 1000.0)
        .collect();
    late.sort_by(f64::total_cmp);
    (late[0], late[k / 2], late[k * 99 / 100])
}

/// Schedules `n` timers an hour or more away, then cancels all: (schedule
/// s, cancel s, peak RSS MiB after scheduling, RSS MiB after cancelling and
/// letting the driver reclaim).
pub(crate) fn many<S: Service>(s: &S, n: usize) -> (f64, f64, f64, f64) {
    let mut rng = Rng::new(5);
    let mut handles = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        handles.push(s.schedule(Duration::from_secs(3600 + rng.below(7200)), || {}));
    }
    let sched = t.elapsed().as_secs_f64();
    let (peak, _) = rss_mib();
    let t = Instant::now();
    for h in handles.drain(..) {
        s.cancel(&h);
    }
    let canc = t.elapsed().as_secs_f64();
    drop(handles);
    thread::sleep(Duration::from_millis(200));
    let (_, now) = rss_mib();
    (sched, canc, peak, now)
}
