//! Istio resources for the VoiceAssistant platform when `istio.enabled`: the public Gateway,
//! VirtualServices per host and path prefix (LLM routes never retried), DestinationRules with
//! connection pools and outlier detection, PeerAuthentication, RequestAuthentication,
//! AuthorizationPolicies derived from the catalog's dependency edges, Telemetry and a local
//! rate limit. Custom resources are plain JSON values, like the ServiceMonitor.
//!
//! Decisions on the reference's inconsistencies: every route targets the Service's real port
//! (HTTP prefixes on `http`, gRPC services on `grpc`); outlier detection uses
//! `consecutive5xxErrors`, not the deprecated `consecutiveErrors`; AuthorizationPolicy
//! principals are the ServiceAccounts the workloads run as (named like the component).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::k8s::{
    AuthorizationPolicy, AuthorizationPolicySpec, ConnectionPoolSettings, ConsistentHashLB,
    Destination, DestinationRule, DestinationRuleSpec, HTTPMatchRequest, HTTPRetry, HTTPRoute,
    HTTPRouteDestination, HttpSettings, LabelSelector, LoadBalancerSettings, ObjectMeta, Operation,
    OutlierDetection, PortSelector, Rule, RuleFrom, RuleTo, Source, Str, StringMatch, TcpSettings,
    TrafficPolicy, VirtualService, VirtualServiceSpec, owned,
};
use super::{Object, Stage, labels, selector_labels};
use crate::catalog::{Component, Stack};

/// The Gateway's name.
pub const GATEWAY: &str = "voiceassistant-gateway";
/// Namespace of the Istio control plane and ingress gateway.
pub const ISTIO_NAMESPACE: &str = "istio-system";
/// The ingress gateway's principal (a declared external identity).
pub const INGRESS_GATEWAY_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
/// Components whose calls reach LLMs: their routes are never retried (double billing).
pub const LLM_SERVICES: [&str; 4] = [
    "model-router",
    "model-adapter",
    "agent-engine",
    "ai-orchestrator",
];

/// Retry policy of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// No retries at all (`attempts: 0`).
    Never,
    /// Attempts, per-try timeout in seconds, retryOn.
    Times(u32, u32, &'static str),
}

/// One route of a VirtualService.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshRoute {
    /// Route name.
    pub name: &'static str,
    /// Path prefixes (or exact paths when `exact`).
    pub paths: Vec<&'static str>,
    /// Exact match.
    pub exact: bool,
    /// Destination component.
    pub component: &'static str,
    /// Destination Service port name.
    pub port: &'static str,
    /// Timeout in seconds.
    pub timeout: u32,
    /// Retries.
    pub retry: Retry,
}

const R5: &str = "5xx,reset,connect-failure,refused-stream";
const R3: &str = "5xx,reset,connect-failure";

