//! Placement: the checked `placement` settings (node labels, tolerations, node affinity,
//! spreading) and node taints, how one is refined by another, and how a node's labels and
//! taints are matched against them, the scheduler's rules as data.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Diagnostic;
use super::options::{
    NodeSelectorTermOptions, PlacementOptions, SelectorOperator, TaintEffect, TaintOptions,
    TolerationOperator, TolerationOptions,
};

/// Where a component's pods may run. Every field is optional so that a component's
/// settings can refine the global ones ([`Placement::over`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Labels the node must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node affinity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<NodeAffinity>,
    /// Spread replicas over nodes and zones (unset: yes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_spread: Option<bool>,
    /// Replicas of a StatefulSet may share a node (unset: no).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_same_node: Option<bool>,
}

/// A checked toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key (empty: every key, with `Exists`).
    pub key: String,
    /// `Equal` or `Exists`.
    pub operator: TolerationOperator,
    /// Value, with `Equal`.
    pub value: String,
    /// The effect tolerated (`None`: all).
    pub effect: Option<TaintEffect>,
    /// Seconds bound after a NoExecute taint appears.
    pub toleration_seconds: Option<i64>,
}

/// A checked node taint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

impl std::fmt::Display for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect.as_str())
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect.as_str())
        }
    }
}

/// Node affinity: required terms (one must match) and preferred ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// The node must match one of these (empty: no requirement).
    pub required: Vec<Term>,
    /// Preferred terms with their weights (1–100).
    pub preferred: Vec<(i32, Term)>,
}

/// Expressions a node's labels must all match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Term(pub Vec<Requirement>);

/// One expression on a node label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values.
    pub values: Vec<String>,
}

impl Placement {
    /// `self` (a component's settings) over `base` (the global ones): nodeSelector merged
    /// key by key, `self` winning; every other field replaced when `self` sets it.
    pub fn over(&self, base: &Placement) -> Placement {
        let node_selector = match (&base.node_selector, &self.node_selector) {
            (Some(b), Some(o)) => {
                let mut m = b.clone();
                m.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
                Some(m)
            }
            (b, o) => o.clone().or_else(|| b.clone()),
        };
        Placement {
            node_selector,
            tolerations: self
                .tolerations
                .clone()
                .or_else(|| base.tolerations.clone()),
            affinity: self.affinity.clone().or_else(|| base.affinity.clone()),
            topology_spread: self.topology_spread.or(base.topology_spread),
            allow_same_node: self.allow_same_node.or(base.allow_same_node),
        }
    }
    /// Spread replicas over nodes and zones.
    pub fn spread(&self) -> bool {
        self.topology_spread.unwrap_or(true)
    }
    /// StatefulSet replicas may share a node.
    pub fn same_node(&self) -> bool {
        self.allow_same_node.unwrap_or(false)
    }
    /// The nodeSelector, empty when unset.
    pub fn selector(&self) -> impl Iterator<Item = (&String, &String)> {
        self.node_selector.iter().flatten()
    }
    /// The tolerations, empty when unset.
    pub fn tolerations(&self) -> &[Toleration] {
        self.tolerations.as_deref().unwrap_or_default()
    }
    /// The required node affinity terms (empty: none).
    pub fn required(&self) -> &[Term] {
        self.affinity.as_ref().map_or(&[], |a| &a.required)
    }
    /// Whether a node with these labels matches the nodeSelector and required affinity;
    /// `Err` says which does not.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> Result<(), Mismatch> {
        if let Some((k, v)) = self.selector().find(|(k, v)| labels.get(*k) != Some(*v)) {
            return Err(Mismatch::Selector(format!("{k}={v}")));
        }
        let required = self.required();
        if !required.is_empty() && !required.iter().any(|t| t.matches(labels)) {
            return Err(Mismatch::Affinity);
        }
        Ok(())
    }
    /// The first NoSchedule or NoExecute taint these pods do not tolerate.
    pub fn untolerated<'a>(&self, taints: &'a [Taint]) -> Option<&'a Taint> {
        taints.iter().find(|t| {
            t.effect != TaintEffect::PreferNoSchedule
                && !self.tolerations().iter().any(|x| x.tolerates(t))
        })
    }
    /// Whether nothing is set (every default).
    pub fn is_unset(&self) -> bool {
        *self == Placement::default()
    }
    /// Whether the pods carry no rule on their node at all.
    pub fn is_empty(&self) -> bool {
        self.selector().next().is_none() && self.tolerations().is_empty() && self.affinity.is_none()
    }
}

/// Why a node's labels do not match a placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A nodeSelector label (`key=value`) the node lacks.
    Selector(String),
    /// No required node affinity term matches.
    Affinity,
}

