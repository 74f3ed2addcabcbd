//! Port-forward to a component, not to one pod: a local listener, and for every accepted
//! connection a ready pod resolved afresh and one port-forward through the API server
//! (kube-rs opens one upgrade per connection), so a replaced pod is followed by the next
//! connection. When no pod is ready, a connection waits for one (up to [`RESOLVE_WAIT`]).
//! Dropping or closing the [`Handle`] ends the listener and its connections, and nothing
//! else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::error::PortBusy;

/// How long a new connection waits for a ready pod before it is closed.
pub(crate) const RESOLVE_WAIT: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_millis(200);

/// A running forward: its local address, ended when dropped.
pub(crate) struct Handle {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// The local address it listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
    /// Ends the listener and every connection it carries.
    pub(crate) fn close(self) {}
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `address:port` (port 0: a free one).
pub(crate) async fn bind(local: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(local)
        .await
        .map_err(|e| PortBusy(local, e).into())
}

/// Binds `preferred` on `address`, else a free port.
pub(crate) async fn bind_preferred(address: IpAddr, preferred: u16) -> anyhow::Result<TcpListener> {
    match TcpListener::bind((address, preferred)).await {
        Ok(l) => Ok(l),
        Err(_) => bind(SocketAddr::new(address, 0)).await,
    }
}

/// Forwards `local_addr` to `remote_port` of a ready pod behind `selector` in `namespace`,
/// resolved per connection. Returns the bound address (a port 0 becomes the one chosen).
pub(crate) async fn open(
    client: kube::Client,
    namespace: &str,
    selector: &str,
    remote_port: u16,
    local_addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, Handle)> {
    let listener = bind(local_addr).await?;
    let h = serve(client, namespace, selector, remote_port, listener)?;
    Ok((h.local_addr(), h))
}

/// Serves an already bound listener as [`open`] does.
pub(crate) fn serve(
    client: kube::Client,
    namespace: &str,
    selector: &str,
    remote_port: u16,
    listener: TcpListener,
) -> anyhow::Result<Handle> {
    let local = listener
        .local_addr()
        .context("reading the listener's address")?;
    let target = Target {
        client,
        namespace: namespace.into(),
        selector: selector.into(),
        port: remote_port,
    };
    let task = tokio::spawn(async move {
        // Connections live in the set: aborting the accept loop drops it, which ends them.
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        let t = target.clone();
                        conns.spawn(async move {
                            if let Err(e) = t.carry(tcp).await {
                                eprintln!("forward {}: {}", t.describe(), crate::error::in_words(&e));
                            }
                        });
                    }
                    Err(e) => {
                        eprintln!("forward {}: accepting a connection: {e}", target.describe());
                        tokio::time::sleep(RETRY).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    Ok(Handle { local, task })
}

#[derive(Clone)]
struct Target {
    client: kube::Client,
    namespace: String,
    selector: String,
    port: u16,
}

impl Target {
    fn describe(&self) -> String {
        format!("{}/{}:{}", self.namespace, self.selector, self.port)
    }

    /// Resolves a ready pod, opens a port-forward to it and copies both ways.
    async fn carry(&self, mut tcp: TcpStream) -> anyhow::Result<()> {
        let (pod, mut pf) = self.connect().await?;
        let mut upstream = pf
            .take_stream(self.port)
            .context("the port-forward has no stream for the port")?;
        let error = pf.take_error(self.port);
        let copied = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
        drop(upstream);
        if let Some(error) = error
            && let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(2), error).await
        {
            anyhow::bail!("pod {pod} port {}: {msg}", self.port);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), pf.join()).await;
        match copied {
            Ok(_) => Ok(()),
            // The browser or the pod hung up: a normal end of a connection.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("pod {pod}"))),
        }
    }

    /// A port-forward to a ready pod, trying each one and waiting for one to be ready.
    async fn connect(&self) -> anyhow::Result<(String, kube::api::Portforwarder)> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let deadline = tokio::time::Instant::now() + RESOLVE_WAIT;
        loop {
            let last =
                match crate::cluster::pods::ready(&self.client, &self.namespace, &self.selector)
                    .await
                {
                    Ok(names) => {
                        let mut last = None;
                        for name in names {
                            match api.portforward(&name, &[self.port]).await {
                                Ok(pf) => return Ok((name, pf)),
                                Err(e) if forbidden(&e) => {
                                    return Err(anyhow::Error::new(e).context(format!(
                                        "opening a port-forward to pod {}/{name}",
                                        self.namespace
                                    )));
                                }
                                Err(e) => {
                                    last = Some(anyhow::Error::new(e).context(format!(
                                        "opening a port-forward to pod {}/{name}",
                                        self.namespace
                                    )))
                                }
                            }
                        }
                        last.expect("ready() returns at least one pod")
                    }
                    Err(e) if e.downcast_ref::<crate::error::NoReadyPod>().is_some() => e,
                    Err(e) => return Err(e),
                };
            if tokio::time::Instant::now() >= deadline {
                return Err(last);
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Whether the API server refused the upgrade for want of permission.
pub(crate) fn forbidden(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 403,
        other => {
            let text = other.to_string();
            text.contains("403") || text.contains("Forbidden")
        }
    }
}
