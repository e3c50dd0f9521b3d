//! Watches of a namespace's Deployments and Pods, kept in [`KeptStore`]s fed by
//! kube-runtime's watcher, which re-lists transparently after errors or `410 Gone` (with
//! back-off). Whoever waits on a rollout is woken on every change: no polling.
//!
//! Pods and Deployments are decoded in lean shapes ([`WatchedPod`], [`WatchedDeployment`]):
//! only the fields that health rules, the pod table and the strategies read, so that
//! managed fields, volumes, env and probes are never held. Pods are then kept as [`Pod`],
//! with the strings they repeat shared: 10k pods cost about 11 MB. Serialized, both have
//! the Kubernetes JSON shape of those fields, which is what the pure rules in
//! `domain::health` read.

use super::store::{self, Interner, KeptStore, Sym};
use super::{Cluster, ClusterError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::Api;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::watch as tokio_watch;

/// The metadata helmdeck reads; `managedFields`, owner references and finalizers are
/// skipped while decoding (they are most of an object's size and nothing here reads them).
pub(super) fn lean_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        name: Option<String>,
        namespace: Option<String>,
        uid: Option<String>,
        resource_version: Option<String>,
        generation: Option<i64>,
        labels: Option<BTreeMap<String, String>>,
        annotations: Option<BTreeMap<String, String>>,
        creation_timestamp: Option<Time>,
        deletion_timestamp: Option<Time>,
    }
    let m = Meta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        generation: m.generation,
        labels: m.labels,
        annotations: m.annotations,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

/// Serializes the lean metadata with the same keys Kubernetes uses.
fn meta_value(m: &ObjectMeta) -> Value {
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.to_string(), v);
        }
    };
    put("name", m.name.clone().map(Value::from));
    put("namespace", m.namespace.clone().map(Value::from));
    put("uid", m.uid.clone().map(Value::from));
    put(
        "resourceVersion",
        m.resource_version.clone().map(Value::from),
    );
    put("generation", m.generation.map(Value::from));
    put(
        "labels",
        m.labels.as_ref().map(|l| {
            l.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect()
        }),
    );
    put(
        "creationTimestamp",
        m.creation_timestamp
            .as_ref()
            .map(|t| Value::from(t.0.to_string())),
    );
    put(
        "deletionTimestamp",
        m.deletion_timestamp
            .as_ref()
            .map(|t| Value::from(t.0.to_string())),
    );
    Value::Object(out)
}

