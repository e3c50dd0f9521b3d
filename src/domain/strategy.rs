//! What helmdeck applies for each strategy, from a chart's rendered objects (no chart
//! changes): labels that mark ownership, per-revision names for the config workloads read,
//! `-canary` Deployments and Services, blue/green slots and the Services that select them.
//! Pure and deterministic: the same input always gives the same objects.

use crate::domain::manifest::Object;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub const LABEL_TRACK: &str = "helmdeck.io/track";
pub const LABEL_SLOT: &str = "helmdeck.io/slot";
pub const LABEL_ROLE: &str = "helmdeck.io/role";
pub const LABEL_RELEASE: &str = "helmdeck.io/release";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "helmdeck";
pub const ANNOTATION_REVISION: &str = "helmdeck.io/revision";
/// Keeps a ConfigMap's or Secret's own name (no content suffix). helmdeck sets it on config
/// a template renders with `lookup`, which finds last revision's object by that name (a
/// generated password kept across deploys); a chart may set it too.
pub const ANNOTATION_KEEP_NAME: &str = "helmdeck.io/keep-name";

/// A blue/green slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

impl std::fmt::Display for Color {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which part of a release a pod or workload belongs to, read from helmdeck's labels:
/// `helmdeck.io/track` (`stable`, `canary`, `hook`), else `helmdeck.io/slot` (`blue`,
/// `green`), else the name's suffix; a workload none of these mark is the chart's own
/// (`primary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    Stable,
    Primary,
    Canary,
    Blue,
    Green,
    /// A Helm hook's pod.
    Hook,
}

impl Track {
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Primary => "primary",
            Track::Canary => "canary",
            Track::Blue => "blue",
            Track::Green => "green",
            Track::Hook => "hook",
        }
    }

    fn from_word(w: &str) -> Option<Track> {
        Some(match w {
            "stable" => Track::Stable,
            "primary" => Track::Primary,
            "canary" => Track::Canary,
            "blue" => Track::Blue,
            "green" => Track::Green,
            "hook" => Track::Hook,
            _ => return None,
        })
    }

    /// The track of an object with these labels (`label(key)`) and this name.
    pub fn of<'a>(label: impl Fn(&str) -> Option<&'a str>, name: &str) -> Track {
        if let Some(t) = label(LABEL_TRACK).and_then(Track::from_word) {
            return t;
        }
        if let Some(t) = label(LABEL_SLOT).and_then(Track::from_word) {
            return t;
        }
        for t in [Track::Canary, Track::Blue, Track::Green] {
            if name.ends_with(&format!("-{}", t.as_str())) {
                return t;
            }
        }
        Track::Primary
    }

    /// Order in tables: what serves first, then what is new, then hooks.
    pub fn rank(self) -> u8 {
        match self {
            Track::Stable | Track::Primary => 0,
            Track::Canary => 1,
            Track::Blue => 2,
            Track::Green => 3,
            Track::Hook => 4,
        }
    }
}

impl std::fmt::Display for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Objects ready to apply, and the config names that were versioned (old → new).
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    pub objects: Vec<Object>,
    pub config_renames: BTreeMap<String, String>,
}

fn meta_map<'a>(o: &'a mut Value, field: &str) -> Option<&'a mut Map<String, Value>> {
    map_at(o, &["metadata", field])
}

fn set_label(body: &mut Value, key: &str, value: &str) {
    if let Some(l) = meta_map(body, "labels") {
        l.insert(key.into(), Value::String(value.into()));
    }
}

fn label<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Marks an object as helmdeck's, for this release and revision.
fn stamp(o: &mut Object, release: &str, revision: u32) {
    set_label(&mut o.body, LABEL_RELEASE, release);
    set_label(&mut o.body, LABEL_MANAGED_BY, MANAGED_BY);
    if let Some(a) = meta_map(&mut o.body, "annotations") {
        a.insert(
            ANNOTATION_REVISION.into(),
            Value::String(revision.to_string()),
        );
    }
}

fn rename(o: &mut Object, name: &str) {
    o.name = name.to_string();
    if let Some(m) = o.body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("name".into(), Value::String(name.into()));
    }
}