fn route(
    name: &'static str,
    paths: &[&'static str],
    component: &'static str,
    port: &'static str,
    timeout: u32,
    retry: Retry,
) -> MeshRoute {
    let retry = if LLM_SERVICES.contains(&component) && !name.contains("health") {
        Retry::Never
    } else {
        retry
    };
    MeshRoute {
        name,
        paths: paths.to_vec(),
        exact: false,
        component,
        port,
        timeout,
        retry,
    }
}

/// The routes of each public host: (host kind, routes). Only enabled components appear.
pub fn routes(stack: &Stack) -> Vec<(&'static str, Vec<MeshRoute>)> {
    use Retry::Times;
    let api = vec![
        route(
            "identity-auth",
            &["/api/v1/auth"],
            "identity-service",
            "http",
            10,
            Times(3, 3, R5),
        ),
        route(
            "identity-users",
            &["/api/v1/users"],
            "identity-service",
            "http",
            10,
            Times(3, 3, R5),
        ),
        route(
            "conversation-service",
            &["/api/v1/conversations", "/api/v1/messages"],
            "conversation-service",
            "http",
            30,
            Times(2, 15, R3),
        ),
        route(
            "knowledge-documents",
            &["/api/v1/knowledge", "/api/v1/documents"],
            "knowledge-service",
            "http",
            60,
            Times(2, 30, R3),
        ),
        route(
            "ai-orchestrator",
            &["/api/v1/ai"],
            "ai-orchestrator",
            "http",
            120,
            Retry::Never,
        ),
        route(
            "model-router",
            &["/api/v1/models"],
            "model-router",
            "http",
            180,
            Retry::Never,
        ),
        route(
            "agent-engine",
            &["/api/v1/agent"],
            "agent-engine",
            "http",
            120,
            Retry::Never,
        ),
        route(
            "rag-engine",
            &["/api/v1/rag"],
            "rag-engine",
            "http",
            60,
            Times(2, 30, R3),
        ),
        route(
            "retrieval-service",
            &["/api/v1/retrieval"],
            "retrieval-service",
            "http",
            30,
            Times(2, 15, R3),
        ),
        route(
            "voice-engine-http",
            &["/api/v1/voice"],
            "voice-engine",
            "http",
            300,
            Times(1, 300, "reset,connect-failure"),
        ),
        route(
            "multimodal-engine",
            &["/api/v1/multimodal"],
            "multimodal-engine",
            "http",
            120,
            Times(2, 60, R3),
        ),
        route(
            "analytics-service",
            &["/api/v1/analytics"],
            "analytics-service",
            "http",
            30,
            Times(2, 15, R3),
        ),
        route(
            "notification-service",
            &["/api/v1/notification"],
            "notification-service",
            "http",
            10,
            Times(2, 5, R3),
        ),
        MeshRoute {
            exact: true,
            ..route(
                "health-check",
                &["/health", "/healthz"],
                "ai-orchestrator",
                "http",
                5,
                Times(1, 3, R3),
            )
        },
        MeshRoute {
            exact: true,
            ..route(
                "readiness-check",
                &["/ready"],
                "ai-orchestrator",
                "http",
                5,
                Retry::Never,
            )
        },
    ];
    let ws = vec![
        route(
            "voice-websocket",
            &["/ws/voice"],
            "voice-engine",
            "http",
            3600,
            Retry::Never,
        ),
        route(
            "conversation-websocket",
            &["/ws/conversation"],
            "conversation-service",
            "http",
            3600,
            Retry::Never,
        ),
    ];
    let grpc = vec![
        route(
            "identity-grpc",
            &["/identity.v1.Identity"],
            "identity-service",
            "grpc",
            10,
            Times(3, 3, R5),
        ),
        route(
            "conversation-grpc",
            &["/conversation.v1.Conversation"],
            "conversation-service",
            "grpc",
            30,
            Times(2, 15, R3),
        ),
        route(
            "model-router-grpc",
            &["/model.v1.Router"],
            "model-router",
            "grpc",
            180,
            Retry::Never,
        ),
        route(
            "ai-orchestrator-grpc",
            &["/ai.v1.Orchestrator"],
            "ai-orchestrator",
            "grpc",
            120,
            Retry::Never,
        ),
    ];
    let keep = |v: Vec<MeshRoute>| -> Vec<MeshRoute> {
        v.into_iter()
            .filter(|r| {
                stack
                    .component(r.component)
                    .is_some_and(|c| c.port(r.port).is_some())
            })
            .collect()
    };
    [("api", keep(api)), ("ws", keep(ws)), ("grpc", keep(grpc))]
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .collect()
}

/// The mesh's routes, per virtual service (`api`, `ws`, `grpc`).
pub type Routes = [(&'static str, Vec<MeshRoute>)];

/// The mesh's routes; none without Istio. Computed once per render.
pub fn mesh_routes(stack: &Stack) -> Vec<(&'static str, Vec<MeshRoute>)> {
    if stack.config.istio.is_none() {
        return Vec::new();
    }
    routes(stack)
}

/// Ports of `c` that the ingress gateway routes to.
pub fn routed_ports(stack: &Stack, c: &Component) -> Vec<u16> {
    routed_ports_in(&mesh_routes(stack), c)
}

/// [`routed_ports`] over routes already computed.
pub fn routed_ports_in(mesh: &Routes, c: &Component) -> Vec<u16> {
    let mut out: Vec<u16> = mesh
        .iter()
        .flat_map(|(_, r)| r)
        .filter(|r| r.component == c.name)
        .filter_map(|r| c.port(r.port))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The principal of a component's ServiceAccount.
pub fn principal(c: &Component) -> String {
    format!("cluster.local/ns/{}/sa/{}", c.namespace, c.name)
}

fn meta(stack: &Stack, name: &str, ns: &str) -> ObjectMeta {
    ObjectMeta {
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/instance".into(),
                owned(&stack.config.instance),
            ),
            ("app.kubernetes.io/part-of".into(), "voiceassistant".into()),
            ("app.kubernetes.io/managed-by".into(), super::MANAGER.into()),
        ])),
        name: Some(owned(name)),
        namespace: Some(owned(ns)),
        ..Default::default()
    }
}

