//! `kubectl voice switch COMPONENT --image IMAGE | --to COLOUR | --back | --finalize`: a
//! blue-green release of one service as one gated transaction. The idle colour is brought up
//! (with the new image), waited on through install's gates, checked over HTTP through
//! port-forwards to its own pods, and only then does the Service select it. The previous
//! colour keeps running for `--back` until `--finalize` (or `--keep`) scales it to zero.
//! Each step is a configuration change recorded in the history, so `status`, `history` and
//! `rollback` know the live colour, and an install that would undo it says so.

use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use voice_core::config::Color;

use crate::args::ApplyFlags;
use crate::args::ClusterArgs;
use crate::args::{ConfigArgs, duration};
use crate::cluster::{self, health, inventory};
use crate::config;
use crate::error::{Usage, exit};
use crate::ops::configure::Rollout;

// The flags of `kubectl voice switch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The blue-green service (`voiceAssistant.services.<name>.blueGreen: true`).
    pub component: String,
    /// Bring up the idle colour with this image, check it, then move traffic to it.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Check that colour's pods, then move traffic to it (starting it if it was finalized).
    #[arg(long, value_name = "COLOUR", value_parser = ["blue", "green"])]
    pub to: Option<String>,
    /// Move traffic back to the previous colour at once (it must still be running).
    #[arg(long)]
    pub back: bool,
    /// Scale the idle colour to zero: the end of the window for `--back`.
    #[arg(long)]
    pub finalize: bool,
    /// After a switch, keep the previous colour this long, then finalize (`10m`); without
    /// it, the previous colour runs until `switch --finalize`.
    #[arg(long, value_name = "DURATION")]
    pub keep: Option<String>,
    /// Health-check rounds against every new pod; all must pass.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub checks: u32,
    /// Time between health-check rounds.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub check_interval: String,
    /// Configuration (to find the rollout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to apply.
    #[command(flatten)]
    pub apply: ApplyFlags,
}

/// What the run was asked to do.
enum Mode {
    Image(String),
    To(Color),
    Back,
    Finalize,
}

impl Args {
    fn mode(&self) -> anyhow::Result<Mode> {
        let to = self.to.as_deref().map(|c| match c {
            "green" => Color::Green,
            _ => Color::Blue,
        });
        let mut modes = Vec::new();
        if let Some(i) = &self.image {
            voice_core::config::check_image(i).map_err(|why| Usage(format!("--image {why}")))?;
            modes.push(Mode::Image(i.clone()));
        }
        if let Some(c) = to {
            modes.push(Mode::To(c));
        }
        if self.back {
            modes.push(Mode::Back);
        }
        if self.finalize {
            modes.push(Mode::Finalize);
        }
        match modes.len() {
            1 => Ok(modes.remove(0)),
            _ => Err(Usage(
                "say one thing to do: --image IMAGE, --to blue|green, --back or --finalize".into(),
            )
            .into()),
        }
    }
}

/// The change of a service's active colour.
fn active_change(service: &str, color: Color) -> voice_core::Change {
    voice_core::Change::ActiveColor {
        service: service.to_string(),
        color,
    }
}

/// The change of whether a service's idle colour keeps its pods.
fn standby_change(service: &str, standby: bool) -> voice_core::Change {
    voice_core::Change::Standby {
        service: service.to_string(),
        standby,
    }
}

