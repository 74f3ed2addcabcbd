//! What one run acts on: `--only` and `--skip`, as plain data. A selection never changes the
//! configuration: it picks which of the configuration's objects this run writes. A part left
//! out is *not installed by this run*; it is never deleted, and pruning compares live objects
//! with the whole configuration, not with the selection.
//!
//! Which [`Leaf`] a component belongs to is the catalog's to say (`Selection::includes`);
//! the render filters its objects and Secrets by a selection, so `plan --only posthog` lists
//! exactly what `install --only posthog` applies.

use std::collections::BTreeSet;

use super::Diagnostic;

/// A part of the stack, as named on the command line. `voiceassistant` holds the platform's
/// services and the parts below it; the others are leaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// Self-hosted PostHog.
    Posthog,
    /// The Model Router.
    ModelRouter,
    /// The VoiceAssistant platform: its services, infrastructure, monitoring and mesh.
    #[serde(rename = "voiceassistant")]
    VoiceAssistant,
    /// The platform's databases, caches, brokers and tracing.
    Infra,
    /// Prometheus, Grafana, Alertmanager and the ServiceMonitors.
    Monitoring,
    /// The Istio resources of the mesh.
    Istio,
}

/// What an object belongs to: a leaf of [`Part`], with the platform services apart from
/// their parent so that `--skip infra` can keep them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Leaf {
    /// PostHog's components.
    Posthog,
    /// The Model Router's components.
    ModelRouter,
    /// The platform's services.
    Services,
    /// The platform's databases, caches, brokers and tracing.
    Infra,
    /// The monitoring stack and the ServiceMonitors.
    Monitoring,
    /// The mesh's resources.
    Istio,
}

impl Part {
    /// Every part, in the order the help text lists them.
    pub const ALL: [Part; 6] = [
        Part::Posthog,
        Part::ModelRouter,
        Part::VoiceAssistant,
        Part::Infra,
        Part::Istio,
        Part::Monitoring,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Posthog => "posthog",
            Part::ModelRouter => "model-router",
            Part::VoiceAssistant => "voiceassistant",
            Part::Infra => "infra",
            Part::Monitoring => "monitoring",
            Part::Istio => "istio",
        }
    }

    /// Parses a name from the command line.
    pub fn parse(s: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The leaves this part stands for.
    pub fn leaves(self) -> &'static [Leaf] {
        match self {
            Part::Posthog => &[Leaf::Posthog],
            Part::ModelRouter => &[Leaf::ModelRouter],
            Part::VoiceAssistant => &[Leaf::Services, Leaf::Infra, Leaf::Monitoring, Leaf::Istio],
            Part::Infra => &[Leaf::Infra],
            Part::Monitoring => &[Leaf::Monitoring],
            Part::Istio => &[Leaf::Istio],
        }
    }
}

/// The parts one run acts on. The default is everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// `--only`: act on these parts alone (empty: every part).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<Part>,
    /// `--skip`: leave these parts out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<Part>,
}

impl Selection {
    /// Parses `--only` and `--skip` values (each possibly comma-separated). Every unknown
    /// name is reported, each under its flag.
    pub fn parse(only: &[String], skip: &[String]) -> Result<Selection, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let mut parse = |flag: &str, values: &[String]| -> Vec<Part> {
            let mut out = Vec::new();
            for v in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
                if v.is_empty() {
                    continue;
                }
                match Part::parse(v) {
                    Some(p) if !out.contains(&p) => out.push(p),
                    Some(_) => {}
                    None => {
                        let names: Vec<&str> = Part::ALL.iter().map(|p| p.as_str()).collect();
                        let hint = super::shape::closest(v, names.iter().copied()).map_or_else(
                            || format!("; use one of {}", names.join(", ")),
                            |b| format!(", did you mean `{b}`?"),
                        );
                        diags.push(Diagnostic::at_value(
                            flag,
                            format!("`{v}` is not a part{hint}"),
                        ));
                    }
                }
            }
            out
        };
        let selection = Selection {
            only: parse("--only", only),
            skip: parse("--skip", skip),
        };
        if !diags.is_empty() {
            return Err(diags);
        }
        if !selection.only.is_empty() && selection.leaves().is_empty() {
            return Err(vec![Diagnostic::at_value(
                "--skip",
                "skips every part that --only names: nothing is left to act on",
            )]);
        }
        Ok(selection)
    }

    /// True when the run acts on the whole configuration.
    pub fn is_everything(&self) -> bool {
        self.leaves().len() == ALL_LEAVES.len()
    }

    /// The leaves this run acts on.
    pub fn leaves(&self) -> BTreeSet<Leaf> {
        let mut out: BTreeSet<Leaf> = if self.only.is_empty() {
            ALL_LEAVES.iter().copied().collect()
        } else {
            self.only.iter().flat_map(|p| p.leaves()).copied().collect()
        };
        for p in &self.skip {
            for l in p.leaves() {
                out.remove(l);
            }
        }
        out
    }

    /// `--only posthog --skip monitoring`, or "everything", for messages.
    pub fn describe(&self) -> String {
        let list = |ps: &[Part]| ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
        match (self.only.is_empty(), self.skip.is_empty()) {
            (true, true) => "everything".into(),
            (false, true) => format!("--only {}", list(&self.only)),
            (true, false) => format!("--skip {}", list(&self.skip)),
            (false, false) => format!("--only {} --skip {}", list(&self.only), list(&self.skip)),
        }
    }
}

/// Every leaf.
const ALL_LEAVES: [Leaf; 6] = [
    Leaf::Posthog,
    Leaf::ModelRouter,
    Leaf::Services,
    Leaf::Infra,
    Leaf::Monitoring,
    Leaf::Istio,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_with_every_problem_named() {
        let err = Selection::parse(&["posthog,istoi".into()], &["infr".into()]).unwrap_err();
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(err.len(), 2, "{text:?}");
        assert!(
            text[0].contains("--only") && text[0].contains("`istio`"),
            "{text:?}"
        );
        assert!(
            text[1].contains("--skip") && text[1].contains("`infra`"),
            "{text:?}"
        );
        for p in Part::ALL {
            assert_eq!(Part::parse(p.as_str()), Some(p));
        }
        assert!(Selection::parse(&["infra".into()], &["voiceassistant".into()]).is_err());
        assert!(Selection::default().is_everything());
        assert!(Selection::parse(&[], &["nothing-else".into()]).is_err());
    }
}