/// Metadata as a JSON value, for the objects written as values.
fn meta_value(m: &ObjectMeta) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

fn retries(r: Retry) -> HTTPRetry {
    match r {
        Retry::Never => HTTPRetry::default(),
        Retry::Times(n, per, on) => HTTPRetry {
            attempts: n,
            per_try_timeout: Some(format!("{per}s").into()),
            retry_on: Some(on.into()),
        },
    }
}

/// A route to one port of a Service.
fn route_to(host: String, port: u16) -> Vec<HTTPRouteDestination> {
    vec![HTTPRouteDestination {
        destination: Destination {
            host: host.into(),
            port: PortSelector { number: port },
        },
    }]
}

fn http_route(stack: &Stack, r: &MeshRoute) -> HTTPRoute {
    let c = stack.component(r.component);
    let host = c.map(Component::host).unwrap_or_default();
    let port = c.and_then(|c| c.port(r.port)).unwrap_or_default();
    HTTPRoute {
        name: Some(r.name.into()),
        r#match: r
            .paths
            .iter()
            .map(|p| HTTPMatchRequest {
                uri: Some(if r.exact {
                    StringMatch {
                        exact: Some((*p).into()),
                        prefix: None,
                    }
                } else {
                    StringMatch {
                        exact: None,
                        prefix: Some((*p).into()),
                    }
                }),
                port: None,
            })
            .collect(),
        route: route_to(host, port),
        timeout: format!("{}s", r.timeout).into(),
        retries: retries(r.retry),
    }
}

/// DestinationRule traffic policy figures: (lb, hash header, maxConn, pending, h2, perConn, idle s, 5xx, gw, interval s, eject s, max%).
type DrFigures = (
    &'static str,
    Option<&'static str>,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
);