/// `base` + `suffix`, kept within Kubernetes' 253-character names (a long base is cut and
/// given a short hash so that names stay unique).
pub fn suffixed(base: &str, suffix: &str) -> String {
    const MAX: usize = 253;
    if base.len() + suffix.len() <= MAX {
        return format!("{base}{suffix}");
    }
    let h = hex::encode(&Sha256::digest(base.as_bytes())[..4]);
    let mut keep = MAX
        .saturating_sub(suffix.len() + h.len() + 1)
        .min(base.len());
    // Cut on a character boundary: a name is text, and slicing inside a multi-byte
    // character panics.
    while !base.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{h}{suffix}", &base[..keep])
}

/// Whether a Deployment takes part in canary / blue-green (`workloads` empty: all).
pub fn takes_part(o: &Object, workloads: &[String]) -> bool {
    o.kind == "Deployment"
        && o.group() == "apps"
        && (workloads.is_empty() || workloads.iter().any(|w| w == &o.name))
}

fn template_labels(dep: &Value) -> BTreeMap<String, String> {
    dep.pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn selector_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A Service routes to a workload when its selector is non-empty and within the pod labels.
fn service_selects(svc: &Object, dep: &Object) -> bool {
    let sel = selector_map(svc.body.pointer("/spec/selector"));
    let labels = template_labels(&dep.body);
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The map at `path` under `v`, created (and made a map) on the way when missing.
fn map_at<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = v;
    for seg in path {
        let m = cur.as_object_mut()?;
        cur = m.entry(*seg).or_insert_with(|| Value::Object(Map::new()));
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
    }
    cur.as_object_mut()
}

/// Adds a label to a Deployment's pod template (only where it has a spec).
fn add_to_template(dep: &mut Value, key: &str, value: &str) {
    if dep.pointer("/spec/template").is_some_and(Value::is_object) {
        if let Some(l) = map_at(dep, &["spec", "template", "metadata", "labels"]) {
            l.insert(key.into(), Value::String(value.into()));
        }
    }
}

/// Adds a label to a Deployment's `selector.matchLabels`.
fn add_to_selector(dep: &mut Value, key: &str, value: &str) {
    if dep.get("spec").is_some_and(Value::is_object) {
        if let Some(m) = map_at(dep, &["spec", "selector", "matchLabels"]) {
            m.insert(key.into(), Value::String(value.into()));
        }
    }
}

fn add_to_service_selector(svc: &mut Value, key: &str, value: &str) {
    if let Some(sel) = svc
        .pointer_mut("/spec/selector")
        .and_then(Value::as_object_mut)
    {
        sel.insert(key.into(), Value::String(value.into()));
    }
}

/// A copy of a Service for helmdeck's own routing (`-canary`, `-stage`): allocated fields
/// are dropped so that the API server allocates its own.
fn service_copy(svc: &Object, suffix: &str, role: &str, key: &str, value: &str) -> Object {
    let mut c = svc.clone();
    rename(&mut c, &suffixed(&svc.name, suffix));
    if let Some(spec) = c.body.get_mut("spec").and_then(Value::as_object_mut) {
        for f in [
            "clusterIP",
            "clusterIPs",
            "externalIPs",
            "loadBalancerIP",
            "healthCheckNodePort",
        ] {
            spec.remove(f);
        }
        spec.insert("type".into(), Value::String("ClusterIP".into()));
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports {
                if let Some(p) = p.as_object_mut() {
                    p.remove("nodePort");
                }
            }
        }
    }
    add_to_service_selector(&mut c.body, key, value);
    set_label(&mut c.body, LABEL_ROLE, role);
    c
}

/// Config kinds whose names get versioned.
fn is_config(o: &Object) -> bool {
    let keep = o
        .body
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_KEEP_NAME))
        .and_then(Value::as_str)
        == Some("true");
    o.group().is_empty() && (o.kind == "ConfigMap" || o.kind == "Secret") && !keep
}

