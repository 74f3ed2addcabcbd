//! Links the binaries as position-dependent executables on Linux: a PIE's loader rewrites
//! its ~15,000 relative relocations on every start, copying each page of `.data.rel.ro`
//! it touches (80 of the ~220 page faults `kubectl-voice version` had as a PIE). A CLI started per
//! command, on every TAB of completion, starts faster without them; the shared libraries,
//! heap and stack keep their address randomisation.
//!
//! The unwinder is GCC's static `libgcc_eh`, not the shared `libgcc_s`: std needs it only for
//! backtraces (and unwinding in test builds), and loading `libgcc_s` cost every start its
//! CPU-feature probe and one more library to map and bind, 0.1–0.18 ms (`version` went from
//! 1.65 to 1.50 ms).
//!
//! Release builds linked by rustc's own LLD also place the functions the offline verbs run
//! side by side (`symbol-order.txt`, written by `scripts/symbol-order`): the kernel maps code
//! in 64 KiB windows around each page touched, so code spread over 12.7 MB of `.text` made
//! `render` map ~5.4 MB of it, and ~1.6 MB once laid out together.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        // Listed before std's `-lgcc_s`, GCC's static unwinder resolves the `_Unwind_*`
        // symbols, and the linker's `--as-needed` drops libgcc_s (see above).
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
    if std::env::var("PROFILE").as_deref() == Ok("release") && default_lld() {
        let order = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("symbol-order.txt");
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // A name the build no longer has (the file is stale) is skipped, not an error.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        println!("cargo:rerun-if-changed=symbol-order.txt");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Whether the binaries link with rustc's own LLD: the default on x86_64-unknown-linux-gnu
/// from Rust 1.90, unless a linker is configured.
fn default_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    // Cargo sets RUSTC_LINKER when a linker is configured (`target.<triple>.linker`).
    let configured = std::env::var_os("RUSTC_LINKER").is_some()
        || std::env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("link"));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8(o.stdout).ok()?;
            v.split_whitespace()
                .nth(1)?
                .split('.')
                .nth(1)?
                .parse::<u32>()
                .ok()
        });
    target == "x86_64-unknown-linux-gnu" && !configured && minor.is_some_and(|m| m >= 90)
}
