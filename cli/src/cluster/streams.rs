//! Streaming through `pods/exec`: run a shell script in a component's container with stdin
//! and stdout as byte streams, hashed on the way, with the exit status read from the status
//! channel. Used by `backup` and `restore`; any verb that moves bulk data through a pod can
//! reuse it.

use std::io::{Read, Write};

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Client;
use kube::api::{Api, AttachParams};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Pipe buffers for bulk transfer (kube-rs defaults to 1 KiB).
const PIPE: usize = 4 << 20;
/// Read and write chunk.
const CHUNK: usize = 1 << 20;
/// How much of a command's standard error is kept for messages.
const STDERR_KEEP: usize = 16 << 10;

/// A container of a running, ready pod of a component.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (the component's main container).
    pub container: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pod {}/{} (container {})",
            self.namespace, self.pod, self.container
        )
    }
}

/// A ready pod of `component` in the rollout `stack`, or an error naming what is wrong.
pub(crate) async fn ready_pod(
    client: &Client,
    stack: &voice_core::Stack,
    component: &str,
) -> anyhow::Result<Target> {
    let Some(c) = stack.selected_component(component) else {
        return Err(crate::error::Usage(format!(
            "`{component}` is not a component of this rollout (instance `{}`); see `kubectl voice plan` for the names",
            stack.config.instance
        ))
        .into());
    };
    let container = c
        .containers
        .first()
        .map(|x| x.name.clone())
        .context("the component has no container")?;
    let selector = crate::cluster::pods::of_component(stack, component);
    let pod = crate::cluster::pods::ready(client, &c.namespace, &selector)
        .await?
        .into_iter()
        .next()
        .context("no ready pod")?;
    Ok(Target {
        namespace: c.namespace.clone(),
        pod,
        container,
    })
}

/// The main container of the pod `pod` of `component`, which must be ready.
pub(crate) async fn pod_target(
    client: &Client,
    c: &voice_core::catalog::Component,
    pod: &str,
) -> anyhow::Result<Target> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &c.namespace);
    let p = api
        .get_opt(pod)
        .await
        .with_context(|| format!("reading pod {}/{pod}", c.namespace))?;
    if !p.as_ref().is_some_and(crate::cluster::pods::is_ready) {
        anyhow::bail!(
            "pod {}/{pod} is {}; see `kubectl describe pod -n {} {pod}`",
            c.namespace,
            if p.is_some() { "not ready" } else { "missing" },
            c.namespace
        );
    }
    Ok(Target {
        namespace: c.namespace.clone(),
        pod: pod.to_string(),
        container: c.main().name.clone(),
    })
}

/// What a finished command sent to standard output.
#[derive(Debug, Clone, Default)]
pub(crate) struct Streamed {
    /// Bytes.
    pub bytes: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
    /// The tail of its standard error.
    pub stderr: String,
}

