//! Scenarios (the DESIGN.md format): speed, pod start times, pod faults matched by image glob
//! or labels, and API faults (error rate per verb, dropped watches, latency). Pod-side
//! durations are simulated time (divided by `speed`); API latency and watch drops are real
//! time, since they stand for the network rather than the cluster's work.

use crate::sim::clock::{glob_match, parse_duration, SimRng};
use crate::sim::errors::{ApiError, SimError};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// A duration written as `5s`, `1m30s`, `250ms` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = match &v {
            Value::Number(n) => n.as_f64().and_then(|f| Duration::try_from_secs_f64(f).ok()),
            Value::String(s) => parse_duration(s),
            _ => None,
        };
        parsed.map(Dur).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid duration {v}: use e.g. 5s, 1m30s, 250ms"))
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PodStart {
    pub min: Dur,
    pub max: Dur,
}

impl Default for PodStart {
    fn default() -> Self {
        PodStart {
            min: Dur(Duration::from_secs(1)),
            max: Dur(Duration::from_secs(3)),
        }
    }
}

/// Which pods a fault hits: every container image glob and label must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultMatch {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PodFaultKind {
    Crashloop,
    ImagePull,
    NeverReady,
    SlowStart,
    Oom,
    HttpErrors,
}

/// API faults: `status` answered to a `rate` of requests with one of `verbs`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiFault {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub latency: Option<Dur>,
    #[serde(default)]
    pub drop_watches_every: Option<Dur>,
}

/// One entry of `faults:`: a pod fault (`match` + `fault`) or an API fault (`api`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default, rename = "match")]
    pub selector: Option<FaultMatch>,
    #[serde(default)]
    pub fault: Option<PodFaultKind>,
    #[serde(default)]
    pub after: Option<Dur>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub api: Option<ApiFault>,
    #[serde(default)]
    pub drop_watches_every: Option<Dur>,
}

/// A simulated-cluster scenario.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub speed: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub pod_start: PodStart,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

/// A pod fault that applies to one pod.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodFault {
    pub kind: PodFaultKind,
    pub after: Duration,
    pub rate: f64,
}

