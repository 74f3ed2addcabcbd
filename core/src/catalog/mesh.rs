//! A component's facts in the Istio mesh: its public routes through the gateway (timeouts and
//! retries), the traffic policy of its DestinationRule, and whether its calls reach LLMs.
//! Each component states them in its catalog entry; `render::istio` only writes them out.

use super::{Component, Stack};

/// The public host of the mesh's Gateway a route is served on (`istio.apiHost`, `wsHost`,
/// `grpcHost`), each with its VirtualService.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayHost {
    /// The HTTP API.
    Api,
    /// WebSockets.
    Ws,
    /// gRPC services.
    Grpc,
}

impl GatewayHost {
    /// Every host, in the order their VirtualServices are written.
    pub const ALL: [GatewayHost; 3] = [GatewayHost::Api, GatewayHost::Ws, GatewayHost::Grpc];
}

/// Retry policy of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Retry {
    /// No retries at all (`attempts: 0`).
    Never,
    /// Attempts, per-try timeout in seconds, retryOn.
    Times(u32, u32, &'static str),
}

/// retryOn for calls that are safe to repeat even when the server refused the stream.
pub const RETRY_REFUSED: &str = "5xx,reset,connect-failure,refused-stream";
/// retryOn for ordinary calls.
pub const RETRY_5XX: &str = "5xx,reset,connect-failure";

/// One public route through the mesh's Gateway to the component that states it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MeshRoute {
    /// Route name.
    pub name: &'static str,
    /// The Gateway host (and VirtualService) it is served on.
    pub host: GatewayHost,
    /// Its position among the routes of its VirtualService: Istio tries them in order.
    pub order: u8,
    /// Path prefixes (or exact paths when `exact`).
    pub paths: Vec<&'static str>,
    /// Exact match.
    pub exact: bool,
    /// Destination Service port name.
    pub port: &'static str,
    /// Timeout in seconds.
    pub timeout: u32,
    /// Retries.
    pub retry: Retry,
    /// Callers need no token (sign-in, health checks).
    pub open: bool,
}

impl MeshRoute {
    /// A prefix route on `host` to the component's `port`, needing a token.
    pub fn new(
        host: GatewayHost,
        order: u8,
        name: &'static str,
        paths: &[&'static str],
        port: &'static str,
        (timeout, retry): (u32, Retry),
    ) -> Self {
        MeshRoute {
            name,
            host,
            order,
            paths: paths.to_vec(),
            exact: false,
            port,
            timeout,
            retry,
            open: false,
        }
    }
    /// A route of the HTTP API to the `http` port.
    pub fn api(order: u8, name: &'static str, paths: &[&'static str], t: (u32, Retry)) -> Self {
        Self::new(GatewayHost::Api, order, name, paths, "http", t)
    }
    /// A WebSocket route to the `http` port: an hour, never retried.
    pub fn ws(order: u8, name: &'static str, path: &'static str) -> Self {
        Self::new(
            GatewayHost::Ws,
            order,
            name,
            &[path],
            "http",
            (3600, Retry::Never),
        )
    }
    /// A gRPC service route to the `grpc` port.
    pub fn grpc(order: u8, name: &'static str, service: &'static str, t: (u32, Retry)) -> Self {
        Self::new(GatewayHost::Grpc, order, name, &[service], "grpc", t)
    }
    /// Matches its paths exactly (a probe), open to callers without a token.
    pub fn exact(self) -> Self {
        MeshRoute {
            exact: true,
            open: true,
            ..self
        }
    }
    /// Open to callers without a token.
    pub fn open(self) -> Self {
        MeshRoute { open: true, ..self }
    }
}

/// How a DestinationRule spreads calls over the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Balance {
    /// A simple load balancer (`ROUND_ROBIN`, `LEAST_REQUEST`).
    Simple(&'static str),
    /// Consistent hashing on an HTTP header: one key stays on one pod.
    Hash(&'static str),
}

/// The traffic policy of a component's DestinationRule: load balancing, connection pool and
/// outlier detection (durations in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Load balancing.
    pub balance: Balance,
    /// tcp.maxConnections.
    pub max_connections: u32,
    /// http.http1MaxPendingRequests.
    pub max_pending: u32,
    /// http.http2MaxRequests.
    pub max_requests: u32,
    /// http.maxRequestsPerConnection.
    pub per_connection: u32,
    /// http.idleTimeout.
    pub idle: u32,
    /// outlierDetection.consecutive5xxErrors.
    pub errors_5xx: u32,
    /// outlierDetection.consecutiveGatewayErrors.
    pub gateway_errors: u32,
    /// outlierDetection.interval.
    pub interval: u32,
    /// outlierDetection.baseEjectionTime.
    pub ejection: u32,
    /// outlierDetection.maxEjectionPercent.
    pub max_ejection_percent: u32,
}

impl Traffic {
    /// The figures of a service that states none of its own.
    pub const DEFAULT: Traffic = Traffic {
        balance: Balance::Simple("ROUND_ROBIN"),
        max_connections: 500,
        max_pending: 1024,
        max_requests: 1024,
        per_connection: 10,
        idle: 60,
        errors_5xx: 3,
        gateway_errors: 3,
        interval: 30,
        ejection: 30,
        max_ejection_percent: 50,
    };
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic::DEFAULT
    }
}

/// A component's facts in the mesh (used when Istio is on).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Mesh {
    /// Its public routes through the Gateway.
    pub routes: Vec<MeshRoute>,
    /// Its DestinationRule's traffic policy (when it runs a sidecar).
    pub traffic: Traffic,
    /// Its calls reach LLMs, so they are never retried (a retry bills twice): in-mesh calls
    /// to it get a VirtualService with retries off and this timeout in seconds.
    pub llm_timeout: Option<u32>,
    /// The local rate limit (`istio.rateLimitPerMinute`) guards its inbound calls.
    pub rate_limited: bool,
    /// It receives the mesh's traces: with it in the stack, the Telemetry turns tracing on.
    pub trace_sink: bool,
}

impl Component {
    /// Its routes through the Gateway that reach one of its ports.
    pub fn gateway_routes(&self) -> impl Iterator<Item = &MeshRoute> {
        self.mesh
            .routes
            .iter()
            .filter(|r| self.port(r.port).is_some())
    }
}

impl Stack {
    /// The Gateway's routes on `host` with the components they reach, in VirtualService order.
    pub fn gateway_routes(&self, host: GatewayHost) -> Vec<(&Component, &MeshRoute)> {
        let mut out: Vec<(&Component, &MeshRoute)> = self
            .components
            .iter()
            .flat_map(|c| c.gateway_routes().map(move |r| (c, r)))
            .filter(|(_, r)| r.host == host)
            .collect();
        out.sort_by_key(|(_, r)| r.order);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName};

    fn production() -> Stack {
        crate::load(&Input {
            profile: Some(ProfileName::Production),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("production: {e}"))
    }

    #[test]
    fn routes_to_llm_callers_are_never_retried_and_orders_are_unique() {
        let stack = production();
        let mut seen = Vec::new();
        for c in &stack.components {
            for r in &c.mesh.routes {
                assert!(c.port(r.port).is_some(), "{}: no port {}", r.name, r.port);
                if c.mesh.llm_timeout.is_some() && !r.exact {
                    assert_eq!(r.retry, Retry::Never, "{} retries an LLM call", r.name);
                }
                assert!(
                    !seen.contains(&(r.host, r.order)),
                    "{}: order taken",
                    r.name
                );
                seen.push((r.host, r.order));
            }
        }
        assert!(!seen.is_empty());
    }
}