/// Runs `sh -c SCRIPT sh ARGS…` in the target's container. Reads `stdin` (if any) into the
/// command's standard input and closes it at the end; writes its standard output to `out`
/// while hashing it; drains standard error at the same time. Fails when the command exits
/// non-zero, naming the status and the end of its standard error.
pub(crate) async fn exec(
    client: &Client,
    t: &Target,
    what: &str,
    script: &str,
    args: &[&str],
    mut stdin: Option<&mut (dyn Read + Send)>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Streamed> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let mut cmd: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    let ap = AttachParams::default()
        .container(t.container.clone())
        .stdin(stdin.is_some())
        .stdout(true)
        .stderr(true)
        .max_stdin_buf_size(PIPE)
        .max_stdout_buf_size(PIPE)
        .max_stderr_buf_size(STDERR_KEEP * 4);
    let mut proc = api
        .exec(&t.pod, cmd, &ap)
        .await
        .map_err(|e| exec_refused(e, t))
        .with_context(|| format!("{what}: starting a command in {t}"))?;
    let status = proc.take_status().context("exec status channel")?;
    let mut so = proc.stdout().context("exec stdout")?;
    let mut se = proc.stderr().context("exec stderr")?;
    let si = proc.stdin();

    let feed = async {
        let (Some(src), Some(mut w)) = (stdin.as_deref_mut(), si) else {
            return Ok::<u64, anyhow::Error>(0);
        };
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0u64;
        loop {
            let k = src.read(&mut buf).context("reading the local file")?;
            if k == 0 {
                break;
            }
            if w.write_all(&buf[..k]).await.is_err() {
                // The command stopped reading: its status says why.
                break;
            }
            n += k as u64;
        }
        let _ = w.shutdown().await;
        Ok(n)
    };
    let drain = async {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0u64;
        loop {
            let k = so.read(&mut buf).await.context("reading the stream")?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            out.write_all(&buf[..k]).context("writing the local file")?;
            n += k as u64;
        }
        out.flush().context("writing the local file")?;
        Ok::<_, anyhow::Error>((n, format!("{:x}", h.finalize())))
    };
    let errs = async {
        let mut kept: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 8192];
        while let Ok(k) = se.read(&mut buf).await {
            if k == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..k]);
            if kept.len() > STDERR_KEEP {
                kept.drain(..kept.len() - STDERR_KEEP);
            }
        }
        String::from_utf8_lossy(&kept).trim().to_string()
    };
    let (fed, drained, stderr) = tokio::join!(feed, drain, errs);
    let status = status.await;
    let _ = proc.join().await;
    fed.with_context(|| format!("{what} in {t}"))?;
    let (bytes, sha256) = drained.with_context(|| format!("{what} in {t}"))?;
    match exit_of(status.as_ref()) {
        Ok(()) => Ok(Streamed {
            bytes,
            sha256,
            stderr,
        }),
        Err(why) => {
            let tail = last_lines(&stderr, 6);
            let said = if tail.is_empty() {
                format!("{what} in {t} failed: {why}")
            } else {
                format!("{what} in {t} failed: {why}:\n{tail}")
            };
            Err(crate::error::Remote(said).into())
        }
    }
}

/// Runs a script and returns its standard output as text.
pub(crate) async fn text(
    client: &Client,
    t: &Target,
    what: &str,
    script: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let mut out = Vec::new();
    exec(client, t, what, script, args, None, &mut out).await?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The exit of a command from its final status: `Ok` for success, the reason otherwise.
pub(crate) fn exit_of(status: Option<&Status>) -> Result<(), String> {
    let Some(s) = status else {
        return Err("the connection ended without an exit status (network or API server problem); run again".into());
    };
    if s.status.as_deref() == Some("Success") {
        return Ok(());
    }
    let code = s.details.as_ref().and_then(|d| {
        d.causes
            .iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.clone())
    });
    // Runtimes that answer without the structured cause still say it in the message.
    let code = code.or_else(|| {
        let m = s.message.as_deref()?;
        let at = m
            .rfind("exit status ")
            .map(|i| i + 12)
            .or_else(|| m.rfind("exit code ").map(|i| i + 10))?;
        let digits: String = m[at..].chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    });
    match (code, s.message.as_deref()) {
        (Some(c), _) => Err(format!("exit code {c}")),
        (None, Some(m)) if !m.is_empty() => Err(m.to_string()),
        (None, _) => Err(format!(
            "{} {}",
            s.code.unwrap_or_default(),
            s.reason.as_deref().unwrap_or("failed")
        )),
    }
}

/// The exec request was refused: say which permission it takes.
fn exec_refused(e: kube::Error, t: &Target) -> anyhow::Error {
    let forbidden = matches!(&e, kube::Error::Api(s) if s.code == 403);
    let err = anyhow::Error::new(e);
    if forbidden {
        err.context(format!(
            "exec into {}/{} is forbidden: this needs `get` and `create` on pods/exec in namespace {} (`create` is checked from Kubernetes 1.35)",
            t.namespace, t.pod, t.namespace
        ))
    } else {
        err
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// sha256 of a local file, lower-case hex, and its size.
pub(crate) fn sha256_file(path: &std::path::Path) -> anyhow::Result<(u64, String)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, format!("{:x}", h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn exit_status_from_the_status_channel() {
        assert_eq!(
            exit_of(Some(&status(serde_json::json!({"status": "Success"})))),
            Ok(())
        );
        let failed = status(serde_json::json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: error executing command [sh -c x], exit code 3",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
        }));
        assert_eq!(exit_of(Some(&failed)), Err("exit code 3".into()));
        assert!(
            exit_of(None)
                .unwrap_err()
                .contains("without an exit status")
        );
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "  b\n  c");
    }
}
