//! `kubectl voice profile`: an embedded profile as a starting voice.yaml; without a name,
//! the list of profiles with what each is for.

use std::io::Write as _;

use crate::error::{Usage, exit};

// The flags of `kubectl voice profile`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// dev, small or production (none: list them).
    pub name: Option<String>,
}

/// Runs the command.
pub(crate) fn run(args: Args) -> anyhow::Result<u8> {
    let Args { name } = args;
    let Some(name) = name else {
        let mut out = String::new();
        for p in voice_core::config::PROFILES {
            // The profile's first comment sentence says what it is for.
            let yaml = voice_core::config::profile_yaml(p);
            let about: String = yaml
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim())
                .collect::<Vec<_>>()
                .join(" ");
            let about = about
                .split_once(": ")
                .map_or(about.as_str(), |(_, rest)| rest);
            let about = about.split(". ").next().unwrap_or(about);
            out.push_str(&format!("{:<11} {about}\n", p.as_str()));
        }
        out.push_str("\nkubectl voice profile NAME > voice.yaml  writes one as a starting file\n");
        std::io::stdout().write_all(out.as_bytes())?;
        return Ok(exit::OK);
    };
    let p = voice_core::ProfileName::parse(&name).ok_or_else(|| {
        Usage(format!(
            "`{name}` is not a profile; use dev, small or production"
        ))
    })?;
    std::io::stdout().write_all(voice_core::config::profile_yaml(p).as_bytes())?;
    Ok(exit::OK)
}