/// Marks the ConfigMaps and Secrets that `templates` (those calling `lookup`) render so that
/// they keep their names.
pub fn keep_lookup_names(objs: &mut [Object], templates: &[String]) {
    for o in objs.iter_mut() {
        let from_lookup = o.source.as_ref().is_some_and(|s| templates.contains(s));
        if from_lookup && o.group().is_empty() && (o.kind == "ConfigMap" || o.kind == "Secret") {
            if let Some(a) = meta_map(&mut o.body, "annotations") {
                a.insert(ANNOTATION_KEEP_NAME.into(), Value::String("true".into()));
            }
        }
    }
}

/// Every ConfigMap / Secret name a pod template refers to, as (kind, name).
fn config_refs(pod_spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &str, v: Option<&Value>| {
        if let Some(n) = v.and_then(Value::as_str) {
            out.insert((kind.to_string(), n.to_string()));
        }
    };
    for vol in pod_spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add("ConfigMap", vol.pointer("/configMap/name"));
        add("Secret", vol.pointer("/secret/secretName"));
        for src in vol
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add("ConfigMap", src.pointer("/configMap/name"));
            add("Secret", src.pointer("/secret/name"));
        }
    }
    for list in ["containers", "initContainers"] {
        for c in pod_spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for ef in c
                .get("envFrom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                add("ConfigMap", ef.pointer("/configMapRef/name"));
                add("Secret", ef.pointer("/secretRef/name"));
            }
            for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                add("ConfigMap", e.pointer("/valueFrom/configMapKeyRef/name"));
                add("Secret", e.pointer("/valueFrom/secretKeyRef/name"));
            }
        }
    }
    out
}

/// Rewrites the config names a pod template refers to.
fn rewrite_refs(pod_spec: &mut Value, renames: &BTreeMap<(String, String), String>) {
    let swap = |v: Option<&mut Value>, kind: &str| {
        if let Some(v) = v {
            if let Some(new) = v
                .as_str()
                .and_then(|n| renames.get(&(kind.to_string(), n.to_string())))
            {
                *v = Value::String(new.clone());
            }
        }
    };
    if let Some(vols) = pod_spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for vol in vols {
            swap(vol.pointer_mut("/configMap/name"), "ConfigMap");
            swap(vol.pointer_mut("/secret/secretName"), "Secret");
            if let Some(srcs) = vol
                .pointer_mut("/projected/sources")
                .and_then(Value::as_array_mut)
            {
                for src in srcs {
                    swap(src.pointer_mut("/configMap/name"), "ConfigMap");
                    swap(src.pointer_mut("/secret/name"), "Secret");
                }
            }
        }
    }
    for list in ["containers", "initContainers"] {
        if let Some(cs) = pod_spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(efs) = c.get_mut("envFrom").and_then(Value::as_array_mut) {
                    for ef in efs {
                        swap(ef.pointer_mut("/configMapRef/name"), "ConfigMap");
                        swap(ef.pointer_mut("/secretRef/name"), "Secret");
                    }
                }
                if let Some(envs) = c.get_mut("env").and_then(Value::as_array_mut) {
                    for e in envs {
                        swap(
                            e.pointer_mut("/valueFrom/configMapKeyRef/name"),
                            "ConfigMap",
                        );
                        swap(e.pointer_mut("/valueFrom/secretKeyRef/name"), "Secret");
                    }
                }
            }
        }
    }
}

fn pod_spec_ptr(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            Some("/spec/template/spec")
        }
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        "Pod" => Some("/spec"),
        _ => None,
    }
}

/// A short hash of what a config object holds: identical config in two revisions gets the
/// same name, so a rollback or an unchanged deploy reuses it.
fn content_hash(o: &Object) -> String {
    let mut h = Sha256::new();
    for f in ["data", "stringData", "binaryData", "type"] {
        h.update(f.as_bytes());
        h.update(serde_json::to_vec(o.body.get(f).unwrap_or(&Value::Null)).unwrap_or_default());
    }
    hex::encode(&h.finalize()[..4])
}