impl Scenario {
    pub fn from_yaml(text: &str) -> Result<Scenario, SimError> {
        let v = crate::domain::yaml::parse_value(text).map_err(SimError::Scenario)?;
        let v = if v.is_null() {
            serde_json::json!({})
        } else {
            v
        };
        let s: Scenario =
            serde_json::from_value(v).map_err(|e| SimError::Scenario(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), SimError> {
        if let Some(sp) = self.speed {
            if !(sp.is_finite() && sp > 0.0) {
                return Err(SimError::Scenario(format!(
                    "speed must be a positive number, got {sp}"
                )));
            }
        }
        if self.pod_start.min.0 > self.pod_start.max.0 {
            return Err(SimError::Scenario(
                "pod_start.min is larger than pod_start.max".into(),
            ));
        }
        for (i, f) in self.faults.iter().enumerate() {
            let pod = f.fault.is_some();
            let api = f.api.is_some() || f.drop_watches_every.is_some();
            if pod == api {
                return Err(SimError::Scenario(format!("faults[{i}]: give either `match` + `fault` (a pod fault) or `api` / `drop_watches_every` (an API fault)")));
            }
            let rate = f.rate.or(f.api.as_ref().and_then(|a| a.rate));
            if let Some(r) = rate {
                if !(0.0..=1.0).contains(&r) {
                    return Err(SimError::Scenario(format!(
                        "faults[{i}]: rate must be between 0 and 1, got {r}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The first pod fault whose selector matches the pod.
    pub fn pod_fault(&self, pod: &Value) -> Option<PodFault> {
        let images: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["image"].as_str())
            .collect();
        let labels = &pod["metadata"]["labels"];
        self.faults.iter().find_map(|f| {
            let kind = f.fault?;
            let sel = f.selector.clone().unwrap_or_default();
            let image_ok = sel
                .image
                .as_deref()
                .is_none_or(|g| images.iter().any(|i| glob_match(g, i)));
            let labels_ok = sel
                .labels
                .iter()
                .all(|(k, v)| labels[k].as_str() == Some(v.as_str()));
            (image_ok && labels_ok).then(|| PodFault {
                kind,
                after: f.after.map(|d| d.0).unwrap_or(match kind {
                    PodFaultKind::SlowStart => Duration::from_secs(30),
                    PodFaultKind::Crashloop | PodFaultKind::Oom => Duration::from_secs(3),
                    _ => Duration::ZERO,
                }),
                rate: f.rate.unwrap_or(0.5),
            })
        })
    }

    pub fn drop_watches_every(&self) -> Option<Duration> {
        self.faults
            .iter()
            .find_map(|f| {
                f.drop_watches_every
                    .or(f.api.as_ref().and_then(|a| a.drop_watches_every))
            })
            .map(|d| d.0)
    }
}

/// The API-fault side of a scenario at run time (seeded, so runs repeat).
pub struct ApiFaults {
    rules: Vec<ApiFault>,
    rng: Mutex<SimRng>,
}

impl ApiFaults {
    pub fn new(s: &Scenario, seed: u64) -> Self {
        ApiFaults {
            rules: s.faults.iter().filter_map(|f| f.api.clone()).collect(),
            rng: Mutex::new(SimRng::new(seed ^ 0xA11)),
        }
    }

    /// Waits out injected latency, then decides whether this request fails.
    pub async fn api_fault(&self, verb: &str, resource: &str) -> Option<ApiError> {
        let mut delay = Duration::ZERO;
        let mut fail = None;
        for r in &self.rules {
            let verb_ok = r.verbs.is_empty() || r.verbs.iter().any(|v| v == verb || v == "*");
            let res_ok =
                r.resources.is_empty() || r.resources.iter().any(|x| x == resource || x == "*");
            if !(verb_ok && res_ok) {
                continue;
            }
            if let Some(l) = r.latency {
                delay += l.0;
            }
            if let Some(status) = r.status {
                let roll = self
                    .rng
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .next_f64();
                if fail.is_none() && roll < r.rate.unwrap_or(1.0) {
                    fail = Some(ApiError::injected(status));
                }
            }
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_design_example() {
        let s = Scenario::from_yaml(
            "speed: 10\npod_start: { min: 2s, max: 6s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 5s\n  - api: { verbs: [patch], rate: 0.1, status: 500 }\n  - drop_watches_every: 30s\n",
        )
        .unwrap();
        assert_eq!(s.speed, Some(10.0));
        assert_eq!(s.pod_start.max.0, Duration::from_secs(6));
        let pod = json!({"spec": {"containers": [{"image": "web:1.0-crash"}]}, "metadata": {"labels": {}}});
        let f = s.pod_fault(&pod).unwrap();
        assert_eq!(
            (f.kind, f.after),
            (PodFaultKind::Crashloop, Duration::from_secs(5))
        );
        assert!(s
            .pod_fault(&json!({"spec": {"containers": [{"image": "web:1.0"}]}}))
            .is_none());
        assert_eq!(s.drop_watches_every(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn rejects_bad_scenarios() {
        assert!(Scenario::from_yaml("speed: -1").is_err());
        assert!(Scenario::from_yaml("faults:\n  - fault: explode\n").is_err());
        assert!(Scenario::from_yaml("spede: 3").is_err());
        assert!(Scenario::from_yaml(
            "faults:\n  - match: {image: x}\n    fault: http-errors\n    rate: 2\n"
        )
        .is_err());
    }

    #[test]
    fn label_matching() {
        let s = Scenario::from_yaml(
            "faults:\n  - match: { labels: { track: canary } }\n    fault: never-ready\n",
        )
        .unwrap();
        let pod = json!({"spec": {"containers": [{"image": "x"}]}, "metadata": {"labels": {"track": "canary"}}});
        assert_eq!(s.pod_fault(&pod).unwrap().kind, PodFaultKind::NeverReady);
    }
}
