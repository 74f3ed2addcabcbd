//! Moving a PostgreSQL component to a new major version as a blue-green of its data
//! (`upgrade-engine`): a verified backup of the serving database, a second StatefulSet of
//! the new major (`components.<name>.engineUpgrade`) that the backup is restored into, a
//! check of every table's row count and of the roles on both servers, and only then the
//! Service's selector moved to the new pod. The consumers (components that depend on the
//! database) are scaled to zero from the dump to the switch, so no write is lost, and come
//! back afterwards, also after a failure or, when a run was killed, at the start of the
//! next one. Each configuration step is a recorded revision; `--back` and `--finalize` are
//! one apply each.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams};
use voice_core::catalog::versions::{self, Step, Store};
use voice_core::catalog::{Component, Engine, WorkloadKind, engines};
use voice_core::config::{EngineUpgrade, Serving};

use crate::args::{ApplyFlags, ClusterArgs, ConfigArgs};
use crate::cluster::streams::{self, Target};
use crate::cluster::{self, inventory, lock};
use crate::error::{Usage, exit};
use crate::ops::backups::{self, PG_ENV};
use crate::ops::configure::{Rollout, confirm_or_stop};
use crate::ops::restore;

/// What `upgrade-engine` was asked to do.
pub(crate) enum Mode {
    /// Copy into a new StatefulSet of `major` (running `image`, else the catalog's pin) and
    /// switch to it.
    To {
        /// The major version.
        major: u32,
        /// An explicit image of that major.
        image: Option<String>,
    },
    /// Serve from the previous StatefulSet again.
    Back,
    /// Drop the previous StatefulSet (its claims are kept).
    Finalize,
}

/// Annotation on a consumer Deployment scaled to zero for a copy: the database it waits for.
const STOPPED_FOR: &str = "kubectl-voice.io/stopped-for";
/// Annotation on a consumer Deployment scaled to zero for a copy: its replicas before.
const REPLICAS_BEFORE: &str = "kubectl-voice.io/replicas-before";
/// The field manager of the consumers' scale changes.
const FIELD_MANAGER: &str = "kubectl-voice-upgrade-engine";

/// The main container's image in a live StatefulSet.
fn image_of(s: &StatefulSet, container: &str) -> Option<String> {
    s.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == container)?
        .image
        .clone()
}

/// The major version an image's tag names.
fn major_of(image: &str) -> Option<u32> {
    versions::version(image).and_then(|v| v.first().copied())
}

/// Runs `upgrade-engine` for `name`.
pub(crate) async fn run(
    ca: &ClusterArgs,
    cfg: &ConfigArgs,
    name: &str,
    mode: Mode,
    flags: &ApplyFlags,
) -> anyhow::Result<u8> {
    if flags.dry_run.is_some() {
        return Err(Usage(
            "upgrade-engine has no --dry-run: it copies data between live servers; `kubectl voice plan --set components.<name>.engineUpgrade=…` shows the objects".into(),
        )
        .into());
    }
    let here = crate::config::load(cfg)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&here, ca.namespace.as_deref());
    let mut rollout = Rollout::read(&client, &inv).await?;
    let stack = rollout.build()?;
    let c = stack.component(name).cloned().ok_or_else(|| {
        Usage(format!(
            "`{name}` is not a component of this rollout; see `kubectl voice plan` for the names"
        ))
    })?;
    if c.engine != Some(Engine::Postgresql) || c.kind != WorkloadKind::StatefulSet {
        return Err(Usage(format!(
            "{name} is not a PostgreSQL StatefulSet; upgrade-engine moves postgres and posthog-postgres"
        ))
        .into());
    }
    // One writer from the first step to the last: the applies inside take the lock as nested.
    if flags.force_unlock
        && !confirm_or_stop(
            &format!("upgrade-engine {name} takes the rollout's lock over"),
            flags.yes,
            false,
        )?
    {
        return Ok(exit::BAD_INPUT);
    }
    let command = format!("upgrade-engine {name}");
    let held = lock::acquire(&client, &inv, &command, flags.force_unlock).await?;
    let result = async {
        // Consumers that a killed run left at zero come back before anything else.
        start_consumers(&client, &stack, &c).await?;
        match mode {
            Mode::To { major, image } => {
                upgrade(ca, &client, &mut rollout, &c, major, image, flags).await
            }
            Mode::Back => back(ca, &client, &mut rollout, &c, flags).await,
            Mode::Finalize => finalize(ca, &client, &mut rollout, &c, flags).await,
        }
    }
    .await;
    held.release().await;
    result
}

