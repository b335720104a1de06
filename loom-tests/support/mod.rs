//! Helpers shared by the loom models (`#[path]`-included).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // Test code uses std.

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