macro_rules! lean_resource {
    ($ty:ty, $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = k8s_openapi::NamespaceResourceScope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRef {
    pub name: Sym,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Sym>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecRef {
    #[serde(default)]
    pub containers: Vec<ContainerRef>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: Sym,
    pub status: Sym,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Sym>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Sym>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StateDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Sym>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Sym>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<StateDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<StateDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<StateDetail>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: Sym,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state: Option<ContainerState>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Sym>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Sym>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Sym>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_statuses: Vec<ContainerStatus>,
}

impl ContainerRef {
    fn share(&mut self, i: &mut Interner) {
        share(&mut self.name, i);
        share_opt(&mut self.image, i);
    }
}

impl Condition {
    fn share(&mut self, i: &mut Interner) {
        share(&mut self.type_, i);
        share(&mut self.status, i);
        share_opt(&mut self.reason, i);
    }
}

impl ContainerStatus {
    fn share(&mut self, i: &mut Interner) {
        share(&mut self.name, i);
        for st in [&mut self.state, &mut self.last_state]
            .into_iter()
            .flatten()
        {
            for d in [&mut st.waiting, &mut st.running, &mut st.terminated]
                .into_iter()
                .flatten()
            {
                share_opt(&mut d.reason, i);
            }
        }
    }
}

impl PodStatus {
    fn share(&mut self, i: &mut Interner) {
        share_opt(&mut self.phase, i);
        share_opt(&mut self.reason, i);
        self.conditions.iter_mut().for_each(|c| c.share(i));
        self.conditions.shrink_to_fit();
        for list in [
            &mut self.init_container_statuses,
            &mut self.container_statuses,
        ] {
            list.iter_mut().for_each(|c| c.share(i));
            list.shrink_to_fit();
        }
    }
}

/// Replaces a freshly decoded string with the interner's shared copy.
fn share(s: &mut Sym, i: &mut Interner) {
    *s = i.sym(s);
}

fn share_opt(s: &mut Option<Sym>, i: &mut Interner) {
    if let Some(s) = s {
        share(s, i);
    }
}

/// A pod as it is decoded from the API server (the fields [`Pod`] keeps, plus metadata).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WatchedPod {
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpecRef,
    #[serde(default)]
    pub status: PodStatus,
}
lean_resource!(WatchedPod, "Pod", "", "v1", "pods");

/// A pod as the namespace watch keeps it: what health rules and the pod table read, with
/// the strings pods repeat (labels, images, reasons) shared.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    pub name: Sym,
    labels: Box<[(Sym, Sym)]>,
    created: Option<Time>,
    deleting: Option<Time>,
    spec: PodSpecRef,
    status: PodStatus,
}

impl Pod {
    /// Keeps a decoded pod, sharing its repeated strings through `i`.
    pub fn keep(p: WatchedPod, i: &mut Interner) -> (Sym, Pod) {
        let WatchedPod {
            metadata,
            mut spec,
            mut status,
        } = p;
        let name: Sym = Arc::from(metadata.name.as_deref().unwrap_or_default());
        let labels = metadata
            .labels
            .into_iter()
            .flatten()
            .map(|(k, v)| (i.sym(&k), i.sym(&v)))
            .collect();
        spec.containers.iter_mut().for_each(|c| c.share(i));
        spec.containers.shrink_to_fit();
        status.share(i);
        let pod = Pod {
            name: Arc::clone(&name),
            labels,
            created: metadata.creation_timestamp,
            deleting: metadata.deletion_timestamp,
            spec,
            status,
        };
        (name, pod)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref())
    }

    pub fn labels(&self) -> impl Iterator<Item = (&Sym, &Sym)> {
        self.labels.iter().map(|(k, v)| (k, v))
    }

    /// The pod's kept fields in Kubernetes' JSON shape.
    pub fn to_value(&self) -> Value {
        let mut meta = serde_json::Map::new();
        meta.insert("name".into(), Value::from(self.name.as_ref()));
        if !self.labels.is_empty() {
            meta.insert(
                "labels".into(),
                self.labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::from(v.as_ref())))
                    .collect(),
            );
        }
        for (key, t) in [
            ("creationTimestamp", &self.created),
            ("deletionTimestamp", &self.deleting),
        ] {
            if let Some(t) = t {
                meta.insert(key.into(), Value::from(t.0.to_string()));
            }
        }
        serde_json::json!({
            "metadata": meta,
            "spec": self.spec,
            "status": self.status,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateRef {
    #[serde(default)]
    pub metadata: TemplateMeta,
    #[serde(default)]
    pub spec: PodSpecRef,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpecRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub selector: Selector,
    #[serde(default)]
    pub template: PodTemplateRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A Deployment as the watch keeps it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WatchedDeployment {
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DeploymentSpecRef,
    #[serde(default)]
    pub status: DeploymentStatus,
}
lean_resource!(WatchedDeployment, "Deployment", "apps", "v1", "deployments");

impl WatchedDeployment {
    /// The Deployment's kept fields in Kubernetes' JSON shape.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "metadata": meta_value(&self.metadata),
            "spec": self.spec,
            "status": self.status,
        })
    }
}

impl WatchedDeployment {
    /// Kept as decoded (a namespace has far fewer Deployments than pods).
    pub fn keep(d: WatchedDeployment, _: &mut Interner) -> (Sym, WatchedDeployment) {
        (Arc::from(d.metadata.name.as_deref().unwrap_or_default()), d)
    }
}

/// Live views of the namespace; dropping it stops the watches.
pub struct NamespaceWatch {
    pub deployments: KeptStore<WatchedDeployment>,
    pub pods: KeptStore<Pod>,
    changed: tokio_watch::Receiver<u64>,
    /// Last watch error, if the stream is currently failing (shown as "reconnecting").
    pub errors: tokio_watch::Receiver<Option<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for NamespaceWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Pods grouped by label pair, so that finding the pods of many selectors costs one pass
/// over the pods rather than one per selector.
pub struct PodIndex {
    by_label: HashMap<(Sym, Sym), Vec<Arc<Pod>>>,
}

impl PodIndex {
    /// Pods whose labels include every `selector` pair (none for an empty selector).
    pub fn matching(&self, selector: &BTreeMap<String, String>) -> Vec<Arc<Pod>> {
        // Every pair must be present; filter the shortest list by the others.
        let mut lists = Vec::with_capacity(selector.len());
        for (k, v) in selector {
            let key: (Sym, Sym) = (Arc::from(k.as_str()), Arc::from(v.as_str()));
            match self.by_label.get(&key) {
                Some(l) => lists.push(l),
                None => return Vec::new(),
            }
        }
        let Some(smallest) = lists.into_iter().min_by_key(|l| l.len()) else {
            return Vec::new();
        };
        smallest
            .iter()
            .filter(|p| selector.iter().all(|(k, v)| p.label(k) == Some(v.as_str())))
            .cloned()
            .collect()
    }
}

impl NamespaceWatch {
    /// Starts watching and waits until every store has its first full list.
    pub async fn start(c: &Cluster) -> NamespaceWatch {
        let (tx, rx) = tokio_watch::channel(0u64);
        let (etx, erx) = tokio_watch::channel(None);
        let tx = Arc::new(tx);
        let etx = Arc::new(etx);
        let (deployments, t1) = store::spawn(
            Api::<WatchedDeployment>::namespaced(c.client.clone(), &c.namespace),
            WatchedDeployment::keep,
            tx.clone(),
            etx.clone(),
        );
        let (pods, t2) = store::spawn(
            Api::<WatchedPod>::namespaced(c.client.clone(), &c.namespace),
            Pod::keep,
            tx,
            etx,
        );
        let w = NamespaceWatch {
            deployments,
            pods,
            changed: rx,
            errors: erx,
            tasks: vec![t1, t2],
        };
        w.deployments.wait_until_ready().await;
        w.pods.wait_until_ready().await;
        w
    }

