//! `kubectl voice plan`: sizing, the fit on the nodes and the rollout waves, as a table or
//! as the plan's JSON/YAML (the format the previewer consumes).

use std::fmt::Write;
use std::io::Write as _;

use voice_core::catalog::{SecretSource, WorkloadKind};
use voice_core::fit::{ComponentNodes, Placement, Verdict};
use voice_core::plan::Plan;
use voice_core::quantity::{cores_str, gib_str};
use voice_core::sizing::Totals;

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Output};
use crate::config;
use crate::error::exit;
use crate::output::print;
use crate::output::{paint, table};

fn range<T: PartialEq + std::fmt::Display>(a: T, b: T) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}–{b}")
    }
}

fn totals_row(label: &str, t: &Totals) -> Vec<String> {
    vec![
        label.into(),
        String::new(),
        String::new(),
        t.pods.to_string(),
        cores_str(t.requests.cpu),
        cores_str(t.limits.cpu),
        gib_str(t.requests.memory),
        gib_str(t.limits.memory),
        if t.storage.0 == 0 {
            "-".into()
        } else {
            gib_str(t.storage)
        },
    ]
}

/// The verdict in words.
pub(crate) fn verdict_text(v: Verdict) -> String {
    match v {
        Verdict::Fits => paint("fits", "32"),
        Verdict::FitsAtMinOnly => paint("fits only at minimum replicas", "33"),
        Verdict::DoesNotFit => paint("does not fit", "31"),
    }
}

fn placement(out: &mut String, label: &str, p: &Placement) {
    let _ = writeln!(out, "  {label}:");
    for n in &p.nodes {
        let _ = writeln!(
            out,
            "    {:<12} cpu {:>6} / {:<6} memory {:>8} / {:<8} pods {:>3} / {}",
            n.name,
            cores_str(n.cpu),
            cores_str(n.capacity.cpu),
            gib_str(n.memory),
            gib_str(n.capacity.memory),
            n.pods,
            n.capacity.pods
        );
    }
    if !p.unplaced.is_empty() {
        let _ = writeln!(out, "    {} pod(s) do not fit:", p.unplaced.len());
        for line in crate::output::wrap(&crate::output::pod_groups(&p.unplaced), 92) {
            let _ = writeln!(out, "      {line}");
        }
    }
}

/// `text` in lines of at most `width` characters, broken between words.
fn words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for w in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    lines.push(line);
    lines
}