/// Moves the database to `major`: backup, new StatefulSet, restore, check, switch.
async fn upgrade(
    ca: &ClusterArgs,
    client: &kube::Client,
    rollout: &mut Rollout,
    c: &Component,
    major: u32,
    image: Option<String>,
    flags: &ApplyFlags,
) -> anyhow::Result<u8> {
    let started = Instant::now();
    let name = c.name.as_str();
    let stack = rollout.build()?;
    let target = match image {
        Some(i) => i,
        None => engines::postgres_image(&stack.config, major).ok_or_else(|| {
            let pinned: Vec<String> = engines::POSTGRES_MAJORS
                .iter()
                .map(|(m, _)| m.to_string())
                .collect();
            Usage(format!(
                "no PostgreSQL {major} image is pinned (pinned majors: {}); name one with --image postgres:{major}.<minor>-alpine",
                pinned.join(", ")
            ))
        })?,
    };
    if major_of(&target) != Some(major) {
        return Err(Usage(format!(
            "--image {target} is not PostgreSQL {major} by its tag"
        ))
        .into());
    }
    // Where the data is now, and where it goes.
    let (source, resuming) = match &c.engine_upgrade {
        Some(EngineUpgrade {
            stateful_set,
            previous: Some((previous, _)),
            serving,
        }) => {
            if c.main().image != target {
                return Err(Usage(format!(
                    "{name} is in the middle of an upgrade to {} ({stateful_set}, copied from {previous}); finish it with `kubectl voice upgrade-engine {name} --finalize` or return with `--back` first",
                    c.main().image
                ))
                .into());
            }
            if *serving == Serving::Current {
                println!(
                    "{name}: {stateful_set} already serves {target}; `kubectl voice upgrade-engine {name} --finalize` drops {previous}, `--back` returns to it"
                );
                return Ok(exit::OK);
            }
            eprintln!(
                "{name}: {stateful_set} exists and {previous} serves: the copy starts again from a new backup"
            );
            (previous.clone(), true)
        }
        Some(e) => (e.stateful_set.clone(), false),
        None => (c.name.clone(), false),
    };
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &c.namespace);
    let live = sts
        .get_opt(&source)
        .await
        .with_context(|| format!("reading StatefulSet {}/{source}", c.namespace))?
        .ok_or_else(|| {
            Usage(format!(
                "StatefulSet {}/{source} of {name} does not exist; install the rollout first",
                c.namespace
            ))
        })?;
    let from = image_of(&live, &c.main().name).context("the live StatefulSet's image")?;
    match versions::step(Store::Postgresql, name, &from, &target) {
        Step::Procedure { .. } => {}
        Step::Same | Step::InPlace { .. } => {
            return Err(Usage(format!(
                "{name} runs {from}, the same major as {target}: a minor release rolls in place, `kubectl voice install --set components.{name}.image={target}`"
            ))
            .into());
        }
        Step::Refused { why, how } => return Err(Usage(format!("{name}: {why}; {how}")).into()),
    }
    if !voice_core::readiness::statefulset_ready(&live)
        || live
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            < 1
    {
        return Err(crate::error::NotReady(format!(
            "StatefulSet {}/{source} is not ready; upgrade-engine copies from a healthy database (see `kubectl voice status`)",
            c.namespace
        ))
        .into());
    }
    let (a, b) = (major_of(&from).unwrap_or(0), major);
    let new = if resuming {
        c.engine_upgrade
            .as_ref()
            .map(|e| e.stateful_set.clone())
            .unwrap_or_default()
    } else {
        format!("{name}-{major}")
    };
    let consumers = consumers(&stack, c);
    let stopped = if consumers.is_empty() {
        "no other component of the rollout uses it".to_string()
    } else {
        format!(
            "{} scale to zero from the backup to the switch, so no write after the dump is lost, and come back afterwards",
            consumers
                .iter()
                .map(|(_, d)| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    eprintln!(
        "{name}: PostgreSQL {a} → {b}: dump {source}, restore into a new StatefulSet {new} ({target}), compare every table's rows and the roles, then move the Service to {new}-0; {source} and its claims stay for `--back` until `--finalize`. {stopped}"
    );
    if !confirm_or_stop(
        &format!("upgrade-engine {name} stops its consumers for the copy"),
        flags.yes,
        false,
    )? {
        return Ok(exit::BAD_INPUT);
    }
    let label = format!("upgrade-engine {name} {a} → {b}");
    let mut apply_flags = flags.clone();
    apply_flags.yes = true;

    // The new StatefulSet first: the old one serves throughout.
    rollout.set(voice_core::Change::Image {
        component: name.into(),
        image: target.clone(),
    })?;
    rollout.set(state(
        name,
        new.clone(),
        Some((source.clone(), from.clone())),
        Serving::Previous,
    ))?;
    let t = Instant::now();
    let code = rollout
        .apply(ca, &apply_flags, format!("{label}: copy"))
        .await?;
    if code != exit::OK {
        eprintln!("{name}: {new} did not become ready; {source} still serves");
        return Ok(code);
    }
    let ready_new = t.elapsed();

    stop_consumers(client, &stack, c, &consumers).await?;
    let copied = copy(client, &stack, c, &source, &new, flags).await;
    let outcome = match copied {
        Ok(Some(times)) => {
            rollout.set(state(
                name,
                new.clone(),
                Some((source.clone(), from.clone())),
                Serving::Current,
            ))?;
            let t = Instant::now();
            let code = rollout
                .apply(ca, &apply_flags, format!("{label}: switch"))
                .await;
            code.map(|code| (code, Some((times, t.elapsed()))))
        }
        Ok(None) => Ok((exit::NOT_READY, None)),
        Err(e) => Err(e),
    };
    let back = start_consumers(client, &stack, c).await;
    let (code, times) = outcome?;
    back?;
    if code != exit::OK {
        return Ok(code);
    }
    if let Some(((backup, restore, check), switch)) = times {
        println!(
            "{name}: PostgreSQL {b} serves from {new}-0 ({target}); {source} is at zero replicas with its claims: `kubectl voice upgrade-engine {name} --back` returns to it, `--finalize` drops it"
        );
        eprintln!(
            "timings: new StatefulSet ready {:.1}s, backup {:.1}s, restore {:.1}s, check {:.1}s, switch {:.1}s, total {:.1}s",
            ready_new.as_secs_f64(),
            backup.as_secs_f64(),
            restore.as_secs_f64(),
            check.as_secs_f64(),
            switch.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(code)
}

/// Backs up `source`, restores into `new` and compares them: the three durations, or
/// `None` when they differ (said on standard error; `source` keeps serving).
async fn copy(
    client: &kube::Client,
    stack: &voice_core::Stack,
    c: &Component,
    source: &str,
    new: &str,
    flags: &ApplyFlags,
) -> anyhow::Result<Option<(Duration, Duration, Duration)>> {
    let t = Instant::now();
    let old = streams::pod_target(client, c, &format!("{source}-0")).await?;
    let (dir, m) = backups::backup_from(client, stack, &c.name, &old, &flags.backup_dir)
        .await
        .with_context(|| format!("backing up {source}; it still serves"))?;
    restore::verify(&dir, &m)?;
    eprintln!(
        "backed up {} ({}) into {}",
        c.name,
        backups::human_bytes(m.bytes()),
        dir.display()
    );
    let backup = t.elapsed();
    let t = Instant::now();
    let target = wait_ready(client, c, &format!("{new}-0"), Duration::from_secs(300)).await?;
    restore::restore_postgres(client, &target, &dir, &m, |_| Ok(true))
        .await
        .with_context(|| format!("restoring into {new}; {source} still serves"))?;
    let restore = t.elapsed();
    let t = Instant::now();
    let (before, after) = (census(client, &old).await?, census(client, &target).await?);
    let differs = differences(&before, &after);
    if !differs.is_empty() {
        eprintln!(
            "error: {new} does not hold what {source} holds; nothing was switched, {source} still serves:\n  {}\n(the backup is kept in {}; `kubectl voice upgrade-engine {} --to …` copies again)",
            differs.join("\n  "),
            dir.display(),
            c.name
        );
        return Ok(None);
    }
    eprintln!(
        "checked: {} table(s) with equal row counts and {} role(s) on both servers",
        after.tables.len(),
        after.roles.len()
    );
    Ok(Some((backup, restore, t.elapsed())))
}

/// Waits until the pod `pod` of `c` is ready.
async fn wait_ready(
    client: &kube::Client,
    c: &Component,
    pod: &str,
    timeout: Duration,
) -> anyhow::Result<Target> {
    let deadline = Instant::now() + timeout;
    loop {
        match streams::pod_target(client, c, pod).await {
            Ok(t) => return Ok(t),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// What a PostgreSQL server holds, as compared before a switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Census {
    /// Role names (without the built-in `pg_*`).
    roles: BTreeSet<String>,
    /// `database.schema.table` → exact row count.
    tables: BTreeMap<String, u64>,
}

/// Exact row counts of every table of the connected database, one `schema.table|count`
/// line each.
const COUNTS: &str = "SELECT n.nspname || '.' || c.relname, \
(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text \
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' \
ORDER BY 1;";

async fn census(client: &kube::Client, t: &Target) -> anyhow::Result<Census> {
    let list = |sql: &str| format!("{PG_ENV}psql -X -Atq -d postgres <<'EOF'\n{sql}\nEOF");
    let roles = streams::text(
        client,
        t,
        "listing the roles",
        &list("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1;"),
        &[],
    )
    .await?;
    let dbs = streams::text(
        client,
        t,
        "listing the databases",
        &list(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1;",
        ),
        &[],
    )
    .await?;
    let mut out = Census {
        roles: roles.lines().map(str::to_string).collect(),
        ..Census::default()
    };
    for db in dbs.lines() {
        let rows = streams::text(
            client,
            t,
            &format!("counting the rows of database {db}"),
            &format!("{PG_ENV}psql -X -Atq -d \"$1\" <<'EOF'\n{COUNTS}\nEOF"),
            &[db],
        )
        .await?;
        for l in rows.lines() {
            if let Some((table, n)) = l.rsplit_once('|') {
                out.tables.insert(
                    format!("{db}.{table}"),
                    n.trim().parse().unwrap_or(u64::MAX),
                );
            }
        }
    }
    Ok(out)
}

/// What differs between the old server's census and the new one's, in words.
fn differences(old: &Census, new: &Census) -> Vec<String> {
    let mut out = Vec::new();
    for r in old.roles.difference(&new.roles) {
        out.push(format!("role {r} is missing on the new server"));
    }
    for r in new.roles.difference(&old.roles) {
        out.push(format!("role {r} is only on the new server"));
    }
    for (t, n) in &old.tables {
        match new.tables.get(t) {
            None => out.push(format!("table {t} ({n} rows) is missing on the new server")),
            Some(m) if m != n => out.push(format!("table {t}: {n} rows, {m} on the new server")),
            Some(_) => {}
        }
    }
    for t in new.tables.keys().filter(|t| !old.tables.contains_key(*t)) {
        out.push(format!("table {t} is only on the new server"));
    }
    out
}

/// The Deployments of the components that depend on `c`: `(namespace, name)`.
fn consumers(stack: &voice_core::Stack, c: &Component) -> Vec<(String, String)> {
    stack
        .components
        .iter()
        .filter(|x| x.kind == WorkloadKind::Deployment && x.depends_on.contains(&c.name))
        .flat_map(|x| {
            voice_core::render::workload::deployment_names(x)
                .into_iter()
                .map(|d| (x.namespace.clone(), d))
        })
        .collect()
}

/// Scales the consumers of `c` that run to zero, noting their replicas on each.
async fn stop_consumers(
    client: &kube::Client,
    stack: &voice_core::Stack,
    c: &Component,
    consumers: &[(String, String)],
) -> anyhow::Result<()> {
    let mark = format!("{}/{}", stack.config.instance, c.name);
    for (ns, d) in consumers {
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let Some(live) = api
            .get_opt(d)
            .await
            .with_context(|| format!("reading Deployment {ns}/{d}"))?
        else {
            continue;
        };
        let replicas = live.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let marked = live
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(STOPPED_FOR));
        if replicas == 0 || marked {
            continue;
        }
        let patch = serde_json::json!({
            "metadata": {"annotations": {STOPPED_FOR: mark, REPLICAS_BEFORE: replicas.to_string()}},
            "spec": {"replicas": 0},
        });
        api.patch(
            d,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await
        .with_context(|| format!("scaling Deployment {ns}/{d} to zero for the copy"))?;
        eprintln!("{ns}/{d}: scaled from {replicas} to 0 for the copy");
    }
    Ok(())
}

/// Brings back the consumers of `c` that a copy scaled to zero.
async fn start_consumers(
    client: &kube::Client,
    stack: &voice_core::Stack,
    c: &Component,
) -> anyhow::Result<()> {
    let mark = format!("{}/{}", stack.config.instance, c.name);
    for (ns, d) in consumers(stack, c) {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let Some(live) = api
            .get_opt(&d)
            .await
            .with_context(|| format!("reading Deployment {ns}/{d}"))?
        else {
            continue;
        };
        let notes = live.metadata.annotations.unwrap_or_default();
        if notes.get(STOPPED_FOR) != Some(&mark) {
            continue;
        }
        let replicas: i64 = notes
            .get(REPLICAS_BEFORE)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let patch = serde_json::json!({
            "metadata": {"annotations": {STOPPED_FOR: null, REPLICAS_BEFORE: null}},
            "spec": {"replicas": replicas},
        });
        api.patch(&d, &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &Patch::Merge(&patch))
            .await
            .with_context(|| format!("scaling Deployment {ns}/{d} back to {replicas}; run `kubectl scale deployment -n {ns} {d} --replicas {replicas}`"))?;
        eprintln!("{ns}/{d}: back to {replicas} replica(s)");
    }
    Ok(())
}

/// The upgrade of `c` with a previous StatefulSet, or a refusal naming what to run.
fn in_progress<'a>(
    c: &'a Component,
    verb: &str,
) -> anyhow::Result<(&'a str, &'a str, &'a str, Serving)> {
    match &c.engine_upgrade {
        Some(EngineUpgrade {
            stateful_set,
            previous: Some((previous, image)),
            serving,
        }) => Ok((stateful_set, previous, image, *serving)),
        _ => Err(Usage(format!(
            "{}: no upgrade-engine keeps a previous StatefulSet, so there is nothing to {verb}",
            c.name
        ))
        .into()),
    }
}

/// Serves from the previous StatefulSet again.
async fn back(
    ca: &ClusterArgs,
    client: &kube::Client,
    rollout: &mut Rollout,
    c: &Component,
    flags: &ApplyFlags,
) -> anyhow::Result<u8> {
    let name = c.name.as_str();
    let (current, previous, image, serving) = in_progress(c, "go back to")?;
    if serving == Serving::Previous {
        println!("{name}: {previous} already serves");
        return Ok(exit::OK);
    }
    eprintln!(
        "{name}: the Service moves back to {previous}-0 ({image}); what was written on {current} since the switch is not copied back and is lost to the clients ({current} keeps it)"
    );
    if !confirm_or_stop(
        &format!(
            "upgrade-engine {name} --back drops the writes made on {current} since the switch"
        ),
        flags.yes,
        false,
    )? {
        return Ok(exit::BAD_INPUT);
    }
    // The previous pod is started and ready before the Service selects it.
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &c.namespace);
    sts.patch(
        previous,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        },
        &Patch::Merge(&serde_json::json!({"spec": {"replicas": 1}})),
    )
    .await
    .with_context(|| format!("scaling StatefulSet {}/{previous} to 1", c.namespace))?;
    wait_ready(
        client,
        c,
        &format!("{previous}-0"),
        Duration::from_secs(300),
    )
    .await?;
    let (current, previous, image) = (current.to_string(), previous.to_string(), image.to_string());
    rollout.set(state(
        name,
        current.clone(),
        Some((previous.clone(), image.clone())),
        Serving::Previous,
    ))?;
    let mut apply_flags = flags.clone();
    apply_flags.yes = true;
    let (a, b) = (
        major_of(&c.main().image).unwrap_or(0),
        major_of(&image).unwrap_or(0),
    );
    let code = rollout
        .apply(
            ca,
            &apply_flags,
            format!("upgrade-engine {name} {a} → {b}: --back"),
        )
        .await?;
    if code == exit::OK {
        println!(
            "{name}: {previous}-0 ({image}) serves again; {current} keeps running: `kubectl voice upgrade-engine {name} --to {a}` copies again"
        );
    }
    Ok(code)
}

/// The `engineUpgrade` setting of `component`: the StatefulSet holding the data, the one
/// copied from (with its image) while kept, and which of them the Service selects.
fn state(
    component: &str,
    stateful_set: String,
    previous: Option<(String, String)>,
    serving: Serving,
) -> voice_core::Change {
    voice_core::Change::EngineUpgrade {
        component: component.into(),
        upgrade: EngineUpgrade {
            stateful_set,
            previous,
            serving,
        },
    }
}

/// Drops the previous StatefulSet; its claims are kept and listed.
async fn finalize(
    ca: &ClusterArgs,
    client: &kube::Client,
    rollout: &mut Rollout,
    c: &Component,
    flags: &ApplyFlags,
) -> anyhow::Result<u8> {
    let name = c.name.as_str();
    let (current, previous, image, serving) = in_progress(c, "finalize")?;
    if serving == Serving::Previous {
        return Err(Usage(format!(
            "{name}: {previous} serves, so it cannot be dropped; `kubectl voice upgrade-engine {name} --to {}` copies again and switches first",
            major_of(&c.main().image).unwrap_or(0)
        ))
        .into());
    }
    let (current, previous, image) = (current.to_string(), previous.to_string(), image.to_string());
    rollout.set(state(name, current.clone(), None, Serving::Current))?;
    let code = rollout
        .apply(
            ca,
            flags,
            format!("upgrade-engine {name}: --finalize, {previous} ({image}) dropped"),
        )
        .await?;
    if code != exit::OK {
        return Ok(code);
    }
    // Its claims hold the old data: kept, listed with the command that deletes them.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &c.namespace);
    let mut kept = Vec::new();
    for s in &c.storage {
        for i in 0.. {
            let claim = format!("{}-{previous}-{i}", s.name);
            let Some(p) = pvcs
                .get_opt(&claim)
                .await
                .with_context(|| format!("reading claim {claim}"))?
            else {
                break;
            };
            let size = p
                .status
                .as_ref()
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage"))
                .or_else(|| {
                    p.spec
                        .as_ref()
                        .and_then(|s| s.resources.as_ref())
                        .and_then(|r| r.requests.as_ref())
                        .and_then(|r| r.get("storage"))
                })
                .map_or_else(|| "?".to_string(), |q| q.0.clone());
            kept.push((claim, size));
        }
    }
    println!("{name}: {previous} is gone; {current} serves. Its claims are kept:");
    for (claim, size) in &kept {
        println!("  {}/{claim}  {size}", c.namespace);
    }
    if !kept.is_empty() {
        println!(
            "delete them when the old data is no longer needed:\n  kubectl delete pvc -n {} {}",
            c.namespace,
            kept.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_said_per_role_and_table() {
        let old = Census {
            roles: ["app", "postgres"].map(String::from).into(),
            tables: [
                ("db.public.a".to_string(), 10),
                ("db.public.b".to_string(), 3),
            ]
            .into(),
        };
        assert!(differences(&old, &old.clone()).is_empty());
        let new = Census {
            roles: ["postgres"].map(String::from).into(),
            tables: [
                ("db.public.a".to_string(), 9),
                ("db.public.c".to_string(), 1),
            ]
            .into(),
        };
        assert_eq!(
            differences(&old, &new),
            [
                "role app is missing on the new server",
                "table db.public.a: 10 rows, 9 on the new server",
                "table db.public.b (3 rows) is missing on the new server",
                "table db.public.c is only on the new server",
            ]
        );
    }
}
