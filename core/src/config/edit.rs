//! Typed changes to a checked [`Config`]: the values the day-2 verbs change (`scale` a
//! component's replicas, `switch` a blue-green service's colours, `upgrade-engine` a
//! database's image and StatefulSets), each with the field path
//! it has in `voice.yaml`, so a caller changes a loaded configuration and builds it again
//! without reading any text twice, and records the same change in its document.

use serde_json::Value;

use super::{BlueGreen, Color, Config, Diagnostic, EngineUpgrade, check_image, replica_bounds};

/// One change of one value of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `components.<component>.replicas` (an autoscaled component's minimum).
    Replicas {
        /// The component.
        component: String,
        /// The count.
        replicas: u32,
    },
    /// `components.<component>.maxReplicas` (an autoscaled component's maximum).
    MaxReplicas {
        /// The component.
        component: String,
        /// The count.
        max_replicas: u32,
    },
    /// `voiceAssistant.services.<service>.activeColor`.
    ActiveColor {
        /// The blue-green service.
        service: String,
        /// The colour its Service selects.
        color: Color,
    },
    /// `voiceAssistant.services.<service>.standby`.
    Standby {
        /// The blue-green service.
        service: String,
        /// Whether the idle colour keeps its pods.
        standby: bool,
    },
    /// `voiceAssistant.services.<service>.colorImages.<color>`.
    ColorImage {
        /// The blue-green service.
        service: String,
        /// The colour.
        color: Color,
        /// The image that colour runs.
        image: String,
    },
    /// `components.<component>.image`.
    Image {
        /// The component.
        component: String,
        /// Its main container's image.
        image: String,
    },
    /// `components.<component>.engineUpgrade`.
    EngineUpgrade {
        /// The database component.
        component: String,
        /// Its data StatefulSets.
        upgrade: EngineUpgrade,
    },
}

impl Change {
    /// The field's dotted path in `voice.yaml`.
    pub fn field(&self) -> String {
        match self {
            Change::Replicas { component, .. } => format!("components.{component}.replicas"),
            Change::MaxReplicas { component, .. } => {
                format!("components.{component}.maxReplicas")
            }
            Change::ActiveColor { service, .. } => {
                format!("voiceAssistant.services.{service}.activeColor")
            }
            Change::Standby { service, .. } => {
                format!("voiceAssistant.services.{service}.standby")
            }
            Change::ColorImage { service, color, .. } => format!(
                "voiceAssistant.services.{service}.colorImages.{}",
                color.as_str()
            ),
            Change::Image { component, .. } => format!("components.{component}.image"),
            Change::EngineUpgrade { component, .. } => {
                format!("components.{component}.engineUpgrade")
            }
        }
    }

    /// The value as `voice.yaml` holds it.
    pub fn value(&self) -> Value {
        match self {
            Change::Replicas { replicas: n, .. }
            | Change::MaxReplicas {
                max_replicas: n, ..
            } => (*n).into(),
            Change::ActiveColor { color, .. } => color.as_str().into(),
            Change::Standby { standby, .. } => (*standby).into(),
            Change::ColorImage { image, .. } | Change::Image { image, .. } => image.as_str().into(),
            Change::EngineUpgrade { upgrade, .. } => upgrade.to_value(),
        }
    }
}

