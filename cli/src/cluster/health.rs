//! HTTP health checks of individual pods through the API server's port-forward: it reaches
//! a pod wherever the API server can reach its kubelet, including where the service proxy
//! cannot reach pod addresses, and it checks exactly the pods named (a new colour's pods,
//! before any Service selects them).

use std::time::Duration;

use anyhow::{Context, anyhow};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Failure;

/// What to check: `GET path` on `port` of every ready pod that `selector` matches, `rounds`
/// times, `interval` apart; each answer must be 2xx or 3xx within `timeout`.
#[derive(Debug, Clone)]
pub(crate) struct Check<'a> {
    pub selector: &'a str,
    pub port: u16,
    pub path: &'a str,
    pub rounds: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Runs `check` against the pods in `pods`' namespace. `Ok(Err(_))` is a failed check;
/// `Err(_)` is a cluster error.
pub(crate) async fn run(
    pods: &Api<Pod>,
    check: &Check<'_>,
) -> anyhow::Result<Result<usize, Failure>> {
    let listed = pods
        .list(&ListParams::default().labels(check.selector))
        .await
        .with_context(|| format!("listing the pods of {}", check.selector))?;
    let ready: Vec<String> = listed
        .items
        .iter()
        .filter(|p| crate::cluster::pods::is_ready(p))
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    if ready.is_empty() {
        return Ok(Err(Failure(format!(
            "no ready pod matches {}",
            check.selector
        ))));
    }
    for round in 1..=check.rounds {
        if round > 1 {
            tokio::time::sleep(check.interval).await;
        }
        for pod in &ready {
            let answer =
                tokio::time::timeout(check.timeout, get(pods, pod, check.port, check.path))
                    .await
                    .map_err(|_| anyhow!("no answer within {:?}", check.timeout))
                    .and_then(|r| r);
            match answer {
                Ok(code) if (200..400).contains(&code) => {}
                Ok(code) => {
                    return Ok(Err(Failure(format!(
                        "pod {pod} answered {code} to GET {} on port {} (check {round} of {})",
                        check.path, check.port, check.rounds
                    ))));
                }
                Err(e) => {
                    return Ok(Err(Failure(format!(
                        "pod {pod} did not answer GET {} on port {} (check {round} of {}): {}",
                        check.path,
                        check.port,
                        check.rounds,
                        crate::error::in_words(&e)
                    ))));
                }
            }
        }
    }
    Ok(Ok(ready.len()))
}

/// `GET path` on `port` of pod `name` over one port-forward: the HTTP status code.
pub(crate) async fn get(pods: &Api<Pod>, name: &str, port: u16, path: &str) -> anyhow::Result<u16> {
    let mut forward = pods
        .portforward(name, &[port])
        .await
        .with_context(|| format!("opening a port-forward to {name}:{port}"))?;
    let stream = forward
        .take_stream(port)
        .context("the port-forward has no stream")?;
    let answer = status(stream, "localhost", path).await;
    forward.abort();
    answer.map(|(code, _)| code)
}

/// Sends `GET path` on an open connection and reads the answer's status line: the code and
/// its reason phrase. Shared by the health checks and `dashboard`'s probe.
pub(crate) async fn status<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    path: &str,
) -> anyhow::Result<(u16, String)> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kubectl-voice\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.contains(&b'\n') && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    status_line(&head)
}

/// The status code and reason of an HTTP/1.x response's first line.
fn status_line(head: &[u8]) -> anyhow::Result<(u16, String)> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.trim_end().splitn(3, ' ');
    match (words.next(), words.next().and_then(|c| c.parse().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => {
            Ok((code, words.next().unwrap_or_default().to_string()))
        }
        _ if head.is_empty() => Err(anyhow!("the connection closed without an answer")),
        _ => Err(anyhow!("not an HTTP answer: {:?}", line.trim_end())),
    }
}

#[cfg(test)]
mod tests {
    use super::status_line;

    #[test]
    fn reads_the_status_line() {
        assert_eq!(
            status_line(b"HTTP/1.1 503 Service Unavailable\r\n").unwrap(),
            (503, "Service Unavailable".to_string())
        );
        assert_eq!(
            status_line(b"HTTP/1.0 200 OK\r\nServer: x\r\n").unwrap(),
            (200, "OK".to_string())
        );
        assert!(status_line(b"").is_err());
        assert!(status_line(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