fn dr_figures(name: &str) -> DrFigures {
    match name {
        "identity-service" => (
            "hash",
            Some("x-user-id"),
            1000,
            1024,
            1024,
            10,
            60,
            5,
            5,
            30,
            30,
            50,
        ),
        "conversation-service" => (
            "hash",
            Some("x-conversation-id"),
            2000,
            2048,
            2048,
            10,
            60,
            3,
            3,
            20,
            30,
            50,
        ),
        "knowledge-service" => (
            "ROUND_ROBIN",
            None,
            500,
            1024,
            1024,
            10,
            60,
            3,
            3,
            30,
            30,
            50,
        ),
        "ai-orchestrator" => (
            "LEAST_REQUEST",
            None,
            500,
            1024,
            500,
            5,
            60,
            2,
            2,
            10,
            60,
            50,
        ),
        "model-router" => (
            "LEAST_REQUEST",
            None,
            500,
            1024,
            1024,
            5,
            60,
            5,
            5,
            30,
            60,
            30,
        ),
        "analytics-service" => (
            "ROUND_ROBIN",
            None,
            500,
            1024,
            1024,
            10,
            60,
            3,
            3,
            30,
            30,
            50,
        ),
        "notification-service" => ("ROUND_ROBIN", None, 500, 512, 512, 10, 60, 3, 3, 20, 30, 50),
        "agent-engine" => (
            "LEAST_REQUEST",
            None,
            300,
            512,
            512,
            3,
            120,
            3,
            3,
            20,
            60,
            50,
        ),
        "rag-engine" => (
            "ROUND_ROBIN",
            None,
            500,
            1024,
            1024,
            10,
            60,
            3,
            3,
            30,
            30,
            50,
        ),
        "retrieval-service" => (
            "ROUND_ROBIN",
            None,
            600,
            1024,
            1024,
            10,
            60,
            3,
            3,
            30,
            30,
            50,
        ),
        "model-adapter" => (
            "LEAST_REQUEST",
            None,
            400,
            512,
            512,
            5,
            180,
            5,
            5,
            30,
            120,
            30,
        ),
        "voice-engine" => (
            "hash",
            Some("x-session-id"),
            1000,
            1024,
            1024,
            1,
            3600,
            3,
            3,
            30,
            30,
            50,
        ),
        "multimodal-engine" => (
            "LEAST_REQUEST",
            None,
            300,
            512,
            512,
            5,
            120,
            3,
            3,
            30,
            60,
            50,
        ),
        "indexing-service" => (
            "ROUND_ROBIN",
            None,
            200,
            256,
            256,
            5,
            300,
            3,
            3,
            60,
            120,
            50,
        ),
        _ => (
            "ROUND_ROBIN",
            None,
            500,
            1024,
            1024,
            10,
            60,
            3,
            3,
            30,
            30,
            50,
        ),
    }
}

fn destination_rule(stack: &Stack, c: &Component) -> DestinationRule {
    let (lb, header, max_conn, pending, h2, per_conn, idle, e5xx, gw, interval, eject, max_pct) =
        dr_figures(&c.name);
    let load_balancer = match header {
        Some(h) => LoadBalancerSettings {
            consistent_hash: Some(ConsistentHashLB {
                http_header_name: h.into(),
            }),
            simple: None,
        },
        None => LoadBalancerSettings {
            consistent_hash: None,
            simple: Some(lb.into()),
        },
    };
    DestinationRule {
        metadata: meta(stack, &c.name, &c.namespace),
        spec: DestinationRuleSpec {
            host: c.host().into(),
            traffic_policy: TrafficPolicy {
                load_balancer,
                connection_pool: ConnectionPoolSettings {
                    tcp: TcpSettings {
                        max_connections: max_conn,
                        connect_timeout: "3s".into(),
                    },
                    http: HttpSettings {
                        http1_max_pending_requests: pending,
                        http2_max_requests: h2,
                        max_requests_per_connection: per_conn,
                        idle_timeout: format!("{idle}s").into(),
                    },
                },
                outlier_detection: OutlierDetection {
                    consecutive_5xx_errors: e5xx,
                    consecutive_gateway_errors: gw,
                    interval: format!("{interval}s").into(),
                    base_ejection_time: format!("{eject}s").into(),
                    max_ejection_percent: max_pct,
                },
            },
        },
    }
}

/// A rule letting `principals` (and, with `token`, only requests carrying one) call `to`.
fn rule(principals: Vec<Str>, token: bool, to: Operation) -> Rule {
    Rule {
        from: vec![RuleFrom {
            source: Source {
                principals,
                request_principals: token.then(|| vec!["*".into()]),
            },
        }],
        to: vec![RuleTo { operation: to }],
    }
}