impl Toleration {
    /// Whether this toleration tolerates a taint (the scheduler's rule).
    pub fn tolerates(&self, t: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != t.effect) {
            return false;
        }
        if self.key.is_empty() {
            return self.operator == TolerationOperator::Exists;
        }
        self.key == t.key
            && match self.operator {
                TolerationOperator::Exists => true,
                TolerationOperator::Equal => self.value == t.value,
            }
    }
}

impl Term {
    /// Whether every expression matches the labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| match r.operator {
                SelectorOperator::Exists | SelectorOperator::DoesNotExist => {
                    format!("{} {}", r.key, r.operator.as_str())
                }
                op => format!("{} {} ({})", r.key, op.as_str(), r.values.join(", ")),
            })
            .collect();
        f.write_str(&parts.join(" and "))
    }
}

impl Requirement {
    /// Whether the labels match this expression.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        let number = |s: &str| s.parse::<i64>().ok();
        let bound = self.values.first().and_then(|s| number(s));
        match self.operator {
            SelectorOperator::In => v.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => v.is_some(),
            SelectorOperator::DoesNotExist => v.is_none(),
            SelectorOperator::Gt => {
                matches!((v.and_then(|v| number(v)), bound), (Some(a), Some(b)) if a > b)
            }
            SelectorOperator::Lt => {
                matches!((v.and_then(|v| number(v)), bound), (Some(a), Some(b)) if a < b)
            }
        }
    }
}

/// Checks a label key: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters, alphanumeric at both ends with `-`, `_` and `.` between.
pub fn check_label_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Err("the prefix before `/` is empty".into());
        }
        super::check_dns_subdomain(p).map_err(|why| format!("its prefix `{p}`: {why}"))?;
    }
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    check_label_value(name)
}

