//! `kubectl voice secrets template`: every Secret the workloads read, with its keys, how each
//! value is made and where a store keeps it; never a value. `kubectl voice secrets export`:
//! the live values, to a file of mode 0600 (or stdout when asked), as a secret store is
//! loaded (`--format store`) or as Secret manifests (`--format manifests`), so a move to
//! `secrets.source: external-secrets` or `existing` keeps every password.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use voice_core::catalog::secrets::{self as catalog, TemplateSecret};
use voice_core::config::{Secrets, Store};

use crate::args::{ClusterArgs, ConfigArgs, Output};
use crate::cluster;
use crate::config;
use crate::error::{Usage, exit};
use crate::output::print;

// The flags of `kubectl voice secrets`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `template` or `export`.
    #[command(subcommand)]
    pub command: Sub,
}

// Subcommands of `secrets`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// List every Secret the workloads read, its keys, how each value is made and where a
    /// store keeps it (never a value).
    Template(TemplateArgs),
    /// Write the live values to a file (mode 0600) as a secret store is loaded, or as Secret
    /// manifests, so a move to external-secrets or existing keeps every value.
    Export(ExportArgs),
}

/// The flags of `kubectl voice secrets template`.
#[derive(Debug, clap::Args)]
pub(crate) struct TemplateArgs {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A JSON object: each remote key to its value, or to an object of property → value
    /// (`secrets.remoteKey` / `remoteProperty`; their defaults without external-secrets).
    Store,
    /// Secret manifests (YAML), one per Secret: for `secrets.source: existing`, or kubeseal.
    Manifests,
}

/// The flags of `kubectl voice secrets export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Configuration (the Secrets of this rollout, and the store's layout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The shape of the output.
    #[arg(long, value_enum, default_value = "store")]
    pub format: Format,
    /// The file to create with mode 0600 (it must not exist), or `-` for stdout.
    #[arg(long = "out", value_name = "FILE")]
    pub out: PathBuf,
}

/// Runs `secrets template` (offline).
pub(crate) fn template(args: TemplateArgs) -> anyhow::Result<u8> {
    let stack = config::load(&args.config)?;
    let specs = voice_core::render::selection::secrets(&stack);
    let rows = catalog::template(&stack, &specs);
    match args.output {
        Output::Table => std::io::stdout().write_all(human(&stack, &rows).as_bytes())?,
        o => print(o, &rows)?,
    }
    Ok(exit::OK)
}

fn human(stack: &voice_core::Stack, rows: &[TemplateSecret]) -> String {
    let mut out = String::new();
    for s in rows {
        out.push_str(&format!(
            "{}/{} ({}, provided by {})\n",
            s.namespace, s.name, s.component, s.provided_by
        ));
        for k in &s.keys {
            let place = match (&k.remote_key, &k.remote_property) {
                (Some(key), Some(p)) => format!("  <- {key} [{p}]"),
                (Some(key), None) => format!("  <- {key}"),
                (None, _) => String::new(),
            };
            out.push_str(&format!(
                "  {:<34} {}{}{place}\n",
                k.key,
                k.value,
                if k.required { "" } else { " (optional)" }
            ));
        }
    }
    match &stack.config.secrets {
        Secrets::Generate => out.push_str(
            "\nsecrets.source is generate: install makes the values once and never regenerates them\n",
        ),
        Secrets::Existing => out.push_str(
            "\nsecrets.source is existing: create each Secret above in its namespace with these keys; copies must hold their source's value\n",
        ),
        Secrets::ExternalSecrets(st) => out.push_str(&format!(
            "\nsecrets.source is external-secrets: each value is read from {} {}; optional values are read only when listed in secrets.optionalKeys\n",
            st.kind, st.name
        )),
    }
    out
}

/// Runs `secrets export` against the cluster.
pub(crate) async fn export(ca: &ClusterArgs, args: ExportArgs) -> anyhow::Result<u8> {
    let ExportArgs {
        config,
        format,
        out,
    } = args;
    let stack = config::load(&config)?;
    let to_stdout = out.as_os_str() == "-";
    // Refused before anything is read: values are never written over another file.
    if !to_stdout && out.exists() {
        return Err(Usage(format!(
            "{} exists; name a new file (values are never written over another file)",
            out.display()
        ))
        .into());
    }
    let client = cluster::client(ca).await?;
    let values = cluster::secrets::read(&client, &stack)
        .await
        .context("reading the rollout's Secrets")?;
    let specs = voice_core::render::selection::secrets(&stack);
    if values.is_empty() {
        return Err(Usage(format!(
            "none of this rollout's {} Secret(s) exists in the cluster; is this the configuration it was installed with?",
            specs.len()
        ))
        .into());
    }
    let (text, problems) = match format {
        Format::Store => {
            let store = match &stack.config.secrets {
                Secrets::ExternalSecrets(s) => s.clone(),
                _ => Store::default_layout(),
            };
            let (doc, problems) = catalog::store_document(&stack, &store, &specs, |ns, s, k| {
                values
                    .get(&(ns.to_string(), s.to_string()))
                    .and_then(|d| d.get(k))
                    .map(String::as_str)
            });
            (serde_json::to_string_pretty(&doc)? + "\n", problems)
        }
        Format::Manifests => (manifests(&specs, &values), Vec::new()),
    };
    if to_stdout {
        std::io::stdout().write_all(text.as_bytes())?;
    } else {
        write_private(&out, &text)?;
        eprintln!(
            "wrote the values of {} Secret(s) to {} (mode 0600)",
            values.len(),
            out.display()
        );
    }
    for p in &problems {
        eprintln!("warning: {p}");
    }
    Ok(exit::OK)
}

/// Secret manifests of the live values (`stringData`, keys in order).
fn manifests(
    specs: &[voice_core::catalog::SecretSpec],
    values: &cluster::secrets::Values,
) -> String {
    let mut out = String::new();
    for spec in specs {
        let Some(data) = values.get(&(spec.namespace.clone(), spec.name.clone())) else {
            continue;
        };
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": spec.name, "namespace": spec.namespace},
            "type": "Opaque",
            "stringData": data,
        });
        out.push_str("---\n");
        voice_core::render::yaml::write(&mut out, &doc);
    }
    out
}

/// Creates `path` with mode 0600 (never over an existing file) and writes `text`.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