/// The objects for a rolling deploy (and the primaries of a canary): ownership stamped,
/// config that workloads read renamed per content, and — for canary services — the primary
/// pods labelled `track: stable` (on the pod template only: a Deployment's selector cannot
/// change).
pub fn prepare_rolling(
    objs: &[Object],
    release: &str,
    revision: u32,
    workloads: &[String],
    track_labels: bool,
) -> Transformed {
    let mut out: Vec<Object> = objs.to_vec();
    let referenced: BTreeSet<(String, String)> = out
        .iter()
        .filter_map(|o| pod_spec_ptr(&o.kind).and_then(|p| o.body.pointer(p)))
        .flat_map(config_refs)
        .collect();
    let mut renames: BTreeMap<(String, String), String> = BTreeMap::new();
    for o in out.iter_mut().filter(|o| is_config(o)) {
        if referenced.contains(&(o.kind.clone(), o.name.clone())) {
            let new = suffixed(&o.name, &format!("-{}", content_hash(o)));
            renames.insert((o.kind.clone(), o.name.clone()), new.clone());
            rename(o, &new);
        }
    }
    for o in out.iter_mut() {
        if let Some(p) = pod_spec_ptr(&o.kind) {
            if let Some(spec) = o.body.pointer_mut(p) {
                rewrite_refs(spec, &renames);
            }
        }
        if track_labels && takes_part(o, workloads) {
            add_to_template(&mut o.body, LABEL_TRACK, "stable");
        }
        stamp(o, release, revision);
    }
    Transformed {
        objects: out,
        config_renames: renames
            .into_iter()
            .map(|((k, n), new)| (format!("{k}/{n}"), new))
            .collect(),
    }
}

/// Points an object that is not the chart's own (a hook) at the revision's versioned config:
/// `renames` as [`prepare_rolling`] returns them (`Kind/name` → new name). The object
/// itself keeps its name.
pub fn follow_config_renames(o: &mut Object, renames: &BTreeMap<String, String>) {
    let by_key: BTreeMap<(String, String), String> = renames
        .iter()
        .filter_map(|(k, new)| {
            let (kind, name) = k.split_once('/')?;
            Some(((kind.to_string(), name.to_string()), new.clone()))
        })
        .collect();
    if let Some(p) = pod_spec_ptr(&o.kind) {
        if let Some(spec) = o.body.pointer_mut(p) {
            rewrite_refs(spec, &by_key);
        }
    }
}

/// The `-canary` Deployments (with the pods `replicas_for(primary name)` asks for) and the
/// `-canary` Services that select only canary pods, from the prepared primaries. The chart's
/// own Services keep their selectors, so they route to both tracks in proportion to ready
/// pods. The canary's selector adds `track: canary`, so its ReplicaSets never adopt primary
/// pods; the primary's ReplicaSets select on their pod-template-hash, so they never adopt
/// canary pods either.
pub fn canary_objects(
    primaries: &[Object],
    release: &str,
    revision: u32,
    workloads: &[String],
    replicas_for: &dyn Fn(&str) -> u32,
) -> Vec<Object> {
    let mut out = Vec::new();
    let deps: Vec<&Object> = primaries
        .iter()
        .filter(|o| takes_part(o, workloads))
        .collect();
    for d in &deps {
        let mut c = (*d).clone();
        rename(&mut c, &suffixed(&d.name, "-canary"));
        if let Some(spec) = c.body.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("replicas".into(), Value::from(replicas_for(&d.name)));
        }
        add_to_template(&mut c.body, LABEL_TRACK, "canary");
        add_to_selector(&mut c.body, LABEL_TRACK, "canary");
        set_label(&mut c.body, LABEL_TRACK, "canary");
        stamp(&mut c, release, revision);
        out.push(c);
    }
    for svc in primaries
        .iter()
        .filter(|o| o.kind == "Service" && o.group().is_empty())
    {
        if deps.iter().any(|d| service_selects(svc, d)) {
            let mut c = service_copy(svc, "-canary", "canary", LABEL_TRACK, "canary");
            set_label(&mut c.body, LABEL_TRACK, "canary");
            stamp(&mut c, release, revision);
            out.push(c);
        }
    }
    out
}