/// Checks a label value: empty, or at most 63 characters, alphanumeric at both ends with
/// `-`, `_` and `.` between.
pub fn check_label_value(v: &str) -> Result<(), String> {
    if v.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            v.len()
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{c}` is not allowed; use letters, digits, `-`, `_` and `.`"
        ));
    }
    let alnum = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !alnum(v.chars().next()) || !alnum(v.chars().last()) {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

fn label_key(diags: &mut Vec<Diagnostic>, path: &str, k: &str) -> bool {
    match check_label_key(k) {
        Ok(()) => true,
        Err(why) => {
            diags.push(Diagnostic::at_value(
                path,
                format!("`{k}` is not a valid Kubernetes label key: {why}"),
            ));
            false
        }
    }
}

fn label_value(diags: &mut Vec<Diagnostic>, path: &str, v: &str) -> bool {
    match check_label_value(v) {
        Ok(()) => true,
        Err(why) => {
            diags.push(Diagnostic::at_value(
                path,
                format!("`{v}` is not a valid Kubernetes label value: {why}"),
            ));
            false
        }
    }
}

/// Checks node labels (`cluster.nodes[i].labels`, a nodeSelector).
pub fn labels(
    diags: &mut Vec<Diagnostic>,
    path: &str,
    m: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    m.iter()
        .filter(|(k, v)| {
            let p = format!("{path}.{k}");
            let key = label_key(diags, &p, k);
            label_value(diags, &p, v) && key
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Checks a node's taints.
pub fn taints(diags: &mut Vec<Diagnostic>, path: &str, list: &[TaintOptions]) -> Vec<Taint> {
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let key = t.key.clone().unwrap_or_default();
        let ok_key = if key.is_empty() {
            diags.push(Diagnostic::at_value(
                &format!("{p}.key"),
                "required: the taint's key, e.g. dedicated",
            ));
            false
        } else {
            label_key(diags, &format!("{p}.key"), &key)
        };
        let value = t.value.clone().unwrap_or_default();
        let ok_value = label_value(diags, &format!("{p}.value"), &value);
        let Some(effect) = t.effect else {
            diags.push(Diagnostic::at_value(
                &format!("{p}.effect"),
                "required: NoSchedule, PreferNoSchedule or NoExecute",
            ));
            continue;
        };
        if ok_key && ok_value {
            out.push(Taint { key, value, effect });
        }
    }
    out
}

fn toleration(diags: &mut Vec<Diagnostic>, p: &str, t: &TolerationOptions) -> Option<Toleration> {
    let n = diags.len();
    let key = t.key.clone().unwrap_or_default();
    let operator = t.operator.unwrap_or(TolerationOperator::Equal);
    let value = t.value.clone().unwrap_or_default();
    if key.is_empty() {
        if operator != TolerationOperator::Exists {
            diags.push(Diagnostic::at_value(
                &format!("{p}.key"),
                "a toleration without a key tolerates every taint and needs operator: Exists; name the taint's key",
            ));
        }
    } else {
        label_key(diags, &format!("{p}.key"), &key);
    }
    match operator {
        TolerationOperator::Exists if t.value.is_some() => diags.push(Diagnostic::at_value(
            &format!("{p}.value"),
            "operator Exists matches the key whatever its value; drop value, or use operator: Equal",
        )),
        TolerationOperator::Equal => {
            label_value(diags, &format!("{p}.value"), &value);
        }
        TolerationOperator::Exists => {}
    }
    if let Some(s) = t.toleration_seconds
        && t.effect != Some(TaintEffect::NoExecute)
    {
        diags.push(Diagnostic::at_value(
            &format!("{p}.tolerationSeconds"),
            format!("tolerationSeconds ({s}) applies only to effect: NoExecute"),
        ));
    }
    (diags.len() == n).then_some(Toleration {
        key,
        operator,
        value,
        effect: t.effect,
        toleration_seconds: t.toleration_seconds,
    })
}

fn term(diags: &mut Vec<Diagnostic>, p: &str, t: Option<&NodeSelectorTermOptions>) -> Term {
    let list = t
        .and_then(|t| t.match_expressions.as_deref())
        .unwrap_or_default();
    if list.is_empty() {
        diags.push(Diagnostic::at_value(
            &format!("{p}.matchExpressions"),
            "a term without expressions matches no node; list at least one",
        ));
    }
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let rp = format!("{p}.matchExpressions[{i}]");
        let key = r.key.clone().unwrap_or_default();
        if key.is_empty() {
            diags.push(Diagnostic::at_value(
                &format!("{rp}.key"),
                "required: a node label key",
            ));
        } else {
            label_key(diags, &format!("{rp}.key"), &key);
        }
        let Some(operator) = r.operator else {
            diags.push(Diagnostic::at_value(
                &format!("{rp}.operator"),
                "required: In, NotIn, Exists, DoesNotExist, Gt or Lt",
            ));
            continue;
        };
        let values = r.values.clone().unwrap_or_default();
        let vp = format!("{rp}.values");
        match operator {
            SelectorOperator::In | SelectorOperator::NotIn if values.is_empty() => {
                diags.push(Diagnostic::at_value(
                    &vp,
                    format!("{} needs at least one value", operator.as_str()),
                ));
            }
            SelectorOperator::Exists | SelectorOperator::DoesNotExist if !values.is_empty() => {
                diags.push(Diagnostic::at_value(
                    &vp,
                    format!("{} takes no values; drop them", operator.as_str()),
                ));
            }
            SelectorOperator::Gt | SelectorOperator::Lt
                if values.len() != 1 || values[0].parse::<i64>().is_err() =>
            {
                diags.push(Diagnostic::at_value(
                    &vp,
                    format!("{} takes exactly one integer value", operator.as_str()),
                ));
            }
            _ => {
                for (j, v) in values.iter().enumerate() {
                    label_value(diags, &format!("{vp}[{j}]"), v);
                }
            }
        }
        out.push(Requirement {
            key,
            operator,
            values,
        });
    }
    Term(out)
}

/// Checks `placement` settings at `path` (`placement`, `components.<name>.placement`).
pub fn resolve(diags: &mut Vec<Diagnostic>, path: &str, o: &PlacementOptions) -> Placement {
    let node_selector = o
        .node_selector
        .as_ref()
        .map(|m| labels(diags, &format!("{path}.nodeSelector"), m));
    let tolerations = o.tolerations.as_ref().map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, t)| toleration(diags, &format!("{path}.tolerations[{i}]"), t))
            .collect()
    });
    let affinity = o
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .map(|na| {
            let ap = format!("{path}.affinity.nodeAffinity");
            let required = na
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .map(|r| {
                    let rp = format!("{ap}.requiredDuringSchedulingIgnoredDuringExecution");
                    let terms = r.node_selector_terms.as_deref().unwrap_or_default();
                    if terms.is_empty() {
                        diags.push(Diagnostic::at_value(
                            &format!("{rp}.nodeSelectorTerms"),
                            "list at least one term, or drop requiredDuringSchedulingIgnoredDuringExecution",
                        ));
                    }
                    terms
                        .iter()
                        .enumerate()
                        .map(|(i, t)| term(diags, &format!("{rp}.nodeSelectorTerms[{i}]"), Some(t)))
                        .collect()
                })
                .unwrap_or_default();
            let preferred = na
                .preferred_during_scheduling_ignored_during_execution
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let pp = format!("{ap}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                    let weight = p.weight.unwrap_or(0);
                    if !(1..=100).contains(&weight) {
                        diags.push(Diagnostic::at_value(
                            &format!("{pp}.weight"),
                            format!("must be between 1 and 100, found {weight}"),
                        ));
                    }
                    (weight, term(diags, &format!("{pp}.preference"), p.preference.as_ref()))
                })
                .collect();
            NodeAffinity {
                required,
                preferred,
            }
        });
    Placement {
        node_selector,
        tolerations,
        affinity,
        topology_spread: o.topology_spread,
        allow_same_node: o.allow_same_node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect,
        }
    }

    fn tol(
        key: &str,
        op: TolerationOperator,
        value: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: key.into(),
            operator: op,
            value: value.into(),
            effect,
            toleration_seconds: None,
        }
    }

    #[test]
    fn tolerations_match_as_the_scheduler_does() {
        use TaintEffect::*;
        use TolerationOperator::*;
        let gpu = taint("dedicated", "gpu", NoSchedule);
        assert!(tol("dedicated", Equal, "gpu", None).tolerates(&gpu));
        assert!(tol("dedicated", Equal, "gpu", Some(NoSchedule)).tolerates(&gpu));
        assert!(!tol("dedicated", Equal, "gpu", Some(NoExecute)).tolerates(&gpu));
        assert!(!tol("dedicated", Equal, "data", None).tolerates(&gpu));
        assert!(tol("dedicated", Exists, "", None).tolerates(&gpu));
        assert!(tol("", Exists, "", None).tolerates(&gpu));
        assert!(!tol("", Equal, "", None).tolerates(&gpu));
        let p = Placement {
            tolerations: Some(vec![tol("dedicated", Equal, "gpu", None)]),
            ..Default::default()
        };
        let soft = taint("spot", "", PreferNoSchedule);
        let hard = taint("team", "x", NoExecute);
        assert_eq!(p.untolerated(&[gpu.clone(), soft.clone()]), None);
        assert_eq!(p.untolerated(&[gpu, soft, hard.clone()]), Some(&hard));
        assert_eq!(hard.to_string(), "team=x:NoExecute");
    }

    #[test]
    fn selectors_and_affinity_match_labels() {
        let labels: BTreeMap<String, String> = [("pool", "data"), ("cores", "16")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let req = |key: &str, operator, values: &[&str]| Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        use SelectorOperator::*;
        assert!(req("pool", In, &["data", "db"]).matches(&labels));
        assert!(!req("pool", NotIn, &["data"]).matches(&labels));
        assert!(req("zone", NotIn, &["a"]).matches(&labels));
        assert!(req("pool", Exists, &[]).matches(&labels));
        assert!(req("gpu", DoesNotExist, &[]).matches(&labels));
        assert!(req("cores", Gt, &["8"]).matches(&labels));
        assert!(!req("cores", Lt, &["8"]).matches(&labels));
        assert!(!req("pool", Gt, &["8"]).matches(&labels));
        let p = Placement {
            node_selector: Some([("pool".into(), "apps".into())].into()),
            ..Default::default()
        };
        assert_eq!(
            p.matches(&labels),
            Err(Mismatch::Selector("pool=apps".into()))
        );
        let p = Placement {
            affinity: Some(NodeAffinity {
                required: vec![
                    Term(vec![req("pool", In, &["gpu"])]),
                    Term(vec![req("cores", Gt, &["8"])]),
                ],
                preferred: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(p.matches(&labels), Ok(()));
    }

    #[test]
    fn a_component_refines_the_global_placement() {
        let global = Placement {
            node_selector: Some(
                [
                    ("pool".into(), "apps".into()),
                    ("arch".into(), "amd64".into()),
                ]
                .into(),
            ),
            tolerations: Some(vec![tol("a", TolerationOperator::Exists, "", None)]),
            topology_spread: Some(false),
            ..Default::default()
        };
        let component = Placement {
            node_selector: Some([("pool".into(), "data".into())].into()),
            tolerations: Some(vec![]),
            ..Default::default()
        };
        let m = component.over(&global);
        assert_eq!(
            m.node_selector,
            Some(
                [
                    ("pool".into(), "data".into()),
                    ("arch".into(), "amd64".into())
                ]
                .into()
            )
        );
        assert!(m.tolerations().is_empty());
        assert!(!m.spread());
        assert!(!m.same_node());
    }

    #[test]
    fn label_keys_and_values() {
        assert!(check_label_key("topology.kubernetes.io/zone").is_ok());
        assert!(check_label_key("pool").is_ok());
        assert!(check_label_key("/pool").is_err());
        assert!(check_label_key("Bad_Domain/pool").is_err());
        assert!(check_label_key("pool-").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("a b").is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
    }
}
