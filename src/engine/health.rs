//! What a health wait watches and how each is judged: every workload, claim, CRD and
//! custom resource a step applies — not only Deployments — by its kind's kstatus rules
//! (`domain::kstatus`), with the fast-fail signals of the pods of its current revision.
//! Deployments and pods come from the namespace watch; the other kinds from a watch of
//! the release's objects of those kinds.

use super::{EngineError, Session};
use crate::cluster::objwatch::ObjectsWatch;
use crate::cluster::watch::{NamespaceWatch, PodIndex};
use crate::domain::health::{self, Health};
use crate::domain::kstatus;
use crate::domain::manifest::Object;
use crate::domain::strategy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// One object a health wait judges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Watched {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

impl Watched {
    pub fn of(o: &Object) -> Watched {
        Watched {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            name: o.name.clone(),
        }
    }

    pub fn deployment(name: &str) -> Watched {
        Watched {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: name.to_string(),
        }
    }

    pub fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    pub fn is_deployment(&self) -> bool {
        self.kind == "Deployment" && self.group() == "apps"
    }

    /// How progress lines name it: a Deployment by its name (as always), any other kind as
    /// `Kind/name`.
    pub fn label(&self) -> String {
        if self.is_deployment() {
            self.name.clone()
        } else {
            format!("{}/{}", self.kind, self.name)
        }
    }
}

/// The objects among `objs` whose health a wait judges.
pub fn judged(objs: &[Object]) -> Vec<Watched> {
    objs.iter()
        .filter(|o| kstatus::is_judged(o.group(), &o.kind))
        .map(Watched::of)
        .collect()
}

/// The pods of a Deployment's current template: matching its selector and running the
/// template's images (old-revision pods and other tracks do not count against it).
pub fn new_pods(pods: &PodIndex, dep: &Value) -> Vec<Value> {
    let selector: BTreeMap<String, String> = dep
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if selector.is_empty() {
        return Vec::new();
    }
    let images = |v: &Value, ptr: &str| -> Vec<String> {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let want = images(dep, "/spec/template/spec/containers");
    let template_labels = dep
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    pods.matching(&selector)
        .into_iter()
        .map(|p| p.to_value())
        .filter(|p| images(p, "/spec/containers") == want)
        .filter(|p| {
            // A canary's pods carry a track label the primary's template lacks (and back).
            let labels = p.pointer("/metadata/labels").and_then(Value::as_object);
            [strategy::LABEL_TRACK, strategy::LABEL_SLOT]
                .iter()
                .all(|k| labels.and_then(|l| l.get(*k)) == template_labels.get(*k))
        })
        .collect()
}

/// A Deployment's health from the namespace watch (None when the watch has not seen it, or
/// only an older generation than `floor`).
pub fn deployment(
    watch: &NamespaceWatch,
    index: &PodIndex,
    name: &str,
    floor: Option<i64>,
) -> Health {
    match watch.deployment_at_least(name, floor) {
        None => Health::InProgress {
            reason: "waiting for the Deployment's current spec".into(),
        },
        Some(dep) => {
            let pods = new_pods(index, &dep);
            let refs: Vec<&Value> = pods.iter().collect();
            health::workload(&dep, &refs, health::DEFAULT_RESTART_THRESHOLD)
        }
    }
}

/// Judges the objects of one health wait; holds the watch of the non-Deployment kinds and
/// the generations the API server had when the wait began (a watched copy older than that
/// has not seen the latest apply yet).
pub struct Judge {
    others: Option<ObjectsWatch>,
    floors: HashMap<(String, String), i64>,
}

impl Judge {
    pub async fn start(s: &Session, targets: &[Watched]) -> Result<Judge, EngineError> {
        let mut floors = HashMap::new();
        for (name, generation) in NamespaceWatch::generation_floors(&s.cluster).await? {
            floors.insert(("Deployment".to_string(), name), generation);
        }
        let others: Vec<&Watched> = targets.iter().filter(|t| !t.is_deployment()).collect();
        if others.is_empty() {
            return Ok(Judge {
                others: None,
                floors,
            });
        }
        let kinds: BTreeSet<(String, String)> = others
            .iter()
            .map(|t| (t.api_version.clone(), t.kind.clone()))
            .collect();
        let kinds: Vec<(String, String)> = kinds.into_iter().collect();
        let selector = format!("{}={}", strategy::LABEL_RELEASE, s.release());
        let watch = ObjectsWatch::start(&s.cluster, &kinds, &selector).await?;
        for t in others {
            if let Some(live) = s
                .cluster
                .get(&t.api_version, &t.kind, None, &t.name)
                .await?
            {
                if let Some(g) = live.pointer("/metadata/generation").and_then(Value::as_i64) {
                    floors.insert((t.kind.clone(), t.name.clone()), g);
                }
            }
        }
        Ok(Judge {
            others: Some(watch),
            floors,
        })
    }

    /// The health of `t` now.
    pub fn health(&self, watch: &NamespaceWatch, index: &PodIndex, t: &Watched) -> Health {
        let floor = self.floors.get(&(t.kind.clone(), t.name.clone())).copied();
        if t.is_deployment() {
            return deployment(watch, index, &t.name, floor);
        }
        let Some(obj) = self.others.as_ref().and_then(|w| w.get(&t.kind, &t.name)) else {
            return Health::InProgress {
                reason: format!("waiting for {} {}", t.kind, t.name),
            };
        };
        let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
        if floor.is_some_and(|f| generation.unwrap_or(0) < f) {
            return Health::InProgress {
                reason: format!("waiting for {}'s current spec", t.kind),
            };
        }
        let pods: Vec<Value> = kstatus::new_pod_selector(&t.kind, &obj)
            .map(|sel| index.matching(&sel).iter().map(|p| p.to_value()).collect())
            .unwrap_or_default();
        let refs: Vec<&Value> = pods.iter().collect();
        kstatus::workload(
            t.group(),
            &t.kind,
            &obj,
            &refs,
            health::DEFAULT_RESTART_THRESHOLD,
        )
    }

    /// Waits for a change of the namespace watch or of a watched object (or `timeout`).
    pub async fn changed(&mut self, watch: &mut NamespaceWatch, timeout: Duration) {
        match &mut self.others {
            Some(o) => {
                tokio::select! {
                    _ = watch.changed(timeout) => {}
                    _ = o.changed(timeout) => {}
                }
            }
            None => watch.changed(timeout).await,
        }
    }
}