impl Config {
    /// Makes a change, with the checks of its one field that resolving a file makes (the
    /// checks across fields, such as `maxReplicas` against `replicas`, run when the stack is
    /// built, after every change).
    pub fn apply(&mut self, change: &Change) -> Result<(), Diagnostic> {
        match change {
            Change::Replicas {
                component,
                replicas,
            } => {
                self.overrides
                    .entry(component.clone())
                    .or_default()
                    .replicas = Some(*replicas);
            }
            Change::MaxReplicas {
                component,
                max_replicas,
            } => {
                self.overrides
                    .entry(component.clone())
                    .or_default()
                    .max_replicas = Some(*max_replicas);
            }
            Change::ActiveColor { service, color } => {
                self.blue_green(service, "activeColor")?.active = *color;
            }
            Change::Standby { service, standby } => {
                self.blue_green(service, "standby")?.standby = *standby;
            }
            Change::ColorImage {
                service,
                color,
                image,
            } => {
                check_image(image).map_err(|why| Diagnostic::at_value(&change.field(), why))?;
                let images = &mut self.blue_green(service, "colorImages")?.images;
                images.retain(|(c, _)| c != color);
                images.push((*color, image.clone()));
                // Blue before green, as resolving a file lists them.
                images.sort_by_key(|(c, _)| *c != Color::Blue);
            }
            Change::Image { component, image } => {
                check_image(image).map_err(|why| Diagnostic::at_value(&change.field(), why))?;
                self.overrides.entry(component.clone()).or_default().image = Some(image.clone());
            }
            Change::EngineUpgrade { component, upgrade } => {
                let options = super::read::field_at(&change.field(), upgrade.to_value())?;
                let checked = super::check_engine_upgrade(&change.field(), &options)
                    .map_err(|mut d| d.remove(0))?;
                self.overrides
                    .entry(component.clone())
                    .or_default()
                    .engine_upgrade = Some(checked);
            }
        }
        Ok(())
    }

    /// The blue-green settings of a service, for a change of `key`.
    fn blue_green(&mut self, service: &str, key: &str) -> Result<&mut BlueGreen, Diagnostic> {
        self.voice_assistant
            .as_mut()
            .and_then(|va| va.services.get_mut(service))
            .and_then(|s| s.blue_green.as_mut())
            .ok_or_else(|| {
                Diagnostic::at_value(
                    &format!("voiceAssistant.services.{service}.{key}"),
                    "only used with blueGreen: true",
                )
            })
    }

    /// Problems a change can make across fields: every component override's `maxReplicas`
    /// below its `replicas`.
    pub fn changed_problems(&self) -> Vec<Diagnostic> {
        self.overrides
            .iter()
            .filter_map(|(name, o)| replica_bounds(name, o.replicas, o.max_replicas))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Input, ProfileName, apply_set, effective, load};

    /// A change made to a loaded configuration is the configuration loaded with the change
    /// written into its document.
    #[test]
    fn a_change_is_the_document_changed() {
        let sets = ["voiceAssistant.services.agent-engine.blueGreen=true".to_string()];
        let input = Input {
            profile: Some(ProfileName::Production),
            sets: &sets,
            ..Default::default()
        };
        let (base, _) = load(&input).expect("valid");
        let doc = effective(&input).expect("a document");
        let changes = [
            Change::Replicas {
                component: "model-router".into(),
                replicas: 4,
            },
            Change::MaxReplicas {
                component: "model-router".into(),
                max_replicas: 9,
            },
            Change::ColorImage {
                service: "agent-engine".into(),
                color: Color::Green,
                image: "example.com/agent-engine:2".into(),
            },
            Change::Standby {
                service: "agent-engine".into(),
                standby: false,
            },
            Change::ActiveColor {
                service: "agent-engine".into(),
                color: Color::Green,
            },
            Change::Image {
                component: "postgres".into(),
                image: "postgres:17.6-alpine".into(),
            },
            Change::EngineUpgrade {
                component: "postgres".into(),
                upgrade: EngineUpgrade {
                    stateful_set: "postgres-17".into(),
                    previous: Some(("postgres".into(), "postgres:15.12-alpine".into())),
                    serving: crate::config::Serving::Previous,
                },
            },
        ];
        let (mut typed, mut doc) = (base, doc);
        for c in &changes {
            typed.apply(c).expect("a valid change");
            let v = c.value();
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            apply_set(&mut doc, &format!("{}={text}", c.field())).expect("a path");
        }
        let text = serde_json::to_string(&doc).expect("JSON");
        let (reloaded, _) = load(&Input {
            yaml: &text,
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(format!("{typed:?}"), format!("{reloaded:?}"));
        assert!(typed.changed_problems().is_empty());
        typed
            .apply(&Change::Replicas {
                component: "model-router".into(),
                replicas: 10,
            })
            .expect("one field is fine");
        let problems = typed.changed_problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "components.model-router.maxReplicas: must be at least replicas (10), found 9"
        );
        assert!(
            typed
                .apply(&Change::Standby {
                    service: "rag-engine".into(),
                    standby: true,
                })
                .is_err()
        );
    }
}