/// Which nodes the components with placement rules can go on, and why one cannot;
/// components with the same rules and nodes share a paragraph.
fn where_each_goes(out: &mut String, placement: &[ComponentNodes]) {
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut free = 0;
    for c in placement {
        if c.rules.is_empty() && c.problem.is_none() {
            free += 1;
            continue;
        }
        let target = if let Some(p) = &c.problem {
            paint(&format!("✗ {p}"), "31")
        } else if c.every_node {
            "→ any node".to_string()
        } else {
            const SHOWN: usize = 6;
            let mut names: Vec<String> = c.nodes.iter().take(SHOWN).cloned().collect();
            if c.nodes.len() > SHOWN {
                names.push(format!("… {} more", c.nodes.len() - SHOWN));
            }
            let pools = if c.pools.is_empty() {
                String::new()
            } else {
                format!(
                    "pool{} {}: ",
                    if c.pools.len() == 1 { "" } else { "s" },
                    c.pools.join(", ")
                )
            };
            format!("→ {pools}{}", names.join(", "))
        };
        let rules = c.rules.join("; ");
        match groups.iter_mut().find(|g| g.0 == rules && g.1 == target) {
            Some(g) => g.2.push(c.component.clone()),
            None => groups.push((rules, target, vec![c.component.clone()])),
        }
    }
    if groups.is_empty() {
        let _ = writeln!(
            out,
            "Placement: every component can go on any node (no nodeSelector, affinity or tolerations)\n"
        );
        return;
    }
    let _ = writeln!(out, "Placement (the nodes each component can go on):");
    for (rules, target, components) in &groups {
        for line in crate::output::wrap(components, 92) {
            let _ = writeln!(out, "  {line}");
        }
        for text in [rules, target] {
            for line in words(text, 92) {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    if free > 0 {
        let _ = writeln!(out, "  the other {free} component(s): any node");
    }
    out.push('\n');
}

/// Renders the plan for people; `nodes` says whose nodes the fit is on.
pub(crate) fn human(plan: &Plan, nodes: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Profile {} · PostHog {}{} · instance {}\n",
        plan.profile,
        plan.posthog,
        plan.posthog_release
            .as_deref()
            .map_or_else(String::new, |r| format!(" {r}")),
        plan.instance
    );
    let rows = plan
        .sizing
        .components
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.namespace.clone(),
                match c.kind {
                    WorkloadKind::Deployment => "Deployment",
                    WorkloadKind::StatefulSet => "StatefulSet",
                    WorkloadKind::Job => "Job",
                }
                .into(),
                range(c.min_replicas, c.max_replicas),
                c.pod.requests.cpu.to_string(),
                c.pod.limits.cpu.to_string(),
                c.pod.requests.memory.to_string(),
                c.pod.limits.memory.to_string(),
                if c.storage.0 == 0 {
                    "-".into()
                } else {
                    c.storage.to_string()
                },
            ]
        })
        .chain(plan.sizing.namespaces.iter().flat_map(|n| {
            [
                totals_row(&format!("{} (min)", n.namespace), &n.totals.min),
                totals_row(&format!("{} (max)", n.namespace), &n.totals.max),
            ]
        }))
        .chain([
            totals_row("TOTAL (min)", &plan.sizing.total.min),
            totals_row("TOTAL (max)", &plan.sizing.total.max),
        ])
        .collect();
    out.push_str(&table(
        &[
            "COMPONENT",
            "NAMESPACE",
            "KIND",
            "REPLICAS",
            "CPU REQ",
            "CPU LIM",
            "MEM REQ",
            "MEM LIM",
            "STORAGE",
        ],
        rows,
    ));
    out.push_str("\n(per-pod figures per component; namespace and total rows sum long-running pods, Jobs excluded)\n\n");
    let forking: Vec<String> = plan
        .sizing
        .components
        .iter()
        .filter_map(|c| {
            let p = c.processes.as_ref()?;
            Some(format!(
                "  {}/{}: {}={}, one per whole CPU of its {} CPU limit (at least one){}; they need {} of its {} memory limit",
                c.name,
                p.container,
                p.env,
                p.count,
                p.limits.cpu,
                if p.extra > 0 {
                    format!(", and {} more process(es) run beside them", p.extra)
                } else {
                    String::new()
                },
                p.memory,
                p.limits.memory
            ))
        })
        .collect();
    if !forking.is_empty() {
        let _ = writeln!(out, "Processes (from each CPU limit, never the node's):");
        for l in forking {
            let _ = writeln!(out, "{l}");
        }
        out.push('\n');
    }

    let f = &plan.fit;
    let shape = f
        .reference_shape
        .as_ref()
        .map(|s| {
            format!(
                "{} × {} ({} CPU, {}, {} pods)",
                s.count,
                s.name,
                cores_str(s.cpu),
                s.memory,
                s.max_pods
            )
        })
        .unwrap_or_default();
    let kind = f
        .reference_shape
        .as_ref()
        .map(|s| {
            format!(
                "the {} shape ({} CPU, {}, {} pods)",
                s.name,
                cores_str(s.cpu),
                s.memory,
                s.max_pods
            )
        })
        .unwrap_or_default();
    let on = match plan.capacity {
        voice_core::plan::Capacity::Cluster => format!(
            "the {} live node(s) of {nodes}, their free capacity",
            f.at_min.nodes.len()
        ),
        voice_core::plan::Capacity::Profile => format!("{shape}, {nodes}"),
    };
    let _ = writeln!(out, "Fit on {on}: {}", verdict_text(f.verdict));
    placement(&mut out, "at minimum replicas", &f.at_min);
    placement(&mut out, "at maximum replicas", &f.at_max);
    let needed = |n: Option<u32>| {
        n.map_or_else(
            || "none of this shape can hold the largest pod".to_string(),
            |n| n.to_string(),
        )
    };
    let _ = writeln!(
        out,
        "  nodes of {kind} needed: {} at minimum, {} at maximum replicas\n",
        needed(f.nodes_needed_min),
        needed(f.nodes_needed_max)
    );
    where_each_goes(&mut out, &f.placement);

    let _ = writeln!(out, "Waves:");
    for w in plan.waves.iter().filter(|w| w.is_applied()) {
        let what = format!(
            "{} object(s){}",
            w.objects.len(),
            if w.secrets.is_empty() {
                String::new()
            } else {
                format!(", {} secret(s)", w.secrets.len())
            }
        );
        let _ = writeln!(
            out,
            "  {}. {:<13} {:<26} gates: {:<3} {}",
            w.index,
            w.name,
            what,
            w.gates.len(),
            w.description
        );
    }
    // The health checks are not a wave install runs: `status --verify` runs them.
    let checks: usize = plan.waves.iter().map(|w| w.checks.len()).sum();
    if checks > 0 {
        let _ = writeln!(
            out,
            "  then `kubectl voice status --verify` checks {checks} health endpoint(s) through the API server's service proxy"
        );
    }
    let rows: Vec<&voice_core::availability::Row> = plan.availability.iter().collect();
    if !rows.is_empty() {
        let down = rows
            .iter()
            .filter(|r| r.outage && (r.serves || !r.consumers.is_empty()))
            .count();
        let _ = writeln!(
            out,
            "\nAvailability: a fresh install creates every workload; when an upgrade replaces a workload's pods\n\
             (a new image, a changed setting), this is what its users see ({down} of {} go down for a while):",
            rows.len()
        );
        out.push_str(&crate::output::availability(&rows, false));
        out.push('\n');
    }
    if !plan.secrets.is_empty() {
        let _ = writeln!(
            out,
            "\nSecrets (created by install if absent, never overwritten, values never printed):"
        );
        for s in &plan.secrets {
            let keys: Vec<String> = s
                .keys
                .iter()
                .map(|k| match &k.source {
                    SecretSource::Random { length } => format!("{} (random, {length})", k.key),
                    SecretSource::RandomHex { length } => {
                        format!("{} (random hex, {length})", k.key)
                    }
                    SecretSource::SameAs { secret, key, .. } => {
                        format!("{} (= {secret}/{key})", k.key)
                    }
                    SecretSource::User { required: true } => {
                        format!("{} (you supply, required)", k.key)
                    }
                    SecretSource::User { required: false } => {
                        format!("{} (you supply, optional)", k.key)
                    }
                })
                .collect();
            let head = format!(
                "  {}/{}{}:",
                s.namespace,
                s.name,
                if s.existing { " (existing)" } else { "" }
            );
            let one = format!("{head} {}", keys.join(", "));
            if one.chars().count() <= 100 {
                let _ = writeln!(out, "{one}");
            } else {
                let _ = writeln!(out, "{head}");
                for line in crate::output::wrap(&keys, 92) {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    out
}

// The flags of `kubectl voice plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Fit on the configuration's node shapes even when a cluster can be reached.
    #[arg(long)]
    pub offline: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Output,
}

/// How long `plan` tries to read a cluster's nodes before it fits on the profile's.
const REACH: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the command: the fit is on the live nodes (the capacity `check` uses) when a
/// kubeconfig names a cluster that answers, else on the configuration's node shapes.
pub(crate) fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let Args {
        config,
        offline,
        output,
    } = args;
    let mut stack = config::load(&config)?;
    let configured = ca.kubeconfig.is_some()
        || ca.context.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || std::env::home_dir().is_some_and(|h| h.join(".kube/config").is_file());
    let (plan, nodes) = if offline {
        (
            voice_core::plan::plan(&stack),
            "the profile's nodes (--offline)".to_string(),
        )
    } else if !configured {
        (
            voice_core::plan::plan(&stack),
            "the profile's nodes (no kubeconfig)".to_string(),
        )
    } else {
        match live(ca, &config, &stack) {
            Ok((nodes, server, chosen)) => {
                // Without a file or --profile: the deployed configuration, said in one line.
                if let Some(c) = chosen {
                    eprintln!("{}", c.said);
                    stack = c.stack;
                }
                if nodes.is_empty() {
                    (
                        voice_core::plan::plan(&stack),
                        "the profile's nodes (the cluster has no Ready, schedulable node)"
                            .to_string(),
                    )
                } else {
                    (voice_core::plan::plan_on(&stack, &nodes), server)
                }
            }
            // A kubeconfig or context that is not there is bad input, not an unreachable
            // cluster: the plan would fit on the wrong nodes.
            Err(e) if e.downcast_ref::<crate::error::Usage>().is_some() => return Err(e),
            Err(e) => (
                voice_core::plan::plan(&stack),
                format!(
                    "the profile's nodes (cluster not reached: {})",
                    crate::error::in_words(&e)
                        .lines()
                        .next()
                        .unwrap_or_default()
                ),
            ),
        }
    };
    match output {
        Output::Table => std::io::stdout().write_all(human(&plan, &nodes).as_bytes())?,
        o => print(o, &plan)?,
    }
    Ok(exit::OK)
}

/// What `plan` reads from a cluster: its schedulable nodes with their free capacity, which
/// cluster it is, and the deployed configuration when the command line names none.
type Live = (
    Vec<voice_core::fit::NodeCapacity>,
    String,
    Option<crate::ops::source::Chosen>,
);

/// Reads [`Live`] within [`REACH`].
fn live(ca: &ClusterArgs, config: &ConfigArgs, stack: &voice_core::Stack) -> anyhow::Result<Live> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let read = async {
            let client = crate::cluster::client(ca).await?;
            let chosen = if crate::ops::source::named(config) {
                None
            } else {
                Some(crate::ops::source::choose(&client, ca, config).await?)
            };
            let target = chosen.as_ref().map_or(stack, |c| &c.stack);
            // A data engine's version change its rules refuse stops the plan as install.
            let objects = voice_core::render::selected(target);
            let engines = crate::cluster::statefulsets::engines(&client, target, &objects).await?;
            crate::cluster::statefulsets::refuse_engines(&engines)?;
            for e in &engines {
                eprintln!("{e}");
            }
            let inv = crate::cluster::inventory::Inventory::of(target, ca.namespace.as_deref());
            let nodes = crate::ops::check::live_nodes(&client, &inv).await?;
            Ok::<_, anyhow::Error>((nodes, chosen))
        };
        let (nodes, chosen) = tokio::time::timeout(REACH, read)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {}s", REACH.as_secs()))??;
        let server = crate::cluster::server()
            .unwrap_or("the cluster")
            .to_string();
        Ok((nodes, server, chosen))
    })
}