fn authorization_policy(stack: &Stack, mesh: &Routes, c: &Component) -> AuthorizationPolicy {
    let mut rules = Vec::new();
    let callers: Vec<Str> = stack
        .components
        .iter()
        .filter(|d| d.depends_on.contains(&c.name) && d.mesh_sidecar.is_some())
        .map(|d| principal(d).into())
        .collect();
    let ports: Vec<Str> = c
        .containers
        .iter()
        .flat_map(|x| &x.ports)
        .map(|p| p.port.to_string().into())
        .collect();
    if !callers.is_empty() {
        rules.push(rule(
            callers,
            false,
            Operation {
                ports: Some(ports),
                paths: None,
            },
        ));
    }
    let routed: Vec<&MeshRoute> = mesh
        .iter()
        .flat_map(|(_, r)| r)
        .filter(|r| r.component == c.name)
        .collect();
    if !routed.is_empty() {
        let open: Vec<Str> = routed
            .iter()
            .filter(|r| r.name == "identity-auth" || r.exact)
            .flat_map(|r| {
                r.paths.iter().flat_map(|p| {
                    if r.exact {
                        vec![Str::from(*p)]
                    } else {
                        vec![Str::from(*p), format!("{p}/*").into()]
                    }
                })
            })
            .collect();
        let authed: Vec<Str> = routed
            .iter()
            .filter(|r| !(r.name == "identity-auth" || r.exact))
            .flat_map(|r| {
                r.paths
                    .iter()
                    .flat_map(|p| [Str::from(*p), format!("{p}/*").into()])
            })
            .collect();
        for (paths, token) in [(open, false), (authed, true)] {
            if !paths.is_empty() {
                rules.push(rule(
                    vec![INGRESS_GATEWAY_PRINCIPAL.into()],
                    token,
                    Operation {
                        ports: None,
                        paths: Some(paths),
                    },
                ));
            }
        }
    }
    AuthorizationPolicy {
        metadata: meta(stack, &c.name, &c.namespace),
        spec: AuthorizationPolicySpec {
            selector: LabelSelector {
                match_labels: Some(selector_labels(stack, &c.name)),
            },
            action: "ALLOW".into(),
            rules,
        },
    }
}

