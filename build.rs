//! One job: `RALLYPOINT_CFG`, a comma-separated list of switches such as
//! `narrow_state,tiny_gen`, turns on the crate's `rallypoint_*` test cfgs for
//! this crate alone.
//!
//! `RUSTFLAGS="--cfg rallypoint_narrow_state"` selects the same code, but
//! RUSTFLAGS reaches every crate of the build, so cargo rebuilds every
//! dependency for each setting: CI tests four such settings, and the
//! dependencies are most of what it compiles. Both spellings stay supported;
//! the switches are documented in SAFETY.md ("How this is verified").
//! Without the variable this script prints nothing but its rerun rules.

use std::env;

/// The switches, each the name of a `rallypoint_*` cfg without its prefix.
const SWITCHES: [&str; 3] = ["narrow_state", "tiny_gen", "force_fallback"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RALLYPOINT_CFG");
    let Ok(list) = env::var("RALLYPOINT_CFG") else {
        return;
    };
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        assert!(
            SWITCHES.contains(&name),
            "RALLYPOINT_CFG: unknown switch `{name}` (known: {})",
            SWITCHES.join(", ")
        );
        println!("cargo:rustc-cfg=rallypoint_{name}");
    }
}
