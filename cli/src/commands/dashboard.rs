//! `kubectl voice dashboard NAME…|all`: port-forwards to the web UIs of the rollout
//! (the catalog's `Component::ui`, Kiali with Istio), each following its component rather
//! than one pod (`crate::cluster::forward`). Tries each UI's well-known local port, then a free one,
//! probes each UI once through its forward, prints a table of URLs with where the login comes
//! from (never a password), and runs until Ctrl-C, which ends only its own forwards.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use voice_core::dashboards::Dashboard;

use crate::args::ClusterArgs;
use crate::args::ConfigArgs;
use crate::cluster::{self, forward, history, pods};
use crate::error::{Usage, exit};
use crate::{config, output};

// The flags of `kubectl voice dashboard`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// UIs to open (grafana, prometheus, alertmanager, jaeger, kiali, nacos, minio, posthog), or `all`.
    #[arg(required = true, value_name = "NAME")]
    pub dashboards: Vec<String>,
    /// Local port (one UI only; 0 picks a free one). Default: the UI's own port, else a free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: IpAddr,
    /// Open each URL in the browser (xdg-open or open).
    #[arg(long)]
    pub open: bool,
    /// Configuration (to find the rollout, and to start from when it has no history).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The UIs named on the command line (`all`: every one), or a usage error listing those the
/// rollout has.
pub(crate) fn pick<'a>(
    all: &'a [Dashboard],
    names: &[String],
) -> anyhow::Result<Vec<&'a Dashboard>> {
    let list = || {
        if all.is_empty() {
            "this rollout has none".to_string()
        } else {
            format!(
                "this rollout has: {}",
                all.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
            )
        }
    };
    if names.iter().any(|n| n == "all") {
        if all.is_empty() {
            return Err(Usage(format!("no dashboards to open: {}", list())).into());
        }
        return Ok(all.iter().collect());
    }
    let mut out: Vec<&Dashboard> = Vec::new();
    for n in names {
        match all.iter().find(|d| d.name == n) {
            Some(d) if !out.iter().any(|o| o.name == d.name) => out.push(d),
            Some(_) => {}
            None => {
                return Err(Usage(format!(
                    "`{n}` is not a dashboard of this rollout; {}",
                    list()
                ))
                .into());
            }
        }
    }
    Ok(out)
}

/// Where a UI's login comes from, in words (never the value).
fn login_hint(d: &Dashboard) -> String {
    let Some(l) = &d.login else {
        return "-".into();
    };
    let user = match (&l.user, &l.user_key) {
        (Some(u), _) => (*u).to_string(),
        (None, Some(k)) => format!("key {k}"),
        (None, None) => "-".into(),
    };
    format!(
        "user {user}, password: Secret {}/{} key {}",
        d.namespace, l.secret, l.password_key
    )
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let here = config::load(&args.config)?;
    let client = cluster::client(ca).await?;
    let stack = history::installed(&client, ca, here).await?;
    let all = voice_core::dashboards::dashboards(&stack);
    let chosen = pick(&all, &args.dashboards)?;
    let every = args.dashboards.iter().any(|n| n == "all");
    if args.port.is_some() && chosen.len() > 1 {
        return Err(
            Usage("--port takes one dashboard; without it each gets its own port".into()).into(),
        );
    }

    let mut open = Vec::new();
    for d in chosen {
        let selector = pods::selector(&d.selector);
        // A UI with no ready pod: an error when named, a note with `all`.
        if let Err(e) = pods::ready(&client, &d.namespace, &selector).await {
            if every && e.downcast_ref::<crate::error::NoReadyPod>().is_some() {
                eprintln!("{}: skipped: {e}", d.name);
                continue;
            }
            return Err(e.context(format!("dashboard {}", d.name)));
        }
        let context = || format!("dashboard {}", d.name);
        let handle = match args.port {
            Some(p) => {
                let local = SocketAddr::new(args.address, p);
                forward::open(client.clone(), &d.namespace, &selector, d.port, local)
                    .await
                    .with_context(context)?
                    .1
            }
            None => {
                let listener = forward::bind_preferred(args.address, d.port)
                    .await
                    .with_context(context)?;
                forward::serve(client.clone(), &d.namespace, &selector, d.port, listener)?
            }
        };
        open.push((d, handle));
    }
    if open.is_empty() {
        return Err(Usage(
            "none of the dashboards has a ready pod; see `kubectl voice status`".into(),
        )
        .into());
    }

    let mut rows = Vec::new();
    for (d, h) in &open {
        let url = url(h.local_addr(), d.path);
        let answer = match probe(h.local_addr(), d.path).await {
            Ok(status) => status,
            Err(e) => format!("no answer yet: {e:#}"),
        };
        rows.push(vec![d.name.to_string(), url, answer, login_hint(d)]);
    }
    println!(
        "{}",
        output::table(&["DASHBOARD", "URL", "ANSWER", "LOGIN"], rows.clone())
    );
    for (d, _) in &open {
        if let Some(l) = &d.login {
            println!(
                "{} password: kubectl get secret -n {} {} -o jsonpath='{{.data.{}}}' | base64 -d",
                d.name, d.namespace, l.secret, l.password_key
            );
        }
    }
    if args.open {
        for r in &rows {
            browse(&r[1]);
        }
    }
    println!("forwarding through the API server; Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    for (_, h) in open {
        h.close();
    }
    eprintln!("dashboard: forwards closed");
    Ok(exit::OK)
}

fn url(addr: SocketAddr, path: &str) -> String {
    let host = match addr.ip() {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}{path}", addr.port())
}

/// One HTTP GET of `path` through the forward: the status line's code and reason.
pub(crate) async fn probe(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let connect = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let go = async {
        let s = tokio::net::TcpStream::connect(connect).await?;
        cluster::health::status(s, &connect.to_string(), path).await
    };
    let (code, reason) = tokio::time::timeout(Duration::from_secs(20), go)
        .await
        .context("timed out after 20s")??;
    Ok(format!("{code} {reason}").trim_end().to_string())
}

/// Opens a URL in the browser, or says how to.
fn browse(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let ok = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok();
    if !ok {
        eprintln!("could not run {opener}: open {url} in your browser");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(profile: &str) -> voice_core::Stack {
        config::load(&ConfigArgs {
            profile: Some(profile.into()),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn names_are_checked_against_the_rollout() {
        let s = stack("dev");
        let all = voice_core::dashboards::dashboards(&s);
        let e = pick(&all, &["grafana".into()]).unwrap_err().to_string();
        assert_eq!(
            e,
            "`grafana` is not a dashboard of this rollout; this rollout has: posthog, minio"
        );
        let both = pick(&all, &["all".into()]).unwrap();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn the_login_hint_names_the_secret_never_a_value() {
        let s = stack("production");
        let all = voice_core::dashboards::dashboards(&s);
        let g = pick(&all, &["grafana".into()]).unwrap()[0];
        assert_eq!(
            login_hint(g),
            "user admin, password: Secret voiceassistant-infra/infra-secrets key GRAFANA_ADMIN_PASSWORD"
        );
        assert_eq!(
            url("127.0.0.1:3000".parse().unwrap(), "/nacos/"),
            "http://127.0.0.1:3000/nacos/"
        );
    }
}
