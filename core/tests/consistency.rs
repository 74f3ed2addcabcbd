//! Consistency of every rendered plan by construction: routes reach real Service ports,
//! AuthorizationPolicy principals are ServiceAccounts that workloads use, NetworkPolicies
//! allow exactly the catalog's edges, in-cluster hosts in env and config name planned
//! Services, and no placeholder secret appears. Each check returns its violations; the unit
//! tests at the bottom break each rule on purpose and assert the check notices.

use std::collections::BTreeMap;

use serde_json::Value;
use voice_core::catalog::{Component, External, Stack};
use voice_core::render::istio::INGRESS_GATEWAY_PRINCIPAL;
use voice_core::render::{self, Object, selector_labels};
use voice_core::{Input, ProfileName};

fn load(profile: ProfileName, sets: &[&str]) -> Stack {
    try_load(profile, sets).unwrap_or_else(|e| panic!("{profile:?} {sets:?}: {e}"))
}

fn try_load(profile: ProfileName, sets: &[&str]) -> Result<Stack, String> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    voice_core::load(&Input {
        profile: Some(profile),
        sets: &sets,
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

/// Every variant the checks run over.
fn variants() -> Vec<(String, Stack)> {
    vec![
        ("dev".into(), load(ProfileName::Dev, &[])),
        ("small".into(), load(ProfileName::Small, &[])),
        ("production".into(), load(ProfileName::Production, &[])),
        (
            "production-cloud".into(),
            load(ProfileName::Production, &["posthog.mode=cloud"]),
        ),
        (
            "production-istio-off".into(),
            load(ProfileName::Production, &["istio.enabled=false"]),
        ),
        (
            "production-blue-green".into(),
            load(
                ProfileName::Production,
                &[
                    "voiceAssistant.services.agent-engine.blueGreen=true",
                    "voiceAssistant.services.identity-service.activeColor=green",
                    "voiceAssistant.services.identity-service.blueGreen=true",
                ],
            ),
        ),
    ]
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn service<'a>(objects: &'a [Object], name: &str, ns: &str) -> Option<&'a Object> {
    objects
        .iter()
        .find(|o| o.kind == "Service" && o.name == name && o.namespace.as_deref() == Some(ns))
}

fn service_has_port(svc: &Object, number: Option<i64>, name: Option<&str>) -> bool {
    arr(&svc.value(), "/spec/ports").iter().any(|p| {
        number.is_some_and(|n| p["port"].as_i64() == Some(n))
            || name.is_some_and(|n| p["name"].as_str() == Some(n))
    })
}

/// Splits `<svc>.<ns>.svc.cluster.local` (or `<pod>.<svc>.<ns>…`) into (svc, ns).
fn fqdn(host: &str) -> Option<(String, String)> {
    let rest = host.strip_suffix(".svc.cluster.local")?;
    let labels: Vec<&str> = rest.split('.').collect();
    match labels.as_slice() {
        [.., svc, ns] => Some(((*svc).to_string(), (*ns).to_string())),
        _ => None,
    }
}

/// Every VirtualService and Ingress destination is a Service port that exists.
fn check_routes(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for o in objects {
        match o.kind.as_str() {
            "VirtualService" => {
                for r in arr(&o.value(), "/spec/http") {
                    for d in arr(r, "/route") {
                        let host = s(d, "/destination/host");
                        let port = d
                            .pointer("/destination/port/number")
                            .and_then(Value::as_i64);
                        let ok = fqdn(host)
                            .and_then(|(n, ns)| service(objects, &n, &ns))
                            .is_some_and(|svc| port.is_none() || service_has_port(svc, port, None));
                        if !ok {
                            out.push(format!(
                                "{}: route to {host}:{port:?} has no such Service port",
                                o.id()
                            ));
                        }
                    }
                }
            }
            "Ingress" => {
                let ns = o.namespace.clone().unwrap_or_default();
                for rule in arr(&o.value(), "/spec/rules") {
                    for p in arr(rule, "/http/paths") {
                        let name = s(p, "/backend/service/name");
                        let pname = p
                            .pointer("/backend/service/port/name")
                            .and_then(Value::as_str);
                        let pnum = p
                            .pointer("/backend/service/port/number")
                            .and_then(Value::as_i64);
                        if !service(objects, name, &ns)
                            .is_some_and(|svc| service_has_port(svc, pnum, pname))
                        {
                            out.push(format!(
                                "{}: backend {name}:{pname:?}{pnum:?} has no such Service port",
                                o.id()
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every AuthorizationPolicy principal is the ServiceAccount of a workload (or the ingress gateway).
fn check_principals(objects: &[Object]) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    for o in objects
        .iter()
        .filter(|o| matches!(o.kind.as_str(), "Deployment" | "StatefulSet" | "Job"))
    {
        let value = o.value();
        let sa = s(&value, "/spec/template/spec/serviceAccountName");
        let ns = o.namespace.clone().unwrap_or_default();
        if objects.iter().any(|x| {
            x.kind == "ServiceAccount" && x.name == sa && x.namespace.as_deref() == Some(&ns)
        }) {
            used.push(format!("cluster.local/ns/{ns}/sa/{sa}"));
        }
    }
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.kind == "AuthorizationPolicy") {
        for rule in arr(&o.value(), "/spec/rules") {
            for from in arr(rule, "/from") {
                for p in arr(from, "/source/principals") {
                    let p = p.as_str().unwrap_or_default();
                    if p != INGRESS_GATEWAY_PRINCIPAL && !used.iter().any(|u| u == p) {
                        out.push(format!(
                            "{}: principal {p} is no ServiceAccount a workload uses",
                            o.id()
                        ));
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    Component(String),
    Dns,
    Istiod,
    IngressGateway,
    Internet,
    AnyNamespace,
    Unknown(String),
}

fn peer_of(stack: &Stack, p: &Value) -> Peer {
    if p.get("ipBlock").is_some() {
        return Peer::Internet;
    }
    let ns: BTreeMap<String, String> = p
        .pointer("/namespaceSelector/matchLabels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let pods: BTreeMap<String, String> = p
        .pointer("/podSelector/matchLabels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let ns_name = ns.get("kubernetes.io/metadata.name").cloned();
    match (
        ns_name.as_deref(),
        pods.get("k8s-app").map(String::as_str),
        pods.get("app").map(String::as_str),
        pods.get("istio").map(String::as_str),
    ) {
        (Some("kube-system"), Some("kube-dns"), ..) => return Peer::Dns,
        (Some("istio-system"), _, Some("istiod"), _) => return Peer::Istiod,
        (Some("istio-system"), _, _, Some("ingressgateway")) => return Peer::IngressGateway,
        (None, ..) if p.get("namespaceSelector").is_some() && pods.is_empty() => {
            return Peer::AnyNamespace;
        }
        _ => {}
    }
    for c in &stack.components {
        if ns_name.as_deref() == Some(c.namespace.as_str())
            && selector_labels(stack, &c.name)
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .eq(pods.clone())
        {
            return Peer::Component(c.name.clone());
        }
    }
    Peer::Unknown(p.to_string())
}

fn rule_ports(r: &Value) -> Vec<i64> {
    arr(r, "/ports")
        .iter()
        .filter_map(|p| p["port"].as_i64())
        .collect()
}

fn all_ports(c: &Component) -> Vec<i64> {
    c.containers
        .iter()
        .flat_map(|x| &x.ports)
        .map(|p| i64::from(p.port))
        .collect()
}

/// Every catalog edge is allowed on both ends, and every allowed peer is a catalog edge.
fn check_network(stack: &Stack, objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let policy = |c: &Component| {
        objects.iter().find(|o| {
            o.kind == "NetworkPolicy"
                && o.name == c.name
                && o.namespace.as_deref() == Some(&c.namespace)
        })
    };
    let rules = |c: &Component, dir: &str| -> Vec<(Peer, Vec<i64>)> {
        let key = if dir == "egress" { "to" } else { "from" };
        policy(c).map_or_else(Vec::new, |p| {
            arr(&p.value(), &format!("/spec/{dir}"))
                .iter()
                .flat_map(|r| {
                    arr(r, &format!("/{key}"))
                        .iter()
                        .map(|x| (peer_of(stack, x), rule_ports(r)))
                })
                .collect()
        })
    };
    let routed: Vec<(String, i64)> = stack
        .components
        .iter()
        .filter_map(|c| c.ingress.as_ref())
        .flat_map(|i| &i.routes)
        .filter_map(|r| {
            stack
                .component(&r.component)
                .and_then(|c| c.port(r.port))
                .map(|p| (r.component.clone(), i64::from(p)))
        })
        .collect();
    for c in &stack.components {
        let Some(_) = policy(c) else {
            out.push(format!("{}: no NetworkPolicy", c.name));
            continue;
        };
        let egress = rules(c, "egress");
        let ingress = rules(c, "ingress");
        // Required edges.
        if !egress
            .iter()
            .any(|(p, ports)| *p == Peer::Dns && ports.contains(&53))
        {
            out.push(format!("{}: DNS egress missing", c.name));
        }
        for d in c.depends_on.iter().filter_map(|d| stack.component(d)) {
            let want = all_ports(d);
            if !egress.iter().any(|(p, ports)| {
                *p == Peer::Component(d.name.clone()) && want.iter().all(|w| ports.contains(w))
            }) {
                out.push(format!(
                    "{} -> {}: egress not allowed on the client",
                    c.name, d.name
                ));
            }
            if !rules(d, "ingress").iter().any(|(p, ports)| {
                *p == Peer::Component(c.name.clone()) && want.iter().all(|w| ports.contains(w))
            }) {
                out.push(format!(
                    "{} -> {}: ingress not allowed on the server",
                    c.name, d.name
                ));
            }
        }
        for e in &c.external {
            let port = match e {
                External::Https(_) => 443,
                External::Port(_, p) => i64::from(*p),
            };
            if !egress
                .iter()
                .any(|(p, ports)| *p == Peer::Internet && ports.contains(&port))
            {
                out.push(format!("{}: external {e:?} not allowed", c.name));
            }
        }
        if c.mesh_sidecar.is_some()
            && !egress
                .iter()
                .any(|(p, ports)| *p == Peer::Istiod && ports.contains(&15012))
        {
            out.push(format!("{}: istiod egress missing", c.name));
        }
        // Every allowed peer is an edge the catalog has.
        for (p, _) in &egress {
            let ok = match p {
                Peer::Dns => true,
                Peer::Component(d) => {
                    c.depends_on.contains(d)
                        || (c.parallel_pods && *d == c.name)
                        || (c.scraper && stack.component(d).is_some_and(|x| x.metrics.is_some()))
                }
                Peer::Istiod => c.mesh_sidecar.is_some(),
                Peer::Internet => !c.external.is_empty() || c.api_access,
                _ => false,
            };
            if !ok {
                out.push(format!("{}: egress to {p:?} is no catalog edge", c.name));
            }
        }
        for (p, ports) in &ingress {
            let ok = match p {
                Peer::Component(d) => stack.component(d).is_some_and(|x| {
                    x.depends_on.contains(&c.name) || x.scraper || (c.parallel_pods && *d == c.name)
                }),
                Peer::IngressGateway => {
                    !render::network::routed_ports(stack, c, render::network::Entry::Gateway)
                        .is_empty()
                }
                Peer::AnyNamespace => ports.iter().all(|port| {
                    routed.iter().any(|(n, rp)| *n == c.name && rp == port)
                        || (stack.config.monitoring && c.metrics.is_some())
                }),
                _ => false,
            };
            if !ok {
                out.push(format!("{}: ingress from {p:?} is no catalog edge", c.name));
            }
        }
    }
    out
}

/// Hosts named in a value: `*.svc.cluster.local` names and bare `name:port` service names.
fn hosts_in(value: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for tok in value.split(|c: char| {
        c.is_whitespace() || matches!(c, ',' | '/' | '@' | '"' | '\'' | '[' | ']' | ';' | '=')
    }) {
        let (host, port) = match tok.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (tok, None),
        };
        if host.ends_with(".svc.cluster.local") {
            out.push((host.to_string(), None));
        } else if let Some(p) = port {
            let bare = !host.is_empty()
                && host != "localhost"
                && host.starts_with(|c: char| c.is_ascii_lowercase())
                && host
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if bare && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
                out.push((host.to_string(), Some(p.to_string())));
            }
        }
    }
    out
}

/// Every in-cluster host in env and ConfigMap values names a planned Service.
fn check_env_hosts(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |o: &Object, what: &str, v: &str| {
        let ns = o.namespace.clone().unwrap_or_default();
        for (host, _) in hosts_in(v) {
            let (name, space) = fqdn(&host).unwrap_or((host.clone(), ns.clone()));
            if service(objects, &name, &space).is_none() {
                out.push(format!(
                    "{} {what}: `{host}` names no planned Service",
                    o.id()
                ));
            }
        }
    };
    for o in objects {
        match o.kind.as_str() {
            "ConfigMap" => {
                let value = o.value();
                if let Some(Value::Object(m)) = value.get("data") {
                    for (k, v) in m {
                        check(o, k, v.as_str().unwrap_or_default());
                    }
                }
            }
            "Deployment" | "StatefulSet" | "Job" => {
                let value = o.value();
                let spec = &value["spec"]["template"]["spec"];
                for c in arr(spec, "/containers")
                    .iter()
                    .chain(arr(spec, "/initContainers"))
                {
                    for e in arr(c, "/env") {
                        if let Some(v) = e["value"].as_str() {
                            check(o, s(e, "/name"), v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Placeholder secrets never appear in the rendered YAML.
fn check_placeholders(yaml: &str) -> Vec<String> {
    let lower = yaml.to_lowercase();
    let mut out = Vec::new();
    for bad in [
        "changeme",
        "minioadmin",
        "phc_your",
        "admin/admin",
        "your-registry",
        ":latest",
    ] {
        if lower.contains(bad) {
            out.push(format!("placeholder `{bad}` in the rendered YAML"));
        }
    }
    let b = yaml.as_bytes();
    for (i, _) in yaml.match_indices("sk-") {
        if i == 0 || !b[i - 1].is_ascii_alphanumeric() {
            out.push(format!("API-key-like `sk-…` at byte {i}"));
        }
    }
    out
}

fn all_checks(stack: &Stack, objects: &[Object]) -> Vec<String> {
    let mut v = check_routes(objects);
    v.extend(check_principals(objects));
    v.extend(check_network(stack, objects));
    v.extend(check_env_hosts(objects));
    v.extend(check_placeholders(&render::to_yaml(objects)));
    v
}

#[test]
fn every_variant_is_consistent() {
    for (name, stack) in variants() {
        let objects = render::render(&stack);
        let v = all_checks(&stack, &objects);
        assert!(v.is_empty(), "{name}:\n  {}", v.join("\n  "));
    }
}

#[test]
fn production_render_has_every_service_infra_component_and_istio_kind() {
    let stack = load(ProfileName::Production, &[]);
    let objects = render::render(&stack);
    for svc in voice_core::catalog::voiceassistant::SERVICES {
        assert!(
            objects
                .iter()
                .any(|o| o.kind == "Deployment" && o.name == svc),
            "{svc}"
        );
        assert!(
            objects
                .iter()
                .any(|o| o.kind == "ServiceAccount" && o.name == svc),
            "{svc} SA"
        );
    }
    for infra in [
        "postgres",
        "redis",
        "nacos",
        "nacos-mysql",
        "milvus",
        "milvus-etcd",
        "elasticsearch",
        "clickhouse",
        "kafka",
        "minio",
        "minio-setup",
        "prometheus",
        "grafana",
        "alertmanager",
        "jaeger-collector",
        "jaeger-query",
        "otel-collector",
    ] {
        assert!(stack.component(infra).is_some(), "{infra}");
    }
    for kind in [
        "Gateway",
        "VirtualService",
        "DestinationRule",
        "PeerAuthentication",
        "RequestAuthentication",
        "AuthorizationPolicy",
        "Telemetry",
        "EnvoyFilter",
        "ResourceQuota",
        "LimitRange",
        "PriorityClass",
        "Role",
        "RoleBinding",
    ] {
        assert!(objects.iter().any(|o| o.kind == kind), "{kind}");
    }
    assert!(!objects.iter().any(|o| o.name == "knowledge-service"
        && o.kind == "Deployment"
        && s(&o.value(), "/spec/template/spec/containers/0/image").contains("go")));
    let ns = objects
        .iter()
        .find(|o| o.kind == "Namespace" && o.name == "voiceassistant-prod")
        .map(|o| o.value().into_owned())
        .unwrap_or_default();
    assert_eq!(s(&ns, "/metadata/labels/istio-injection"), "enabled");
}

#[test]
fn llm_routes_are_never_retried_and_outlier_detection_uses_current_fields() {
    let stack = load(ProfileName::Production, &[]);
    let llm_hosts: Vec<String> = stack
        .components
        .iter()
        .filter(|c| c.mesh.llm_timeout.is_some())
        .map(|c| c.host())
        .collect();
    assert!(!llm_hosts.is_empty());
    let objects = render::render(&stack);
    for o in objects.iter().filter(|o| o.kind == "VirtualService") {
        for r in arr(&o.value(), "/spec/http") {
            let host = s(r, "/route/0/destination/host");
            let llm = llm_hosts.iter().any(|h| h == host);
            let path = r
                .pointer("/match/0/uri/prefix")
                .and_then(Value::as_str)
                .unwrap_or("");
            if llm && !path.is_empty() {
                assert_eq!(
                    r.pointer("/retries/attempts").and_then(Value::as_i64),
                    Some(0),
                    "{} {path}",
                    o.id()
                );
            }
        }
    }
    let yaml = render::to_yaml(&objects);
    assert!(yaml.contains("consecutive5xxErrors") && !yaml.contains("consecutiveErrors"));
}

#[test]
fn blue_green_renders_two_colours_and_the_service_selects_the_active_one() {
    let stack = load(
        ProfileName::Production,
        &[
            "voiceAssistant.services.identity-service.blueGreen=true",
            "voiceAssistant.services.identity-service.activeColor=green",
        ],
    );
    let objects = render::render(&stack);
    for colour in ["blue", "green"] {
        let d = objects
            .iter()
            .find(|o| o.kind == "Deployment" && o.name == format!("identity-service-{colour}"))
            .expect("colour deployment");
        assert_eq!(
            s(&d.value(), "/spec/template/metadata/labels/color"),
            colour
        );
    }
    let svc = service(&objects, "identity-service", "voiceassistant-prod").expect("service");
    assert_eq!(s(&svc.value(), "/spec/selector/color"), "green");
    let hpa = objects
        .iter()
        .find(|o| o.kind == "HorizontalPodAutoscaler" && o.name == "identity-service")
        .expect("hpa");
    assert_eq!(
        s(&hpa.value(), "/spec/scaleTargetRef/name"),
        "identity-service-green"
    );
}

#[test]
fn blue_green_colours_carry_their_own_image_and_a_finalized_standby_has_no_pods() {
    let image = "ghcr.io/voiceassistant/identity-service:1.1.0";
    let deployment = |objects: &[Object], colour: &str| {
        objects
            .iter()
            .find(|o| o.kind == "Deployment" && o.name == format!("identity-service-{colour}"))
            .expect("colour deployment")
            .value()
            .into_owned()
    };
    let sets = |extra: &[&str]| {
        let mut v = vec![
            "voiceAssistant.services.identity-service.blueGreen=true".to_string(),
            "voiceAssistant.services.identity-service.activeColor=blue".to_string(),
            format!("voiceAssistant.services.identity-service.colorImages.green={image}"),
        ];
        v.extend(extra.iter().map(|x| (*x).to_string()));
        v
    };
    let standby = sets(&[]);
    let objects = render::render(&load(
        ProfileName::Dev,
        &standby.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let (blue, green) = (deployment(&objects, "blue"), deployment(&objects, "green"));
    assert_eq!(s(&green, "/spec/template/spec/containers/0/image"), image);
    assert_ne!(s(&blue, "/spec/template/spec/containers/0/image"), image);
    assert_eq!(
        green.pointer("/spec/replicas"),
        blue.pointer("/spec/replicas")
    );

    let finalized = sets(&["voiceAssistant.services.identity-service.standby=false"]);
    let objects = render::render(&load(
        ProfileName::Dev,
        &finalized.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert_eq!(
        deployment(&objects, "green").pointer("/spec/replicas"),
        Some(&Value::from(0))
    );
    assert_eq!(
        deployment(&objects, "blue").pointer("/spec/replicas"),
        Some(&Value::from(1))
    );
}

#[test]
fn blue_green_settings_need_blue_green() {
    for set in [
        "voiceAssistant.services.identity-service.standby=false",
        "voiceAssistant.services.identity-service.colorImages.blue=ghcr.io/x/y:1",
    ] {
        let err = try_load(ProfileName::Dev, &[set]).unwrap_err();
        assert!(err.contains("only used with blueGreen: true"), "{err}");
    }
    let err = try_load(
        ProfileName::Dev,
        &[
            "voiceAssistant.services.identity-service.blueGreen=true",
            "voiceAssistant.services.identity-service.colorImages.green=ghcr.io/x/y:latest",
        ],
    )
    .unwrap_err();
    assert!(err.contains("colorImages.green"), "{err}");
}

#[test]
fn production_fit_on_three_8cpu_16gi_nodes() {
    let plan = voice_core::plan::plan(&load(ProfileName::Production, &[]));
    assert_eq!(plan.fit.verdict, voice_core::fit::Verdict::DoesNotFit);
    assert_eq!(plan.fit.nodes_needed_min, Some(6));
    assert_eq!(plan.fit.nodes_needed_max, Some(15));
}

#[test]
fn every_profile_holds_every_autoscaler_at_its_maximum_within_its_quota() {
    for p in voice_core::config::PROFILES {
        let stack = load(p, &[]);
        assert!(voice_core::policy::violations(&stack).is_empty());
        let usage = voice_core::policy::quota_usage(&stack);
        assert!(!usage.is_empty(), "{p:?}");
        for u in usage {
            assert!(
                u.fits(),
                "{p:?} {}: {:?} over {:?}",
                u.namespace,
                u.peak,
                u.quota
            );
        }
    }
}

#[test]
fn dev_fits_one_4cpu_8gi_node() {
    let plan = voice_core::plan::plan(&load(ProfileName::Dev, &[]));
    assert_eq!(plan.fit.verdict, voice_core::fit::Verdict::Fits);
    assert_eq!(plan.fit.nodes_needed_max, Some(1));
}

/// Containers whose start takes minutes: each must have a startup probe, so liveness never
/// kills a start in progress.
const SLOW_STARTERS: &[&str] = &[
    "posthog-web",
    "posthog-worker",
    "posthog-plugins",
    "posthog-clickhouse",
    "posthog-kafka",
    "model-router",
    "clickhouse",
    "kafka",
    "elasticsearch",
    "milvus",
    "nacos",
    "nacos-mysql",
];

#[test]
fn slow_starters_have_a_startup_budget_with_its_reason() {
    let stack = load(ProfileName::Production, &[]);
    for name in SLOW_STARTERS {
        let c = stack.component(name).unwrap_or_else(|| panic!("{name}"));
        let budget = c.main().probes.startup_budget();
        assert!(budget.is_some_and(|b| b >= 120), "{name}: {budget:?}");
    }
    for c in &stack.components {
        for k in c.containers.iter().chain(&c.init_containers) {
            assert_eq!(
                k.probes.startup.is_some(),
                k.probes.startup_why.is_some(),
                "{}/{}: a startup budget says why",
                c.name,
                k.name
            );
            // With a startup probe, liveness needs no delay of its own.
            if k.probes.startup.is_some()
                && let Some(l) = &k.probes.liveness
            {
                let p = k.probes.startup.as_ref().unwrap();
                assert!(
                    l.initial_delay <= p.initial_delay + p.period,
                    "{}/{}: liveness waits {} s on top of its startup probe",
                    c.name,
                    k.name,
                    l.initial_delay
                );
            }
        }
    }
}

#[test]
fn clustered_nacos_writes_its_member_list_on_a_volume_seeded_from_the_image() {
    let stack = load(ProfileName::Production, &[]);
    let n = stack.component("nacos").expect("nacos");
    assert!(n.replicas > 1, "production runs Nacos as a cluster");
    let conf = n
        .main()
        .mounts
        .iter()
        .find(|m| m.path == "/home/nacos/conf")
        .expect("conf/ is a volume: the start script writes cluster.conf there as UID 1000");
    assert!(!conf.read_only);
    let seed = n
        .init_containers
        .iter()
        .find(|c| c.mounts.iter().any(|m| m.volume == conf.volume))
        .expect("an init container seeds it");
    assert_eq!(seed.image, n.main().image, "from the image's own conf/");
    assert!(
        seed.command
            .join(" ")
            .contains("cp -R /home/nacos/conf/. /conf/")
    );
    // Standalone Nacos (dev, small) writes no member list.
    let dev = load(ProfileName::Dev, &[]);
    assert!(
        dev.component("nacos")
            .is_none_or(|c| c.init_containers.is_empty())
    );
}

// --- Each rule broken on purpose -------------------------------------------------------------

fn production() -> (Stack, Vec<Object>) {
    let stack = load(ProfileName::Production, &[]);
    let objects = render::render(&stack);
    (stack, objects)
}

#[test]
fn catches_a_route_to_a_missing_port() {
    let (_, mut objects) = production();
    let vs = objects
        .iter_mut()
        .find(|o| o.kind == "VirtualService" && o.name == "api-gateway")
        .expect("vs");
    vs.value_mut()["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] =
        Value::from(9999);
    assert!(check_routes(&objects).iter().any(|v| v.contains("9999")));
    let ing = objects
        .iter_mut()
        .find(|o| o.kind == "Ingress")
        .expect("ingress");
    ing.value_mut()["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] =
        Value::from("nowhere");
    assert!(check_routes(&objects).iter().any(|v| v.contains("nowhere")));
}

#[test]
fn catches_a_principal_no_workload_uses() {
    let (_, mut objects) = production();
    let ap = objects
        .iter_mut()
        .find(|o| o.kind == "AuthorizationPolicy" && o.name == "model-adapter")
        .expect("ap");
    ap.value_mut()["spec"]["rules"][0]["from"][0]["source"]["principals"] =
        serde_json::json!(["cluster.local/ns/voiceassistant-prod/sa/ai-orchestrator-sa"]);
    assert!(
        check_principals(&objects)
            .iter()
            .any(|v| v.contains("ai-orchestrator-sa"))
    );
}

#[test]
fn catches_a_missing_and_an_extra_network_edge() {
    let (mut stack, mut objects) = production();
    // Client side egress removed.
    let np = objects
        .iter_mut()
        .find(|o| o.kind == "NetworkPolicy" && o.name == "rag-engine")
        .expect("np");
    let egress = np.value_mut()["spec"]["egress"]
        .as_array_mut()
        .expect("egress");
    egress.retain(|r| !r.to_string().contains("\"milvus\""));
    assert!(
        check_network(&stack, &objects)
            .iter()
            .any(|v| v.contains("rag-engine -> milvus"))
    );
    // An edge the catalog no longer has, still allowed by the rendered policies.
    let (_, objects) = production();
    let c = stack
        .components
        .iter_mut()
        .find(|c| c.name == "agent-engine")
        .expect("agent");
    c.depends_on.retain(|d| d != "rag-engine");
    let v = check_network(&stack, &objects);
    assert!(
        v.iter()
            .any(|v| v.contains("agent-engine: egress to Component(\"rag-engine\")")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|v| v.contains("rag-engine: ingress from Component(\"agent-engine\")")),
        "{v:?}"
    );
}

#[test]
fn catches_an_external_or_istiod_gap() {
    let (stack, mut objects) = production();
    let np = objects
        .iter_mut()
        .find(|o| o.kind == "NetworkPolicy" && o.name == "model-adapter")
        .expect("np");
    np.value_mut()["spec"]["egress"]
        .as_array_mut()
        .expect("egress")
        .retain(|r| {
            !r.get("to")
                .is_some_and(|t| t.to_string().contains("ipBlock"))
                && !r.to_string().contains("istiod")
        });
    let v = check_network(&stack, &objects);
    assert!(
        v.iter().any(|v| v.contains("model-adapter: external")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|v| v.contains("model-adapter: istiod egress missing")),
        "{v:?}"
    );
}

#[test]
fn catches_an_env_host_that_is_not_planned() {
    let (_, mut objects) = production();
    let cm = objects
        .iter_mut()
        .find(|o| o.kind == "ConfigMap" && o.name == "model-router-config")
        .expect("cm");
    cm.value_mut()["data"]["DB_HOST"] =
        Value::from("postgres-service.voiceassistant-prod.svc.cluster.local");
    cm.value_mut()["data"]["CONSUL_ADDR"] = Value::from("consul-service:8500");
    let v = check_env_hosts(&objects);
    assert!(v.iter().any(|v| v.contains("postgres-service")), "{v:?}");
    assert!(v.iter().any(|v| v.contains("consul-service")), "{v:?}");
}

#[test]
fn catches_placeholder_secrets() {
    for bad in [
        "MINIO_ROOT_USER: minioadmin",
        "password: changeme",
        "OPENAI_API_KEY: sk-abc",
        "key: phc_YOUR_KEY",
        "grafana admin/admin",
        "image: your-registry/model-router:latest",
    ] {
        assert!(!check_placeholders(bad).is_empty(), "{bad}");
    }
    assert!(check_placeholders("task-queue disk-size").is_empty());
}

fn errors(profile: ProfileName, sets: &[&str]) -> Vec<String> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    match voice_core::load(&Input {
        profile: Some(profile),
        sets: &sets,
        ..Default::default()
    }) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn semantic_errors_name_their_field() {
    let e = errors(
        ProfileName::Production,
        &["voiceAssistant.infrastructure.milvus=false"],
    );
    assert!(e.iter().any(|m| m.starts_with("voiceAssistant.infrastructure.milvus: rag-engine needs Milvus")), "{e:?}");
    let e = errors(
        ProfileName::Production,
        &["voiceAssistant.infrastructure.elasticsearch=false"],
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("voiceAssistant.infrastructure.jaeger:")),
        "{e:?}"
    );
    let e = errors(
        ProfileName::Dev,
        &["istio.enabled=true", "voiceAssistant.enabled=false"],
    );
    assert!(e.iter().any(|m| m.starts_with("istio.enabled:")), "{e:?}");
    let e = errors(
        ProfileName::Production,
        &["istio.tracing.samplingPercent=150"],
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("istio.tracing.samplingPercent:")),
        "{e:?}"
    );
    let e = errors(
        ProfileName::Production,
        &["voiceAssistant.services.agent-engin.enabled=false"],
    );
    assert!(
        e.iter().any(|m| m.contains("did you mean `agent-engine`")),
        "{e:?}"
    );
}

#[test]
fn quota_and_limit_range_violations_name_the_component() {
    let e = errors(
        ProfileName::Production,
        &[
            "components.rag-engine.resources.limits.cpu=\"6\"",
            "components.rag-engine.resources.requests.cpu=\"1\"",
        ],
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("components.rag-engine.resources:")
                && m.contains("LimitRange maximum")),
        "{e:?}"
    );
    let e = errors(
        ProfileName::Production,
        &["components.identity-service.resources.requests.memory=64Mi"],
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("components.identity-service.resources:")
                && m.contains("minimum")),
        "{e:?}"
    );
    let e = errors(
        ProfileName::Production,
        &[
            "components.ai-orchestrator.replicas=20",
            "components.ai-orchestrator.resources.limits.cpu=\"4\"",
            "components.ai-orchestrator.resources.limits.memory=8Gi",
        ],
    );
    assert!(
        e.iter().any(|m| m.contains("over its ResourceQuota")),
        "{e:?}"
    );
}
