//! Links the binaries as position-dependent executables on Linux: a PIE's loader rewrites
//! its ~15,000 relative relocations on every start, copying each page of `.data.rel.ro`
//! it touches (80 of the ~220 page faults of `kubectl-voice version`). A CLI started per
//! command, on every TAB of completion, starts faster without them; the shared libraries,
//! heap and stack keep their address randomisation.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