/// Every Istio object of the stack (empty when Istio is off).
pub fn objects(stack: &Stack, mesh: &Routes) -> Vec<Object> {
    let Some(istio) = &stack.config.istio else {
        return Vec::new();
    };
    let ns = stack.config.namespaces.app.as_str();
    let mut out = Vec::new();
    let push =
        |out: &mut Vec<Object>, v: Value| out.push(Object::from_value("istio", Stage::Routing, v));
    let tls = |name: &str, host: &str| {
        json!({"port": {"number": 443, "name": name, "protocol": "HTTPS"}, "hosts": [host],
               "tls": {"mode": "SIMPLE", "credentialName": istio.tls_secret, "minProtocolVersion": "TLSV1_2", "maxProtocolVersion": "TLSV1_3"}})
    };
    push(
        &mut out,
        json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "Gateway",
            "metadata": meta_value(&meta(stack, GATEWAY, ns)),
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": [istio.api_host, istio.ws_host, istio.grpc_host], "tls": {"httpsRedirect": true}},
                    tls("https-api", &istio.api_host),
                    tls("https-ws", &istio.ws_host),
                    tls("https-grpc", &istio.grpc_host),
                ],
            },
        }),
    );
    for (kind, rs) in mesh {
        let (name, host) = match *kind {
            "api" => ("api-gateway", &istio.api_host),
            "ws" => ("websocket", &istio.ws_host),
            _ => ("grpc-services", &istio.grpc_host),
        };
        let vs = VirtualService {
            metadata: meta(stack, name, ns),
            spec: VirtualServiceSpec {
                hosts: vec![owned(host)],
                gateways: Some(vec![format!("{ns}/{GATEWAY}").into()]),
                http: rs.iter().map(|r| http_route(stack, r)).collect(),
            },
        };
        out.push(Object::new("istio", Stage::Routing, vs));
    }
    let meshed: Vec<&Component> = stack
        .components
        .iter()
        .filter(|c| c.namespace == ns && c.mesh_sidecar.is_some() && c.service)
        .collect();
    // In-mesh calls to LLM-backed services: Istio's default retries are switched off.
    for c in meshed
        .iter()
        .filter(|c| LLM_SERVICES.contains(&c.name.as_str()))
    {
        let Some(port) = c.port("http") else { continue };
        let timeout = if matches!(c.name.as_str(), "model-router" | "model-adapter") {
            180
        } else {
            120
        };
        let vs = VirtualService {
            metadata: meta(stack, &format!("{}-mesh", c.name), ns),
            spec: VirtualServiceSpec {
                hosts: vec![c.host().into()],
                gateways: None,
                http: vec![HTTPRoute {
                    name: None,
                    r#match: vec![HTTPMatchRequest {
                        uri: None,
                        port: Some(port),
                    }],
                    route: route_to(c.host(), port),
                    timeout: format!("{timeout}s").into(),
                    retries: retries(Retry::Never),
                }],
            },
        };
        out.push(Object::new("istio", Stage::Routing, vs));
    }
    for c in &meshed {
        out.push(Object::new(
            "istio",
            Stage::Routing,
            destination_rule(stack, c),
        ));
    }
    push(
        &mut out,
        json!({
            "apiVersion": "security.istio.io/v1beta1",
            "kind": "PeerAuthentication",
            "metadata": meta_value(&meta(stack, "default", ns)),
            "spec": {"mtls": {"mode": if istio.strict_mtls { "STRICT" } else { "PERMISSIVE" }}},
        }),
    );
    push(
        &mut out,
        json!({
            "apiVersion": "security.istio.io/v1beta1",
            "kind": "RequestAuthentication",
            "metadata": meta_value(&meta(stack, "jwt-auth", ns)),
            "spec": {"jwtRules": [{
                "issuer": istio.jwt_issuer,
                "jwksUri": istio.jwks_uri,
                "audiences": istio.audiences,
                "forwardOriginalToken": true,
                "outputPayloadToHeader": "x-jwt-payload",
                "fromHeaders": [{"name": "Authorization", "prefix": "Bearer "}],
                "fromParams": ["access_token"],
            }]},
        }),
    );
    for c in &meshed {
        let ap = authorization_policy(stack, mesh, c);
        out.push(Object::new("istio", Stage::Routing, ap));
    }
    let mut telemetry = json!({
        "accessLogging": [{"providers": [{"name": "envoy"}], "filter": {"expression": "response.code >= 400"}}],
    });
    if stack.component("otel-collector").is_some() {
        telemetry["tracing"] = json!([{
            "providers": [{"name": "otel-collector"}],
            "randomSamplingPercentage": istio.sampling_percent,
            "customTags": {"environment": {"literal": {"value": stack.config.profile.as_str()}}},
        }]);
    }
    push(
        &mut out,
        json!({"apiVersion": "telemetry.istio.io/v1alpha1", "kind": "Telemetry", "metadata": meta_value(&meta(stack, "mesh-default", ns)), "spec": telemetry}),
    );
    if let (Some(tokens), Some(c)) = (
        istio.rate_limit_per_minute,
        stack.component("ai-orchestrator"),
    ) {
        let mut m = meta(stack, "ai-orchestrator-rate-limit", ns);
        m.labels = Some(labels(stack, c));
        push(
            &mut out,
            json!({
                "apiVersion": "networking.istio.io/v1alpha3",
                "kind": "EnvoyFilter",
                "metadata": meta_value(&m),
                "spec": {
                    "workloadSelector": {"labels": selector_labels(stack, &c.name)},
                    "configPatches": [{
                        "applyTo": "HTTP_FILTER",
                        "match": {"context": "SIDECAR_INBOUND", "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
                        "patch": {"operation": "INSERT_BEFORE", "value": {
                            "name": "envoy.filters.http.local_ratelimit",
                            "typed_config": {
                                "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                                "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                                "value": {
                                    "stat_prefix": "http_local_rate_limiter",
                                    "token_bucket": {"max_tokens": tokens, "tokens_per_fill": tokens, "fill_interval": "60s"},
                                    "filter_enabled": {"runtime_key": "local_rate_limit_enabled", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                                    "filter_enforced": {"runtime_key": "local_rate_limit_enforced", "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                                },
                            },
                        }},
                    }],
                },
            }),
        );
    }
    out
}
