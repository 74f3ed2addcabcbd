//! `kubectl voice check`: can this plan be installed here? API, RBAC, CRDs, classes and
//! capacity, reported linkerd-style by category (the report is `crate::ops::check`).

use anyhow::Context as _;
use serde::Serialize;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::cluster::{self, apply, inventory, rights};
use crate::config;
use crate::error::exit;
use crate::ops::check::{Category, Handoff, report, secrets};
use crate::output::print;

// The flags of `kubectl voice check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A YAML file of secret values, as install takes it: `<secret-name>: {KEY: value}`.
    #[arg(long = "secrets-file", value_name = "FILE")]
    pub secrets_file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// The report as `-o json|yaml` prints it: the verdict first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Printed<'a> {
    /// No check failed.
    ok: bool,
    /// Categories in order.
    categories: &'a [Category],
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        secrets_file,
        output,
    } = args;
    let stack = config::load(&config)?;
    let user = cluster::secrets::UserValues::collect(&stack, secrets_file.as_deref())?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&stack, ca.namespace.as_deref());
    let (objects, _) = apply::planned(&stack, &inv);
    // The objects this user may not write, as install would find them; check reads the
    // configuration its flags name, so a cluster admin's command repeats them.
    let rights = rights::assess(&client, &inv, &objects).await?;
    let (flags, _) = crate::ops::source::flags(&stack, &serde_json::Value::Null, Some(&config), ca);
    let mut report = report(
        &client,
        &stack,
        &objects,
        &inv,
        false,
        &[],
        &Handoff {
            rights: &rights,
            flags: &flags,
        },
    )
    .await
    .context("checking the cluster")?;
    let pre = cluster::secrets::preflight(&client, &stack, &user)
        .await
        .context("reading the Secrets")?;
    report.categories.push(secrets(&pre));
    match output {
        Output::Table => print!("{}", report.human()),
        o => print(
            o,
            &Printed {
                ok: report.ok(),
                categories: &report.categories,
            },
        )?,
    }
    Ok(if report.ok() {
        exit::OK
    } else {
        exit::NOT_READY
    })
}
