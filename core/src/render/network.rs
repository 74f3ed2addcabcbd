//! Traffic: the Ingresses, one NetworkPolicy per component derived from the catalog's
//! dependency edges (ingress from dependents, egress to dependencies, DNS and declared
//! external endpoints, nothing else), and ServiceMonitors when monitoring is on.
//!
//! Besides dependency edges: peers of one component reach each other (brokers, quorum
//! members); the in-plan Prometheus reaches every metrics port (and the merged-metrics ports of
//! mesh sidecars); components reading the Kubernetes API reach it; with Istio, meshed pods
//! reach istiod (`istio-system`, 15012) and the ingress gateway reaches the routed ports.

use std::collections::BTreeMap;

use super::k8s::{
    Endpoint, HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, IntOrString, LabelSelector, NamespaceSelector,
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort, ServiceMonitor, ServiceMonitorSpec,
    Str, owned,
};
use super::{Object, Stage, meta, selector_labels};
use crate::catalog::{Component, External, Stack};

/// Ports a mesh sidecar serves for scraping: merged app metrics and Envoy's own.
pub const SIDECAR_METRICS_PORTS: [u16; 2] = [15020, 15090];
/// istiod's xDS port that every sidecar dials.
pub const ISTIOD_PORT: u16 = 15012;
/// Ports of the Kubernetes API server.
pub const API_SERVER_PORTS: [u16; 2] = [443, 6443];

/// Private address ranges excluded from "the internet" egress.
pub const PRIVATE_RANGES: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

fn ports(c: &Component) -> Vec<u16> {
    c.containers
        .iter()
        .flat_map(|x| &x.ports)
        .map(|p| p.port)
        .collect()
}

fn tcp(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".into()),
    }
}

fn peer(stack: &Stack, c: &Component) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".into(),
                owned(&c.namespace),
            )])),
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(stack, &c.name)),
        }),
        ..Default::default()
    }
}

fn any_namespace() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        ..Default::default()
    }
}

fn internet() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".into(),
            except: Some(PRIVATE_RANGES.map(Str::from).to_vec()),
        }),
        ..Default::default()
    }
}

/// Any address: the API server, and hosts outside the cluster that may sit in a private range.
fn anywhere() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".into(),
            except: None,
        }),
        ..Default::default()
    }
}

/// Where public traffic enters the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// An Ingress of the cluster's ingress class.
    Ingress,
    /// The Istio ingress gateway.
    Gateway,
}

/// The ports of `c` that public traffic reaches through `entry`, sorted, without repeats: the
/// routes naming `c` on any component's Ingress, or `c`'s own routes through the mesh's
/// Gateway (none without Istio).
pub fn routed_ports(stack: &Stack, c: &Component, entry: Entry) -> Vec<u16> {
    let names: Vec<&str> = match entry {
        Entry::Ingress => stack
            .components
            .iter()
            .filter_map(|o| o.ingress.as_ref())
            .flat_map(|i| &i.routes)
            .filter(|r| r.component == c.name)
            .map(|r| r.port)
            .collect(),
        Entry::Gateway if stack.config.istio.is_some() => {
            c.mesh.routes.iter().map(|r| r.port).collect()
        }
        Entry::Gateway => Vec::new(),
    };
    let mut out: Vec<u16> = names.into_iter().filter_map(|n| c.port(n)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn istio_peer(app: &'static str, value: &'static str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".into(),
                super::istio::ISTIO_NAMESPACE.into(),
            )])),
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(app.into(), value.into())])),
        }),
        ..Default::default()
    }
}

/// The ports a scraper reaches on `c`: its metrics port, and the sidecar's when meshed.
pub fn scrape_ports(c: &Component) -> Vec<u16> {
    let Some((name, _)) = c.metrics else {
        return Vec::new();
    };
    let mut out: Vec<u16> = c
        .containers
        .iter()
        .flat_map(|x| &x.ports)
        .filter(|p| p.name == name)
        .map(|p| p.port)
        .take(1)
        .collect();
    if c.mesh_sidecar.is_some() {
        out.extend(SIDECAR_METRICS_PORTS);
    }
    out
}