/// The objects of a blue/green revision deployed into `slot` while `live` (None: the first
/// deploy, when `slot` goes live) takes the traffic: taking-part Deployments renamed
/// `D-<slot>` with the slot in their pods and selector, the chart's Services selecting the
/// live slot, `<svc>-stage` copies selecting `slot`, HPAs and PDBs following the live slot.
pub fn bluegreen_objects(
    objs: &[Object],
    release: &str,
    revision: u32,
    workloads: &[String],
    slot: Color,
    live: Option<Color>,
) -> Transformed {
    let t = prepare_rolling(objs, release, revision, workloads, false);
    let live = live.unwrap_or(slot);
    let deps: Vec<Object> = t
        .objects
        .iter()
        .filter(|o| takes_part(o, workloads))
        .cloned()
        .collect();
    let dep_names: BTreeSet<String> = deps.iter().map(|d| d.name.clone()).collect();
    let mut out = Vec::new();
    for o in t.objects {
        if takes_part(&o, workloads) {
            let mut d = o.clone();
            rename(&mut d, &suffixed(&o.name, &format!("-{slot}")));
            add_to_template(&mut d.body, LABEL_SLOT, slot.as_str());
            add_to_selector(&mut d.body, LABEL_SLOT, slot.as_str());
            set_label(&mut d.body, LABEL_SLOT, slot.as_str());
            out.push(d);
            continue;
        }
        if o.kind == "Service"
            && o.group().is_empty()
            && deps.iter().any(|d| service_selects(&o, d))
        {
            let mut stage = service_copy(&o, "-stage", "stage", LABEL_SLOT, slot.as_str());
            stamp(&mut stage, release, revision);
            out.push(stage);
            let mut svc = o.clone();
            add_to_service_selector(&mut svc.body, LABEL_SLOT, live.as_str());
            out.push(svc);
            continue;
        }
        let mut o = o;
        if o.kind == "HorizontalPodAutoscaler" {
            if let Some(name) = o.body.pointer_mut("/spec/scaleTargetRef/name") {
                if name.as_str().is_some_and(|n| dep_names.contains(n)) {
                    let n = name.as_str().unwrap_or_default().to_string();
                    *name = Value::String(suffixed(&n, &format!("-{live}")));
                }
            }
        }
        if o.kind == "PodDisruptionBudget" {
            let sel = selector_map(o.body.pointer("/spec/selector/matchLabels"));
            let matches = deps.iter().any(|d| {
                let l = template_labels(&d.body);
                !sel.is_empty() && sel.iter().all(|(k, v)| l.get(k) == Some(v))
            });
            if matches {
                if let Some(m) = o
                    .body
                    .pointer_mut("/spec/selector/matchLabels")
                    .and_then(Value::as_object_mut)
                {
                    m.insert(LABEL_SLOT.into(), Value::String(live.as_str().into()));
                }
            }
        }
        out.push(o);
    }
    Transformed {
        objects: out,
        config_renames: t.config_renames,
    }
}

/// A blue/green Deployment of slot `color`.
pub fn is_slot_workload(o: &Object, color: Color) -> bool {
    o.kind == "Deployment" && label(&o.body, LABEL_SLOT) == Some(color.as_str())
}

/// A `-stage` Service helmdeck made.
pub fn is_stage_service(o: &Object) -> bool {
    o.kind == "Service" && label(&o.body, LABEL_ROLE) == Some("stage")
}

