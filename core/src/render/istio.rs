//! Istio resources for the VoiceAssistant platform when `istio.enabled`: the public Gateway,
//! VirtualServices per host and path prefix (LLM routes never retried), DestinationRules with
//! connection pools and outlier detection, PeerAuthentication, RequestAuthentication,
//! AuthorizationPolicies derived from the catalog's dependency edges, Telemetry and a local
//! rate limit. Custom resources are plain JSON values, like the ServiceMonitor. Every figure
//! (routes, timeouts, retries, traffic policies, LLM callers) is a component's `mesh` fact
//! in the catalog (`catalog::mesh`); nothing here names a component.
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
use crate::catalog::mesh::{Balance, GatewayHost, MeshRoute, Retry};
use crate::catalog::{Component, Stack};

/// The Gateway's name.
pub const GATEWAY: &str = "voiceassistant-gateway";
/// Namespace of the Istio control plane and ingress gateway.
pub const ISTIO_NAMESPACE: &str = "istio-system";
/// The ingress gateway's principal (a declared external identity).
pub const INGRESS_GATEWAY_PRINCIPAL: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
/// The tracing provider the Telemetry names: an extension provider of Istio's mesh config.
pub const TRACING_PROVIDER: &str = "otel-collector";
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

fn http_route(c: &Component, r: &MeshRoute) -> HTTPRoute {
    let host = c.host();
    let port = c.port(r.port).unwrap_or_default();
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

fn destination_rule(stack: &Stack, c: &Component) -> DestinationRule {
    let t = &c.mesh.traffic;
    let load_balancer = match t.balance {
        Balance::Hash(h) => LoadBalancerSettings {
            consistent_hash: Some(ConsistentHashLB {
                http_header_name: h.into(),
            }),
            simple: None,
        },
        Balance::Simple(lb) => LoadBalancerSettings {
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
                        max_connections: t.max_connections,
                        connect_timeout: "3s".into(),
                    },
                    http: HttpSettings {
                        http1_max_pending_requests: t.max_pending,
                        http2_max_requests: t.max_requests,
                        max_requests_per_connection: t.per_connection,
                        idle_timeout: format!("{}s", t.idle).into(),
                    },
                },
                outlier_detection: OutlierDetection {
                    consecutive_5xx_errors: t.errors_5xx,
                    consecutive_gateway_errors: t.gateway_errors,
                    interval: format!("{}s", t.interval).into(),
                    base_ejection_time: format!("{}s", t.ejection).into(),
                    max_ejection_percent: t.max_ejection_percent,
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

fn authorization_policy(stack: &Stack, c: &Component) -> AuthorizationPolicy {
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
    let routed: Vec<&MeshRoute> = c.gateway_routes().collect();
    if !routed.is_empty() {
        let open: Vec<Str> = routed
            .iter()
            .filter(|r| r.open)
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
            .filter(|r| !r.open)
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
pub fn objects(stack: &Stack) -> Vec<Object> {
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
    for kind in GatewayHost::ALL {
        let rs = stack.gateway_routes(kind);
        if rs.is_empty() {
            continue;
        }
        let (name, host) = match kind {
            GatewayHost::Api => ("api-gateway", &istio.api_host),
            GatewayHost::Ws => ("websocket", &istio.ws_host),
            GatewayHost::Grpc => ("grpc-services", &istio.grpc_host),
        };
        let vs = VirtualService {
            metadata: meta(stack, name, ns),
            spec: VirtualServiceSpec {
                hosts: vec![owned(host)],
                gateways: Some(vec![format!("{ns}/{GATEWAY}").into()]),
                http: rs.iter().map(|(c, r)| http_route(c, r)).collect(),
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
    for c in &meshed {
        let Some(timeout) = c.mesh.llm_timeout else {
            continue;
        };
        let Some(port) = c.port("http") else { continue };
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
        let ap = authorization_policy(stack, c);
        out.push(Object::new("istio", Stage::Routing, ap));
    }
    let mut telemetry = json!({
        "accessLogging": [{"providers": [{"name": "envoy"}], "filter": {"expression": "response.code >= 400"}}],
    });
    if stack.components.iter().any(|c| c.mesh.trace_sink) {
        telemetry["tracing"] = json!([{
            "providers": [{"name": TRACING_PROVIDER}],
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
        stack.components.iter().find(|c| c.mesh.rate_limited),
    ) {
        let mut m = meta(stack, &format!("{}-rate-limit", c.name), ns);
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
