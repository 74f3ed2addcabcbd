//! `kubectl voice version`: the plugin's version (what krew installed, what a bug report
//! should name).

use crate::args::Output;
use crate::error::exit;
use crate::output::print;

// The flags of `kubectl voice version`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// The version as `-o json|yaml` prints it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    /// `v` and the crate version, as krew's manifest names it.
    version: String,
    /// The target it was built for (`os/arch`, as krew's selectors name it).
    platform: String,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let v = Version {
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        platform: format!("{}/{}", os(), arch()),
    };
    match args.output {
        Output::Table => println!("kubectl-voice {} ({})", v.version, v.platform),
        out => print(out, &v)?,
    }
    Ok(exit::OK)
}

/// The OS as Go (and so krew) names it.
fn os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The architecture as Go (and so krew) names it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