    /// Waits for the next change of anything watched (or `timeout`).
    pub async fn changed(&mut self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.changed()).await;
    }

    /// A receiver that ticks on every change, for select loops.
    pub fn subscribe(&self) -> tokio_watch::Receiver<u64> {
        self.changed.clone()
    }

    /// The Deployments' generations as the API server has them now (one list request).
    /// A store copy older than this has not yet seen the latest apply: judging it would
    /// call the previous revision's rollout healthy.
    pub async fn generation_floors(c: &Cluster) -> Result<HashMap<String, i64>, ClusterError> {
        let api = Api::<WatchedDeployment>::namespaced(c.client.clone(), &c.namespace);
        let list = super::list_paged(&c.server, "Deployment list", &api, "").await?;
        Ok(list
            .into_iter()
            .filter_map(|d| Some((d.metadata.name?, d.metadata.generation?)))
            .collect())
    }

    /// The store's copy of a Deployment, unless it is older than `floor` (its generation
    /// as last read from the API server).
    pub fn deployment_at_least(&self, name: &str, floor: Option<i64>) -> Option<Value> {
        let d = self.deployments.get(name)?;
        if floor.is_some_and(|f| d.metadata.generation.unwrap_or(0) < f) {
            return None;
        }
        Some(d.to_value())
    }

    pub fn deployment(&self, name: &str) -> Option<Value> {
        self.deployment_at_least(name, None)
    }

    /// An index of the pods as they are now, for looking up many selectors at once.
    pub fn pod_index(&self) -> PodIndex {
        let mut by_label: HashMap<(Sym, Sym), Vec<Arc<Pod>>> = HashMap::new();
        for p in self.pods.state() {
            for (k, v) in p.labels() {
                by_label
                    .entry((Arc::clone(k), Arc::clone(v)))
                    .or_default()
                    .push(Arc::clone(&p));
            }
        }
        PodIndex { by_label }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-abc", "namespace": "demo", "uid": "u1", "resourceVersion": "42",
                "labels": {"app": "web", "helmdeck.io/track": "canary"},
                "annotations": {"big": "x".repeat(4096)},
                "creationTimestamp": "2026-11-25T10:00:00Z",
                "managedFields": [{"manager": "kubelet", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]
            },
            "spec": {
                "containers": [{"name": "app", "image": "web:2", "env": [{"name": "A", "value": "b"}]}],
                "volumes": [{"name": "v", "emptyDir": {}}]
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{
                    "name": "app", "ready": false, "restartCount": 4, "image": "web:2",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}
                }]
            }
        })
    }

    #[test]
    fn a_watched_pod_keeps_what_health_reads_and_drops_the_rest() {
        let full = full_pod();
        let decoded: WatchedPod = serde_json::from_value(full.clone()).expect("decodes");
        let (name, kept) = Pod::keep(decoded, &mut Interner::default());
        assert_eq!(name.as_ref(), "web-abc");
        let v = kept.to_value();
        for ptr in [
            "/metadata/name",
            "/metadata/labels/helmdeck.io~1track",
            "/metadata/creationTimestamp",
            "/spec/containers/0/image",
            "/status/phase",
            "/status/conditions/0/reason",
            "/status/containerStatuses/0/restartCount",
            "/status/containerStatuses/0/state/waiting/reason",
            "/status/containerStatuses/0/lastState/terminated/exitCode",
        ] {
            assert_eq!(v.pointer(ptr), full.pointer(ptr), "{ptr}");
        }
        assert!(v.pointer("/metadata/annotations").is_none());
        assert!(v.pointer("/metadata/managedFields").is_none());
        assert!(v.pointer("/spec/volumes").is_none());
        assert!(v.pointer("/spec/containers/0/env").is_none());
    }

    #[test]
    fn a_watched_deployment_keeps_rollout_status() {
        let full = json!({
            "metadata": {"name": "web", "generation": 3, "labels": {"app": "web"}},
            "spec": {
                "replicas": 4, "minReadySeconds": 5,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "app", "image": "web:2"}]}}
            },
            "status": {"observedGeneration": 3, "replicas": 4, "updatedReplicas": 4,
                       "readyReplicas": 4, "availableReplicas": 4,
                       "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
        });
        let lean: WatchedDeployment = serde_json::from_value(full.clone()).expect("decodes");
        let v = lean.to_value();
        assert_eq!(v["spec"], full["spec"]);
        assert_eq!(v["status"], full["status"]);
        assert_eq!(v["metadata"]["generation"], json!(3));
    }
}