/// The NetworkPolicy of a component.
pub fn network_policy(stack: &Stack, c: &Component) -> NetworkPolicy {
    let mut ingress = Vec::new();
    if c.parallel_pods {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![peer(stack, c)]),
            ports: Some(ports(c).into_iter().map(tcp).collect()),
        });
    }
    let scrape = scrape_ports(c);
    if !scrape.is_empty() {
        for s in stack.components.iter().filter(|s| s.scraper) {
            ingress.push(NetworkPolicyIngressRule {
                from: Some(vec![peer(stack, s)]),
                ports: Some(scrape.iter().copied().map(tcp).collect()),
            });
        }
    }
    let meshed = routed_ports(stack, c, Entry::Gateway);
    if !meshed.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![istio_peer("istio", "ingressgateway")]),
            ports: Some(meshed.into_iter().map(tcp).collect()),
        });
    }
    for d in stack
        .components
        .iter()
        .filter(|d| d.depends_on.contains(&c.name))
    {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![peer(stack, d)]),
            ports: Some(ports(c).into_iter().map(tcp).collect()),
        });
    }
    let routed = routed_ports(stack, c, Entry::Ingress);
    if !routed.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![any_namespace()]),
            ports: Some(routed.into_iter().map(tcp).collect()),
        });
    }
    if stack.config.monitoring
        && let Some((name, _)) = c.metrics
        && let Some(p) = c
            .containers
            .iter()
            .flat_map(|x| &x.ports)
            .find(|p| p.name == name)
    {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![any_namespace()]),
            ports: Some(vec![tcp(p.port)]),
        });
    }
    let mut egress = vec![NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".into(),
                    "kube-system".into(),
                )])),
            }),
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("k8s-app".into(), "kube-dns".into())])),
            }),
            ..Default::default()
        }]),
        ports: Some(vec![
            NetworkPolicyPort {
                port: Some(IntOrString::Int(53)),
                protocol: Some("UDP".into()),
            },
            NetworkPolicyPort {
                port: Some(IntOrString::Int(53)),
                protocol: Some("TCP".into()),
            },
        ]),
    }];
    for dep in c.depends_on.iter().filter_map(|d| stack.component(d)) {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![peer(stack, dep)]),
            ports: Some(ports(dep).into_iter().map(tcp).collect()),
        });
    }
    if c.parallel_pods {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![peer(stack, c)]),
            ports: Some(ports(c).into_iter().map(tcp).collect()),
        });
    }
    if c.scraper {
        for t in stack.components.iter() {
            let p = scrape_ports(t);
            if !p.is_empty() {
                egress.push(NetworkPolicyEgressRule {
                    to: Some(vec![peer(stack, t)]),
                    ports: Some(p.into_iter().map(tcp).collect()),
                });
            }
        }
    }
    if c.mesh_sidecar.is_some() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![istio_peer("app", "istiod")]),
            ports: Some(vec![tcp(ISTIOD_PORT)]),
        });
    }
    if c.api_access {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![anywhere()]),
            ports: Some(API_SERVER_PORTS.into_iter().map(tcp).collect()),
        });
    }
    // HTTPS to the internet; a port outside the cluster (a store's, the metadata server's) to
    // any address.
    let ports = |pick: fn(&External) -> Option<u16>| {
        let mut v: Vec<u16> = c.external.iter().filter_map(pick).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let https = ports(|e| matches!(e, External::Https(_)).then_some(443));
    if !https.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![internet()]),
            ports: Some(https.into_iter().map(tcp).collect()),
        });
    }
    let outside = ports(|e| match e {
        External::Port(_, p) => Some(*p),
        External::Https(_) => None,
    });
    if !outside.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![anywhere()]),
            ports: Some(outside.into_iter().map(tcp).collect()),
        });
    }
    NetworkPolicy {
        metadata: meta(stack, c, &c.name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(stack, &c.name)),
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: Some(egress),
        }),
    }
}

pub(super) fn objects(stack: &Stack, c: &Component) -> Vec<Object> {
    let mut out = Vec::new();
    if let Some(spec) = &c.ingress {
        let mut m = meta(stack, c, &c.name);
        m.annotations = Some(
            spec.annotations
                .iter()
                .map(|(k, v)| (Str::from(*k), owned(v)))
                .collect(),
        );
        let paths = spec
            .routes
            .iter()
            .map(|r| HTTPIngressPath {
                path: Some(owned(&r.path)),
                path_type: if r.exact {
                    "Exact".into()
                } else {
                    "Prefix".into()
                },
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: owned(&r.component),
                        port: Some(ServiceBackendPort {
                            name: Some(r.port.into()),
                        }),
                    }),
                },
            })
            .collect();
        let ing = Ingress {
            metadata: m,
            spec: Some(IngressSpec {
                ingress_class_name: Some(owned(&stack.config.cluster.ingress_class)),
                tls: Some(vec![IngressTLS {
                    hosts: Some(vec![owned(&spec.host)]),
                    secret_name: Some(owned(&spec.tls_secret)),
                }]),
                rules: Some(vec![IngressRule {
                    host: Some(owned(&spec.host)),
                    http: Some(HTTPIngressRuleValue { paths }),
                }]),
            }),
        };
        out.push(Object::new(&c.name, Stage::Routing, ing));
    }
    out.push(Object::new(
        &c.name,
        Stage::Routing,
        network_policy(stack, c),
    ));
    if stack.config.monitoring
        && c.service
        && let Some((port, path)) = c.metrics
    {
        let sm = ServiceMonitor {
            metadata: meta(stack, c, &c.name),
            spec: ServiceMonitorSpec {
                selector: LabelSelector {
                    match_labels: Some(selector_labels(stack, &c.name)),
                },
                namespace_selector: NamespaceSelector {
                    match_names: vec![owned(&c.namespace)],
                },
                endpoints: vec![Endpoint {
                    port: port.into(),
                    path: path.into(),
                    interval: "30s".into(),
                }],
            },
        };
        out.push(Object::new(&c.name, Stage::Routing, sm));
    }
    out
}