/// Runs the command against the cluster.
pub(crate) async fn run(ca: &ClusterArgs, args: Args) -> anyhow::Result<u8> {
    let mode = args.mode()?;
    let keep = args.keep.as_deref().map(duration).transpose()?;
    let interval = duration(&args.check_interval)?;
    let dry_run = crate::args::dry_run(args.apply.dry_run.as_deref())?;
    let started = Instant::now();
    let here = config::load(&args.config)?;
    let client = cluster::client(ca).await?;
    let inv = inventory::Inventory::of(&here, ca.namespace.as_deref());
    let mut rollout = Rollout::read(&client, &inv).await?;
    let stack = rollout.recorded.build(&rollout.selection)?;
    let name = args.component.as_str();
    let c = stack.component(name).ok_or_else(|| {
        Usage(format!(
            "`{name}` is not a component of this rollout; see `kubectl voice plan` for the names"
        ))
    })?;
    let bg = c.blue_green.clone().ok_or_else(|| {
        Usage(format!(
            "{name} is not deployed blue-green; set voiceAssistant.services.{name}.blueGreen: true in voice.yaml and install"
        ))
    })?;
    let (active, idle) = (bg.active, bg.active.other());
    let flags = &args.apply;

    let target = match &mode {
        Mode::Finalize => {
            if !bg.standby {
                println!("{name}: {} is already scaled to zero", idle.as_str());
                return Ok(exit::OK);
            }
            return finalize(ca, flags, &mut rollout, name, idle).await;
        }
        Mode::Back => {
            if !bg.standby {
                return Err(Usage(format!(
                    "{name}: {idle} was scaled to zero by --finalize; bring it back with `--to {idle}`, which starts and checks it first",
                    idle = idle.as_str()
                ))
                .into());
            }
            rollout.set(active_change(name, idle))?;
            let code = rollout
                .apply(
                    ca,
                    flags,
                    format!("switch {name} back to {}", idle.as_str()),
                )
                .await?;
            if code == exit::OK {
                println!(
                    "{name}: traffic on {} again ({} keeps running; `switch {name} --finalize` scales it to zero)",
                    idle.as_str(),
                    active.as_str()
                );
            }
            return Ok(code);
        }
        Mode::To(k) if *k == active => {
            println!("{name}: traffic is already on {}", active.as_str());
            return Ok(exit::OK);
        }
        Mode::To(_) => {
            if !bg.standby {
                rollout.set(standby_change(name, true))?;
                let code = rollout
                    .apply(ca, flags, format!("switch {name}: start {}", idle.as_str()))
                    .await?;
                if code != exit::OK {
                    return Ok(code);
                }
            }
            idle
        }
        Mode::Image(image) => {
            rollout.set(voice_core::Change::ColorImage {
                service: name.to_string(),
                color: idle,
                image: image.clone(),
            })?;
            if !bg.standby {
                rollout.set(standby_change(name, true))?;
            }
            let code = rollout
                .apply(
                    ca,
                    flags,
                    format!("switch {name}: {} runs {image}", idle.as_str()),
                )
                .await?;
            if code != exit::OK {
                eprintln!(
                    "{name}: {} did not become ready; traffic stays on {}",
                    idle.as_str(),
                    active.as_str()
                );
                return Ok(code);
            }
            idle
        }
    };

    // The new colour is up and past its gates: check its own pods before any traffic.
    if dry_run {
        println!(
            "(server dry run) the health check of {} is skipped",
            target.as_str()
        );
    } else if let Some((path, port)) = voice_core::plan::http_health(c) {
        let selector = format!(
            "{},color={}",
            cluster::pods::of_component(&stack, name),
            target.as_str()
        );
        let pods: Api<Pod> = Api::namespaced(client.clone(), &c.namespace);
        let check = health::Check {
            selector: &selector,
            port: port.port,
            path,
            rounds: args.checks.max(1),
            interval,
            timeout: Duration::from_secs(5),
        };
        match health::run(&pods, &check)
            .await
            .with_context(|| format!("checking the health of {name}-{}", target.as_str()))?
        {
            Ok(n) => eprintln!(
                "{name}-{}: {n} pod(s) answered GET {path} {} time(s)",
                target.as_str(),
                check.rounds
            ),
            Err(failure) => {
                eprintln!(
                    "error: health check of {name}-{} failed: {failure}\n{name}: nothing was switched; traffic stays on {}. {} keeps running for a look (`kubectl voice logs {name}`); `switch {name} --finalize` scales it to zero",
                    target.as_str(),
                    active.as_str(),
                    target.as_str()
                );
                return Ok(exit::NOT_READY);
            }
        }
    } else {
        eprintln!("{name} has no HTTP health endpoint: its readiness gates are the check");
    }

    rollout.set(active_change(name, target))?;
    let code = rollout
        .apply(ca, flags, format!("switch {name} to {}", target.as_str()))
        .await?;
    if code != exit::OK {
        return Ok(code);
    }
    println!(
        "{name}: traffic on {} ({:.1}s after the switch began); {} keeps running: `switch {name} --back` moves traffic back at once",
        target.as_str(),
        started.elapsed().as_secs_f64(),
        active.as_str()
    );
    eprintln!(
        "note: connections opened before the switch (keep-alive, gRPC, WebSocket) stay on {} until they close",
        active.as_str()
    );
    match keep {
        Some(d) if !dry_run => {
            eprintln!(
                "keeping {} for {}s, then scaling it to zero (Ctrl-C keeps it until `switch {name} --finalize`)",
                active.as_str(),
                d.as_secs()
            );
            tokio::time::sleep(d).await;
            finalize(ca, flags, &mut rollout, name, active).await
        }
        _ => Ok(exit::OK),
    }
}

/// Scales the idle colour to zero.
async fn finalize(
    ca: &ClusterArgs,
    flags: &ApplyFlags,
    rollout: &mut Rollout,
    name: &str,
    idle: Color,
) -> anyhow::Result<u8> {
    rollout.set(standby_change(name, false))?;
    let code = rollout
        .apply(
            ca,
            flags,
            format!("switch {name}: finalize, {} scaled to zero", idle.as_str()),
        )
        .await?;
    if code == exit::OK {
        println!(
            "{name}: {} scaled to zero; `switch {name} --to {}` brings it back after a check",
            idle.as_str(),
            idle.as_str()
        );
    }
    Ok(code)
}
