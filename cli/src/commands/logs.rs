//! `kubectl voice logs COMPONENT…`: the logs of every pod of the components (namespace and
//! selector from the planner), one line each prefixed `pod/container` and coloured per pod,
//! the Istio sidecar hidden unless `--all-containers`. With `-f` a pod watch starts a stream
//! for each new pod and ends it when the pod goes; streams are a bounded pool
//! (`--max-streams`), a broken stream reconnects from the last timestamp seen and drops the
//! lines it already printed. `-o json` prints one object a line.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufReadExt as _, StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::watcher;
use tokio::sync::{Semaphore, mpsc};

use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, Selection};
use crate::cluster::{self, history, pods};
use crate::config;
use crate::error::{Usage, exit};

/// The container Istio injects.
pub(crate) const SIDECAR: &str = "istio-proxy";

/// Output format of `logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(crate) enum Format {
    /// `pod/container message`.
    #[default]
    Text,
    /// One JSON object a line: component, pod, container, time, message, level.
    Json,
}

// The flags of `kubectl voice logs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Components whose logs to show (see `kubectl voice plan`).
    #[arg(required = true, value_name = "COMPONENT")]
    pub components: Vec<String>,
    /// Follow: keep streaming, picking up new pods and dropping deleted ones.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines newer than this (`10s`, `5m`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = crate::args::parse_duration)]
    pub since: Option<Duration>,
    /// Lines to show from the end of each container's log (pods present at the start).
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Only this container.
    #[arg(short = 'c', long, value_name = "CONTAINER")]
    pub container: Option<String>,
    /// Every container, the Istio sidecar and init containers included.
    #[arg(long, conflicts_with = "container")]
    pub all_containers: bool,
    /// Output: text or json.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Format,
    /// At most this many log streams at once; the others wait for a free one.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams: u32,
    /// A voice.yaml file (`-` for standard input), to find the rollout.
    #[arg(long = "file", value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    /// Embedded profile: dev, small or production.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Override a field (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Which parts (as for install).
    #[command(flatten)]
    pub select: Selection,
}

/// One component's pods.
#[derive(Debug, Clone)]
struct Source {
    component: String,
    namespace: String,
    selector: String,
}

/// A stream's identity: pod uid and container.
type Key = (String, String);

enum Msg {
    Line(String),
    Note(String),
    /// A stream that could not be read (without `--follow`), said on stderr and counted.
    Failed(String),
    Finished(Key, String),
}

#[derive(Clone)]
struct Ctx {
    client: kube::Client,
    tx: mpsc::Sender<Msg>,
    pool: Arc<Semaphore>,
    follow: bool,
    format: Format,
    color: bool,
    since: Option<Duration>,
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let here = config::load(&ConfigArgs {
        file: args.file.clone(),
        profile: args.profile.clone(),
        sets: args.sets.clone(),
        select: args.select.clone(),
    })?;
    let client = cluster::client(ca).await?;
    let stack = history::installed(&client, ca, here).await?;
    let mut sources = Vec::new();
    for name in &args.components {
        let Some(c) = stack.component(name) else {
            let names: Vec<&str> = stack.components.iter().map(|c| c.name.as_str()).collect();
            return Err(Usage(format!(
                "`{name}` is not a component of this rollout; it has: {}",
                names.join(", ")
            ))
            .into());
        };
        // With --only/--skip, only the selected parts' namespaces are read.
        if (!args.select.only.is_empty() || !args.select.skip.is_empty())
            && stack.selected_component(name).is_none()
        {
            return Err(Usage(format!(
                "`{name}` is not in this run's selection ({}); name a component of it, or drop --only/--skip",
                stack.selection.describe()
            ))
            .into());
        }
        sources.push(Source {
            component: c.name.clone(),
            namespace: c.namespace.clone(),
            selector: pods::of_component(&stack, name),
        });
    }
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let ctx = Ctx {
        client: client.clone(),
        tx,
        pool: Arc::new(Semaphore::new(args.max_streams as usize)),
        follow: args.follow,
        format: args.output,
        color: crate::output::color(),
        since: args.since,
    };
    let mut streams: HashMap<Key, (String, tokio::task::AbortHandle)> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let pick = Picker {
        container: args.container.clone(),
        all: args.all_containers,
    };

