//! Two jobs, both about `cfg`s of this crate alone:
//!
//! 1. `RALLYPOINT_CFG`, a comma-separated list of switches such as
//!    `narrow_state,tiny_gen`, turns on the crate's `rallypoint_*` test cfgs.
//!
//!    `RUSTFLAGS="--cfg rallypoint_narrow_state"` selects the same code, but
//!    RUSTFLAGS reaches every crate of the build, so cargo rebuilds every
//!    dependency for each setting: CI tests four such settings, and the
//!    dependencies are most of what it compiles. Both spellings stay
//!    supported; the switches are documented in SAFETY.md ("How this is
//!    verified").
//! 2. `rallypoint_backend = "..."` names the wait layer's backend (the
//!    table in `src/futex/mod.rs`), chosen here once from the target, the
//!    `std` feature and the test switches, so that the list of OSes with a
//!    native futex is written in one place instead of in every `cfg`. From
//!    it follows `rallypoint_clock = "..."`, the crate's clock (the table in
//!    `src/time/clock.rs`), so that the clock selection needs no list of
//!    backends either.
//!
//! Everything it reads is cargo's description of the *target*
//! (`CARGO_CFG_*`), so cross builds select the target's backend.

use std::env;

/// The switches, each the name of a `rallypoint_*` cfg without its prefix.
const SWITCHES: [&str; 4] = ["narrow_state", "tiny_gen", "force_fallback", "force_spin"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RALLYPOINT_CFG");
    let mut switches = Vec::new();
    if let Ok(list) = env::var("RALLYPOINT_CFG") {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            assert!(
                SWITCHES.contains(&name),
                "RALLYPOINT_CFG: unknown switch `{name}` (known: {})",
                SWITCHES.join(", ")
            );
            println!("cargo:rustc-cfg=rallypoint_{name}");
            switches.push(name.to_owned());
        }
    }
    // The RUSTFLAGS spelling (`--cfg rallypoint_force_spin`) reaches us as
    // the target's cfg.
    let switch = |name: &str| {
        switches.iter().any(|s| s == name)
            || env::var_os(format!("CARGO_CFG_RALLYPOINT_{}", name.to_uppercase())).is_some()
    };
    let backend = backend(switch);
    println!("cargo:rustc-cfg=rallypoint_backend=\"{backend}\"");
    println!(
        "cargo:rustc-check-cfg=cfg(rallypoint_clock, values(\"unix\", \"windows\", \"fuchsia\", \"wasm\", \"instant\", \"registered\"))"
    );
    println!("cargo:rustc-cfg=rallypoint_clock=\"{}\"", clock(backend));
}

/// The crate's clock for a wait-layer backend (`src/time/clock.rs` has the
/// table): the clock that backend's OS measures its timeouts on.
fn clock(backend: &str) -> &'static str {
    match backend {
        "linux" | "freebsd" | "apple" | "openbsd" | "netbsd" | "dragonfly" | "emscripten" => "unix",
        "windows" => "windows",
        "fuchsia" => "fuchsia",
        "wasm" => "wasm",
        "fallback" => "instant",
        _ => "registered",
    }
}

/// The wait layer's backend for the target being built (`src/futex/mod.rs`
/// has the same table, with the reasons).
fn backend(switch: impl Fn(&str) -> bool) -> &'static str {
    let cfg = |key: &str| env::var(format!("CARGO_CFG_{key}")).unwrap_or_default();
    let os = cfg("TARGET_OS");
    let atomics = cfg("TARGET_FEATURE").split(',').any(|f| f == "atomics");
    let std = env::var_os("CARGO_FEATURE_STD").is_some();
    // Loom builds use `futex/loom.rs` whatever this says.
    if switch("force_spin") {
        return "spin";
    }
    if switch("force_fallback") && std {
        return "fallback";
    }
    match os.as_str() {
        "linux" | "android" => return "linux",
        "freebsd" => return "freebsd",
        "windows" => return "windows",
        "openbsd" => return "openbsd",
        "netbsd" => return "netbsd",
        "dragonfly" => return "dragonfly",
        "fuchsia" => return "fuchsia",
        "emscripten" if atomics => return "emscripten",
        _ => {}
    }
    if cfg("TARGET_VENDOR") == "apple" {
        return "apple";
    }
    if cfg("TARGET_ARCH") == "wasm32" && atomics && os != "emscripten" {
        return "wasm";
    }
    // No OS: std exists there only as stubs (no clock, no threads).
    let no_os =
        os == "none" || (cfg("TARGET_FAMILY").split(',').any(|f| f == "wasm") && os == "unknown");
    if std && !no_os {
        "fallback"
    } else {
        "spin"
    }
}
