//! `kubectl voice restart COMPONENT…|--all`: a rolling restart in wave order, waiting on the
//! same gates as install. The stamp is a pod-template annotation written by a field manager
//! of its own, so a later install (which owns the other annotations) leaves it in place and
//! does not roll the pods again.

use anyhow::Context;
use kube::api::{Patch, PatchParams};
use voice_core::plan::Wave;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, duration};
use crate::cluster::api_for;
use crate::cluster::{self, history, inventory, lock, wait};
use crate::config;
use crate::error::{Usage, exit};

/// The annotation a restart stamps on the pod template.
pub(crate) const RESTARTED_AT: &str = "kubectl-voice.io/restartedAt";
const MANAGER: &str = "kubectl-voice-restart";

// The flags of `kubectl voice restart`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Components to restart (see `kubectl voice plan`).
    #[arg(id = "workloads", value_name = "COMPONENTS")]
    pub components: Vec<String>,
    /// Restart every Deployment and StatefulSet of the rollout.
    #[arg(long)]
    pub all: bool,
    /// Configuration (to find the rollout, and to start from when it has no history).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Deadline for each wave to become ready again (`300s`, `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Take over the rollout's lock from another writer (only when it is known to be gone).
    #[arg(long)]
    pub force_unlock: bool,
    /// `server`: send the stamps as a server-side dry run; nothing is persisted.
    #[arg(long = "dry-run", value_name = "MODE", num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: Option<String>,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let timeout = duration(&args.timeout)?;
    let dry_run = crate::args::dry_run(args.dry_run.as_deref())?;
    if args.all != args.components.is_empty() {
        return Err(Usage("name the components to restart, or pass --all".into()).into());
    }
    let here = config::load(&args.config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&here, ca.namespace.as_deref());
    let stack = history::installed(&client, ca, here).await?;
    for name in &args.components {
        if stack.component(name).is_none() {
            return Err(Usage(format!(
                "`{name}` is not a component of this rollout; see `kubectl voice plan` for the names"
            ))
            .into());
        }
    }
    let objects: Vec<voice_core::render::Object> = voice_core::render::selected(&stack)
        .into_iter()
        .filter(|o| matches!(o.kind.as_str(), "Deployment" | "StatefulSet"))
        .filter(|o| args.all || args.components.contains(&o.component))
        .collect();
    let stamp = history::now();
    let held = if dry_run {
        None
    } else {
        lock::acquire_if_installed(&client, &inv, "restart", args.force_unlock).await?
    };
    let result = roll(&client, &stack, &objects, &stamp, dry_run, timeout).await;
    lock::release(held).await;
    let restarted = result?;
    println!(
        "{}restart {}: {restarted} workload(s)",
        if dry_run { "(server dry run) " } else { "" },
        if dry_run { "would succeed" } else { "complete" },
    );
    Ok(exit::OK)
}

/// Stamps the workloads wave by wave and waits for each wave's gates; returns how many were
/// restarted.
async fn roll(
    client: &kube::Client,
    stack: &voice_core::Stack,
    objects: &[voice_core::render::Object],
    stamp: &str,
    dry_run: bool,
    timeout: std::time::Duration,
) -> anyhow::Result<usize> {
    let mut progress = crate::progress::Progress::new(false);
    let mut restarted = 0;
    // Waves are numbered as install numbers them: within the whole plan.
    let all = voice_core::plan::waves(stack, &voice_core::render::selected(stack));
    let total = all.iter().filter(|w| w.is_applied()).count();
    for mut wave in voice_core::plan::waves(stack, objects) {
        if wave.objects.is_empty() {
            continue;
        }
        if let Some(w) = all.iter().find(|w| w.name == wave.name) {
            wave.index = w.index;
        }
        progress.start(&format!(
            "restarting wave {}/{total} {}",
            wave.index, wave.name
        ));
        let mut gates = Vec::new();
        for r in &wave.objects {
            let api = api_for(client, "apps/v1", &r.kind, r.namespace.as_deref());
            let body = serde_json::json!({
                "apiVersion": "apps/v1",
                "kind": r.kind,
                "metadata": {"name": r.name, "namespace": r.namespace},
                "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
            });
            let mut pp = PatchParams::apply(MANAGER).force().validation_ignore();
            pp.dry_run = dry_run;
            match api.patch(&r.name, &pp, &Patch::Apply(&body)).await {
                Ok(_) => restarted += 1,
                // Not installed (a part left out): nothing to restart.
                Err(e) if cluster::is_not_found(&e) => continue,
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("restarting {}/{}", r.kind, r.name))
                    );
                }
            }
            gates.extend(wave.gates.iter().filter(|g| gate_of(g, r)).cloned());
        }
        if !dry_run {
            let only = Wave {
                gates,
                ..wave.clone()
            };
            wait::await_wave(client, &only, objects, timeout, &mut progress)
                .await
                .with_context(|| format!("waiting for wave {} to be ready again", wave.index))?;
        }
        progress.done(&format!(
            "wave {}/{total} {}: restarted",
            wave.index, wave.name
        ));
    }
    Ok(restarted)
}

fn gate_of(g: &voice_core::plan::Gate, r: &voice_core::plan::ObjectRef) -> bool {
    use voice_core::plan::Gate;
    let ns = r.namespace.as_deref().unwrap_or_default();
    match g {
        Gate::DeploymentAvailable {
            namespace, name, ..
        } => r.kind == "Deployment" && namespace == ns && *name == r.name,
        Gate::StatefulSetReady {
            namespace, name, ..
        } => r.kind == "StatefulSet" && namespace == ns && *name == r.name,
        _ => false,
    }
}
