//! Helpers shared by the loom models (`#[path]`-included).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.
#![allow(dead_code)] // Each model file uses some of the helpers.

/// Silences the panic a model triggers on purpose (once per explored
/// interleaving), and only that one.
pub(crate) fn silence_expected_panic(message: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
        if text != message {
            default(info);
        }
    }));
}

/// Counts a race's two outcomes across a model's executions, so that the
/// test can check both actually happened (a race test that only ever sees
/// one side proves nothing about the other).
pub(crate) struct BothOutcomes([std::sync::atomic::AtomicUsize; 2]);

impl BothOutcomes {
    pub(crate) const fn new() -> Self {
        Self([
            std::sync::atomic::AtomicUsize::new(0),
            std::sync::atomic::AtomicUsize::new(0),
        ])
    }

    /// Records one execution's outcome.
    pub(crate) fn record(&self, outcome: bool) {
        self.0[usize::from(outcome)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Panics unless both outcomes were recorded.
    pub(crate) fn assert_both(&self, no: &str, yes: &str) {
        let [n, y] = self
            .0
            .each_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        assert!(n > 0 && y > 0, "{no} {n}, {yes} {y}: both must occur");
    }
}