    if !args.follow {
        for (i, s) in sources.iter().enumerate() {
            let api: Api<Pod> = Api::namespaced(client.clone(), &s.namespace);
            let list = api
                .list(&ListParams::default().labels(&s.selector))
                .await
                .map_err(anyhow::Error::new)
                .map_err(|e| e.context(format!("listing the pods of {}", s.component)))?;
            if list.items.is_empty() {
                eprintln!("{}: no pods in namespace {}", s.component, s.namespace);
            }
            for p in &list.items {
                start(
                    &ctx,
                    &mut tasks,
                    &mut streams,
                    &sources[i],
                    p,
                    &pick,
                    args.tail,
                );
            }
        }
        drop(ctx);
        let total = streams.len();
        let mut failed = 0;
        let mut out = std::io::stdout().lock();
        while let Some(m) = rx.recv().await {
            failed += usize::from(matches!(m, Msg::Failed(_)));
            emit(&mut out, m, &mut streams)?;
        }
        if failed > 0 {
            return Err(crate::error::Remote(format!(
                "{failed} of {total} log stream(s) could not be read (said above){}",
                if failed < total {
                    "; the lines printed came from the others"
                } else {
                    ""
                }
            ))
            .into());
        }
        return Ok(exit::OK);
    }

    // Following: one pod watch per component.
    let mut watches = futures::stream::select_all(sources.iter().enumerate().map(|(i, s)| {
        let api: Api<Pod> = Api::namespaced(client.clone(), &s.namespace);
        watcher(api, watcher::Config::default().labels(&s.selector))
            .map(move |e| (i, e))
            .boxed()
    }));
    let mut initial: HashSet<usize> = (0..sources.len()).collect();
    let out = std::io::stdout();
    loop {
        tokio::select! {
            Some(m) = rx.recv() => emit(&mut out.lock(), m, &mut streams)?,
            Some((i, ev)) = watches.next() => match ev {
                Ok(watcher::Event::InitApply(p)) => {
                    start(&ctx, &mut tasks, &mut streams, &sources[i], &p, &pick, args.tail);
                }
                Ok(watcher::Event::InitDone) => {
                    initial.remove(&i);
                }
                Ok(watcher::Event::Apply(p)) => {
                    let tail = if initial.contains(&i) { args.tail } else { None };
                    if p.metadata.deletion_timestamp.is_some() {
                        ended(&mut streams, &p, "pod is terminating");
                    } else {
                        start(&ctx, &mut tasks, &mut streams, &sources[i], &p, &pick, tail);
                    }
                }
                Ok(watcher::Event::Delete(p)) => ended(&mut streams, &p, "pod deleted"),
                Ok(watcher::Event::Init) => {}
                Err(e) => eprintln!(
                    "{}: watching pods: {} (retrying)",
                    sources[i].component,
                    crate::error::in_words(&anyhow::Error::new(e))
                ),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(exit::OK)
}

/// Which containers of a pod to stream.
struct Picker {
    container: Option<String>,
    all: bool,
}

impl Picker {
    fn containers(&self, p: &Pod) -> Vec<String> {
        let Some(spec) = &p.spec else {
            return Vec::new();
        };
        let main = spec.containers.iter().map(|c| c.name.clone());
        match (&self.container, self.all) {
            (Some(c), _) => spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .filter(|x| &x.name == c)
                .map(|x| x.name.clone())
                .collect(),
            (None, true) => spec
                .init_containers
                .iter()
                .flatten()
                .map(|c| c.name.clone())
                .chain(main)
                .collect(),
            (None, false) => main.filter(|n| n != SIDECAR).collect(),
        }
    }
}

/// Whether a container has started (running or terminated), so it has a log.
fn started(p: &Pod, container: &str) -> bool {
    let Some(s) = &p.status else { return false };
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .filter(|c| c.name == container)
        .any(|c| {
            c.state
                .as_ref()
                .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
        })
}

/// Starts a stream for each wanted container of `p` that has started and has none yet.
fn start(
    ctx: &Ctx,
    tasks: &mut tokio::task::JoinSet<()>,
    streams: &mut HashMap<Key, (String, tokio::task::AbortHandle)>,
    src: &Source,
    p: &Pod,
    pick: &Picker,
    tail: Option<i64>,
) {
    let (Some(name), Some(uid)) = (p.metadata.name.clone(), p.metadata.uid.clone()) else {
        return;
    };
    for c in pick.containers(p) {
        let key = (uid.clone(), c.clone());
        if streams.contains_key(&key) || !started(p, &c) {
            continue;
        }
        let stream = Stream {
            ctx: ctx.clone(),
            component: src.component.clone(),
            namespace: src.namespace.clone(),
            pod: name.clone(),
            uid: uid.clone(),
            container: c.clone(),
            tail,
        };
        let h = tasks.spawn(stream.run());
        streams.insert(key, (format!("{name}/{c}"), h));
    }
}

/// Ends every stream of a pod that goes, saying so on stderr.
fn ended(streams: &mut HashMap<Key, (String, tokio::task::AbortHandle)>, p: &Pod, why: &str) {
    let Some(uid) = &p.metadata.uid else { return };
    let keys: Vec<Key> = streams.keys().filter(|k| &k.0 == uid).cloned().collect();
    for k in keys {
        if let Some((label, h)) = streams.remove(&k) {
            h.abort();
            eprintln!("{label}: stream ended ({why})");
        }
    }
}

fn emit(
    out: &mut impl std::io::Write,
    m: Msg,
    streams: &mut HashMap<Key, (String, tokio::task::AbortHandle)>,
) -> anyhow::Result<()> {
    match m {
        Msg::Line(l) => {
            out.write_all(l.as_bytes())?;
            out.flush()?;
        }
        Msg::Note(n) | Msg::Failed(n) => eprintln!("{n}"),
        Msg::Finished(k, why) => {
            if let Some((label, _)) = streams.remove(&k) {
                eprintln!("{label}: stream ended ({why})");
            }
        }
    }
    Ok(())
}

/// One container's log stream.
struct Stream {
    ctx: Ctx,
    component: String,
    namespace: String,
    pod: String,
    uid: String,
    container: String,
    tail: Option<i64>,
}

impl Stream {
    async fn run(self) {
        let key = (self.uid.clone(), self.container.clone());
        let label = format!("{}/{}", self.pod, self.container);
        let permit = match self.ctx.pool.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let _ = self
                    .ctx
                    .tx
                    .send(Msg::Note(format!(
                        "{label}: waiting for a free stream (--max-streams reached)"
                    )))
                    .await;
                match self.ctx.pool.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        };
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        let mut seen = Seen::default();
        let mut backoff = Duration::from_millis(250);
        let why = loop {
            let mut lp = LogParams {
                container: Some(self.container.clone()),
                follow: self.ctx.follow,
                timestamps: true,
                ..Default::default()
            };
            match seen.last {
                Some(t) => lp.since_time = Some(t),
                None => {
                    lp.tail_lines = self.tail;
                    lp.since_seconds = self.ctx.since.map(|d| d.as_secs().max(1) as i64);
                }
            }
            let result = match api.log_stream(&self.pod, &lp).await {
                Ok(r) => {
                    let mut lines = r.lines();
                    loop {
                        match lines.try_next().await {
                            Ok(Some(l)) => {
                                backoff = Duration::from_millis(250);
                                if let Some(text) = self.line(&l, &mut seen)
                                    && self.ctx.tx.send(Msg::Line(text)).await.is_err()
                                {
                                    return;
                                }
                            }
                            Ok(None) => break Ok(()),
                            Err(e) => break Err(e.to_string()),
                        }
                    }
                }
                Err(e) => Err(crate::error::explain(&e).reason),
            };
            if !self.ctx.follow {
                if let Err(e) = result {
                    let _ = self.ctx.tx.send(Msg::Failed(format!("{label}: {e}"))).await;
                }
                break "done".to_string();
            }
            // Following: the stream broke or ended. Resume unless the pod or container is gone.
            match api.get_opt(&self.pod).await {
                Ok(None) => break "pod deleted".into(),
                Ok(Some(p)) if p.metadata.uid.as_deref() != Some(&self.uid) => {
                    break "pod replaced".into();
                }
                Ok(Some(p)) if p.metadata.deletion_timestamp.is_some() => {
                    break "pod is terminating".into();
                }
                _ => {}
            }
            if let Err(e) = &result {
                let _ = self
                    .ctx
                    .tx
                    .send(Msg::Note(format!(
                        "{label}: stream broke ({e}); reconnecting"
                    )))
                    .await;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        };
        drop(permit);
        if self.ctx.follow {
            let _ = self.ctx.tx.send(Msg::Finished(key, why)).await;
        }
    }

    /// Formats one line `TIMESTAMP message`, or drops it when already printed.
    fn line(&self, raw: &str, seen: &mut Seen) -> Option<String> {
        let (time, msg) = match raw.split_once(' ') {
            Some((t, m)) => match t.parse::<Timestamp>() {
                Ok(ts) => (Some(ts), m),
                Err(_) => (None, raw),
            },
            None => (raw.parse::<Timestamp>().ok(), ""),
        };
        if let Some(t) = time
            && !seen.fresh(t, msg)
        {
            return None;
        }
        Some(match self.ctx.format {
            Format::Text => {
                let prefix = format!("{}/{}", self.pod, self.container);
                if self.ctx.color {
                    format!("\x1b[{}m{prefix}\x1b[0m {msg}\n", colour(&self.pod))
                } else {
                    format!("{prefix} {msg}\n")
                }
            }
            Format::Json => {
                let mut v = serde_json::json!({
                    "component": self.component,
                    "pod": self.pod,
                    "container": self.container,
                    "time": time.map(|t| t.to_string()),
                    "message": msg,
                });
                if let Some(l) = level(msg) {
                    v["level"] = l.into();
                }
                format!("{v}\n")
            }
        })
    }
}

/// What a stream printed, to drop the lines a reconnection from `since_time` sends again:
/// everything before the last timestamp seen, and the lines already seen at it.
#[derive(Default)]
struct Seen {
    last: Option<Timestamp>,
    at_last: HashSet<u64>,
}

impl Seen {
    fn fresh(&mut self, t: Timestamp, msg: &str) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        msg.hash(&mut h);
        let h = h.finish();
        match self.last {
            Some(last) if t < last => false,
            Some(last) if t == last => self.at_last.insert(h),
            _ => {
                self.last = Some(t);
                self.at_last.clear();
                self.at_last.insert(h);
                true
            }
        }
    }
}

/// An ANSI colour per pod name, stable across runs.
fn colour(pod: &str) -> u8 {
    const PALETTE: [u8; 10] = [31, 32, 33, 34, 35, 36, 91, 92, 94, 95];
    let h = pod.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

/// The level of a line, when it says one in a common way (`level=warn`, `"level":"info"`,
/// `ERROR …`, `[WARN]`).
fn level(msg: &str) -> Option<&'static str> {
    let head: String = msg
        .chars()
        .take(120)
        .collect::<String>()
        .to_ascii_lowercase();
    let norm = |w: &str| -> Option<&'static str> {
        Some(match w {
            "trace" => "trace",
            "debug" | "dbg" => "debug",
            "info" | "information" | "notice" => "info",
            "warn" | "warning" => "warn",
            "error" | "err" => "error",
            "fatal" | "critical" | "crit" | "panic" => "fatal",
            _ => return None,
        })
    };
    for key in ["\"level\":", "level=", "lvl=", "\"severity\":", "severity="] {
        if let Some(i) = head.find(key) {
            let rest = head[i + key.len()..].trim_start_matches([' ', '"']);
            let w: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if let Some(l) = norm(&w) {
                return Some(l);
            }
        }
    }
    head.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .take(4)
        .find_map(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_when_cheap() {
        assert_eq!(level("level=warn msg=x"), Some("warn"));
        assert_eq!(level(r#"{"level":"INFO","msg":"up"}"#), Some("info"));
        assert_eq!(level("2026-12-01 ERROR boom"), Some("error"));
        assert_eq!(level("[WARN] disk"), Some("warn"));
        assert_eq!(level("listening on :8080"), None);
    }

    #[test]
    fn a_reconnection_drops_the_lines_already_printed() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let mut seen = Seen::default();
        assert!(seen.fresh(t("2026-12-01T10:00:00.5Z"), "a"));
        assert!(seen.fresh(t("2026-12-01T10:00:01Z"), "b"));
        assert!(seen.fresh(t("2026-12-01T10:00:01Z"), "c"));
        // Resumed from 10:00:00 (since_time has second precision): a, b, c again, then d.
        assert!(!seen.fresh(t("2026-12-01T10:00:00.5Z"), "a"));
        assert!(!seen.fresh(t("2026-12-01T10:00:01Z"), "b"));
        assert!(!seen.fresh(t("2026-12-01T10:00:01Z"), "c"));
        assert!(seen.fresh(t("2026-12-01T10:00:02Z"), "d"));
        assert_eq!(colour("web-0"), colour("web-0"));
    }
}