/// Whether helmdeck applied this object for `release`.
pub fn is_owned_by_helmdeck(body: &Value, release: &str) -> bool {
    label(body, LABEL_MANAGED_BY) == Some(MANAGED_BY) && label(body, LABEL_RELEASE) == Some(release)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(body: Value) -> Object {
        Object::from_body(body, "demo").expect("object")
    }

    fn chart() -> Vec<Object> {
        vec![
            obj(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"a": "1"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web"}, "data": {"p": "eA=="}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unused"}, "data": {"b": "2"}}),
            ),
            obj(
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"clusterIP": "10.0.0.9", "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
            ),
            obj(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "volumes": [{"name": "c", "configMap": {"name": "web"}}],
                    "containers": [{"name": "app", "image": "web:1", "envFrom": [{"secretRef": {"name": "web"}}], "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "a"}}}]}]}}}}),
            ),
            obj(
                json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
            ),
            obj(
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}}),
            ),
        ]
    }

    fn find<'a>(objs: &'a [Object], kind: &str, name: &str) -> &'a Object {
        objs.iter()
            .find(|o| o.kind == kind && o.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{kind} {name} in {:?}",
                    objs.iter()
                        .map(|o| format!("{} {}", o.kind, o.name))
                        .collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn referenced_config_is_renamed_by_content_and_references_follow() {
        let t = prepare_rolling(&chart(), "web", 2, &[], false);
        let cm = t.config_renames["ConfigMap/web"].clone();
        let sec = t.config_renames["Secret/web"].clone();
        assert!(
            cm.starts_with("web-") && cm.len() == "web-".len() + 8,
            "{cm}"
        );
        let d = find(&t.objects, "Deployment", "web");
        assert_eq!(
            d.body
                .pointer("/spec/template/spec/volumes/0/configMap/name"),
            Some(&json!(cm))
        );
        assert_eq!(
            d.body
                .pointer("/spec/template/spec/containers/0/envFrom/0/secretRef/name"),
            Some(&json!(sec))
        );
        assert_eq!(
            d.body
                .pointer("/spec/template/spec/containers/0/env/0/valueFrom/configMapKeyRef/name"),
            Some(&json!(cm))
        );
        find(&t.objects, "ConfigMap", "unused");
        assert!(!t.config_renames.contains_key("ConfigMap/unused"));
    }

    #[test]
    fn identical_config_keeps_its_name_across_revisions_and_changed_config_does_not() {
        let a = prepare_rolling(&chart(), "web", 2, &[], false);
        let b = prepare_rolling(&chart(), "web", 3, &[], false);
        assert_eq!(a.config_renames, b.config_renames);
        let mut changed = chart();
        changed[0].body["data"]["a"] = json!("2");
        let c = prepare_rolling(&changed, "web", 3, &[], false);
        assert_ne!(
            a.config_renames["ConfigMap/web"],
            c.config_renames["ConfigMap/web"]
        );
        assert_eq!(
            a.config_renames["Secret/web"],
            c.config_renames["Secret/web"]
        );
    }

    #[test]
    fn every_object_is_stamped_with_release_and_revision() {
        let t = prepare_rolling(&chart(), "web", 7, &[], false);
        for o in &t.objects {
            assert!(is_owned_by_helmdeck(&o.body, "web"), "{}", o.name);
            assert_eq!(
                o.body
                    .pointer("/metadata/annotations/helmdeck.io~1revision"),
                Some(&json!("7"))
            );
        }
    }

    #[test]
    fn canary_primaries_get_a_stable_track_on_pods_but_not_on_the_selector() {
        let t = prepare_rolling(&chart(), "web", 2, &[], true);
        let d = find(&t.objects, "Deployment", "web");
        assert_eq!(
            d.body
                .pointer("/spec/template/metadata/labels/helmdeck.io~1track"),
            Some(&json!("stable"))
        );
        assert_eq!(
            d.body.pointer("/spec/selector/matchLabels"),
            Some(&json!({"app": "web"}))
        );
    }

    #[test]
    fn canary_deployment_and_service_select_only_canary_pods() {
        let p = prepare_rolling(&chart(), "web", 2, &[], true).objects;
        let c = canary_objects(&p, "web", 2, &[], &|name| if name == "web" { 2 } else { 0 });
        let d = find(&c, "Deployment", "web-canary");
        assert_eq!(d.body["spec"]["replicas"], 2);
        assert_eq!(
            d.body.pointer("/spec/selector/matchLabels"),
            Some(&json!({"app": "web", "helmdeck.io/track": "canary"}))
        );
        assert_eq!(
            d.body
                .pointer("/spec/template/metadata/labels/helmdeck.io~1track"),
            Some(&json!("canary"))
        );
        let s = find(&c, "Service", "web-canary");
        assert_eq!(
            s.body.pointer("/spec/selector"),
            Some(&json!({"app": "web", "helmdeck.io/track": "canary"}))
        );
        assert!(
            s.body.pointer("/spec/clusterIP").is_none(),
            "allocated fields are not copied"
        );
        assert_eq!(c.len(), 2, "the HPA, PDB and config are not copied");
    }

    #[test]
    fn only_listed_workloads_take_part() {
        let mut objs = chart();
        objs.push(obj(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "redis"}, "spec": {"selector": {"matchLabels": {"app": "redis"}}, "template": {"metadata": {"labels": {"app": "redis"}}, "spec": {"containers": []}}}})));
        let p = prepare_rolling(&objs, "web", 2, &["web".into()], true).objects;
        let c = canary_objects(&p, "web", 2, &["web".into()], &|_| 1);
        assert!(c.iter().all(|o| o.name != "redis-canary"));
        assert!(find(&p, "Deployment", "redis")
            .body
            .pointer("/spec/template/metadata/labels/helmdeck.io~1track")
            .is_none());
    }

    #[test]
    fn bluegreen_first_deploy_goes_live_in_blue() {
        let t = bluegreen_objects(&chart(), "web", 1, &[], Color::Blue, None);
        let d = find(&t.objects, "Deployment", "web-blue");
        assert_eq!(
            d.body
                .pointer("/spec/selector/matchLabels/helmdeck.io~1slot"),
            Some(&json!("blue"))
        );
        assert!(is_slot_workload(d, Color::Blue));
        assert_eq!(
            find(&t.objects, "Service", "web")
                .body
                .pointer("/spec/selector/helmdeck.io~1slot"),
            Some(&json!("blue"))
        );
        assert_eq!(
            find(&t.objects, "Service", "web-stage")
                .body
                .pointer("/spec/selector/helmdeck.io~1slot"),
            Some(&json!("blue"))
        );
        assert_eq!(
            find(&t.objects, "HorizontalPodAutoscaler", "web")
                .body
                .pointer("/spec/scaleTargetRef/name"),
            Some(&json!("web-blue"))
        );
        assert_eq!(
            find(&t.objects, "PodDisruptionBudget", "web")
                .body
                .pointer("/spec/selector/matchLabels/helmdeck.io~1slot"),
            Some(&json!("blue"))
        );
    }

    #[test]
    fn bluegreen_next_revision_stages_green_while_blue_stays_live() {
        let t = bluegreen_objects(&chart(), "web", 2, &[], Color::Green, Some(Color::Blue));
        find(&t.objects, "Deployment", "web-green");
        assert!(
            !t.objects.iter().any(|o| o.name == "web-blue"),
            "the live slot is not touched"
        );
        assert_eq!(
            find(&t.objects, "Service", "web")
                .body
                .pointer("/spec/selector/helmdeck.io~1slot"),
            Some(&json!("blue"))
        );
        assert_eq!(
            find(&t.objects, "Service", "web-stage")
                .body
                .pointer("/spec/selector/helmdeck.io~1slot"),
            Some(&json!("green"))
        );
        assert!(is_stage_service(find(&t.objects, "Service", "web-stage")));
        let switched = bluegreen_objects(&chart(), "web", 2, &[], Color::Green, Some(Color::Green));
        assert_eq!(
            find(&switched.objects, "Service", "web")
                .body
                .pointer("/spec/selector/helmdeck.io~1slot"),
            Some(&json!("green"))
        );
    }

    #[test]
    fn transforms_are_deterministic() {
        assert_eq!(
            prepare_rolling(&chart(), "web", 2, &[], true),
            prepare_rolling(&chart(), "web", 2, &[], true)
        );
        let bg = bluegreen_objects(&chart(), "web", 2, &[], Color::Green, Some(Color::Blue));
        assert_eq!(
            bg,
            bluegreen_objects(&chart(), "web", 2, &[], Color::Green, Some(Color::Blue))
        );
    }

    #[test]
    fn long_names_stay_valid() {
        let long = "x".repeat(260);
        let n = suffixed(&long, "-canary");
        assert!(n.len() <= 253 && n.ends_with("-canary"), "{}", n.len());
        assert_ne!(
            suffixed(&long, "-canary"),
            suffixed(&"y".repeat(260), "-canary")
        );
        // A long name of multi-byte characters is cut between characters, not inside one
        // (found by tests/properties.rs: it panicked).
        let wide = "é".repeat(200);
        let n = suffixed(&wide, "-canary");
        assert!(n.len() <= 253 && n.ends_with("-canary"), "{n}");
    }
}
