//! The object store: every object as a `serde_json::Value` (unknown fields kept) with its
//! serialized bytes, one global resourceVersion counter, a retained window of change events
//! for watches, an owner-reference index for garbage collection, and per-namespace limits.
//! It knows nothing of HTTP; admission (defaults, validation) happens before it.

use crate::sim::clock::{now_rfc3339, SimRng};
use crate::sim::errors::{ApiError, Subject};
use crate::sim::kinds::{KindRegistry, ResourceDef};
use axum::body::Bytes;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::{mpsc, watch};

/// Field paths that field selectors may use without parsing the object (the ones the
/// API server indexes for pods, events, secrets and nodes).
pub const SELECTABLE_FIELDS: &[&str] = &[
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.unschedulable",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// One owner reference, as the controllers and the garbage collector read it.
#[derive(Debug, Clone)]
pub struct OwnerRef {
    pub uid: Box<str>,
    pub kind: Box<str>,
    pub name: Box<str>,
    pub controller: bool,
}

/// One stored version of an object: its serialized JSON (what clients get and what the
/// store keeps — a parsed `Value` costs ten times the memory) and the metadata that
/// selectors, watches and the owner index need without parsing.
#[derive(Debug)]
pub struct StoredObject {
    pub json: Bytes,
    pub rv: u64,
    api_version: Box<str>,
    name: Box<str>,
    namespace: Box<str>,
    uid: Box<str>,
    labels: Value,
    owners: Vec<OwnerRef>,
    deleting: bool,
    fields: Vec<(&'static str, Box<str>)>,
}

fn field_text(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl StoredObject {
    fn new(value: Value, rv: u64) -> Arc<Self> {
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let md = &value["metadata"];
        let s = |k: &str| md[k].as_str().unwrap_or_default().into();
        let owners = md["ownerReferences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| OwnerRef {
                        uid: o["uid"].as_str().unwrap_or_default().into(),
                        kind: o["kind"].as_str().unwrap_or_default().into(),
                        name: o["name"].as_str().unwrap_or_default().into(),
                        controller: o["controller"].as_bool() == Some(true),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fields = SELECTABLE_FIELDS
            .iter()
            .filter_map(|p| field_text(&value, p).map(|t| (*p, t.into_boxed_str())))
            .collect();
        Arc::new(StoredObject {
            api_version: value["apiVersion"].as_str().unwrap_or_default().into(),
            name: s("name"),
            namespace: s("namespace"),
            uid: s("uid"),
            labels: if md["labels"].is_object() {
                md["labels"].clone()
            } else {
                Value::Null
            },
            owners,
            deleting: !md["deletionTimestamp"].is_null(),
            fields,
            json,
            rv,
        })
    }
    /// The object, parsed from its stored JSON.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn uid(&self) -> &str {
        &self.uid
    }
    pub fn labels(&self) -> &Value {
        &self.labels
    }
    pub fn owners(&self) -> &[OwnerRef] {
        &self.owners
    }
    /// Whether `metadata.deletionTimestamp` is set.
    pub fn deleting(&self) -> bool {
        self.deleting
    }
    /// The name of the controlling owner of `kind`.
    pub fn controller_of(&self, kind: &str) -> Option<&str> {
        self.owners
            .iter()
            .find(|o| o.controller && &*o.kind == kind)
            .map(|o| &*o.name)
    }
    /// A field-selector value: `metadata.name`, `metadata.namespace` or one of
    /// [`SELECTABLE_FIELDS`]; `None` for other paths (the caller parses the object).
    pub fn selectable(&self, path: &str) -> Option<Option<&str>> {
        match path {
            "metadata.name" => Some(Some(&self.name)),
            "metadata.namespace" => Some(Some(&self.namespace)),
            _ if SELECTABLE_FIELDS.contains(&path) => Some(
                self.fields
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, v)| &**v),
            ),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct StoreEvent {
    pub rv: u64,
    pub key: Arc<str>,
    pub kind: EventType,
    pub object: Arc<StoredObject>,
    pub prev: Option<Arc<StoredObject>>,
}

/// Limits the sim states and enforces (as `Status` errors, never panics).
#[derive(Debug, Clone)]
pub struct SimLimits {
    /// Largest request body accepted (the API server's limit is 3 MiB).
    pub max_body_bytes: usize,
    /// Most objects of all kinds one namespace may hold.
    pub max_objects_per_namespace: usize,
    /// How many change events watches can resume from; older resourceVersions get 410.
    pub watch_window: usize,
}

impl Default for SimLimits {
    fn default() -> Self {
        SimLimits {
            max_body_bytes: 3 * 1024 * 1024,
            max_objects_per_namespace: 50_000,
            watch_window: 10_000,
        }
    }
}

type ObjKey = (String, String);
/// (storage key, namespace, name)
pub type ObjRef = (Arc<str>, String, String);

struct Inner {
    rv: u64,
    objects: HashMap<Arc<str>, BTreeMap<ObjKey, Arc<StoredObject>>>,
    window: VecDeque<Arc<StoreEvent>>,
    owners: HashMap<String, BTreeSet<ObjRef>>,
    ns_counts: HashMap<String, usize>,
}

/// What a watcher starts from: the events after its resourceVersion, plus a live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<StoreEvent>>,
    /// Wakes when the store's resourceVersion moves; read the events with [`Store::events_after`].
    pub feed: watch::Receiver<u64>,
    pub rv: u64,
}

pub struct Store {
    inner: Mutex<Inner>,
    pub kinds: RwLock<KindRegistry>,
    watch_tx: watch::Sender<u64>,
    ctrl_tx: Mutex<Option<mpsc::UnboundedSender<Arc<StoreEvent>>>>,
    pub limits: SimLimits,
    rng: Mutex<SimRng>,
}

/// Reads a string at `metadata.<field>`.
pub fn meta<'a>(v: &'a Value, field: &str) -> &'a str {
    v["metadata"][field].as_str().unwrap_or_default()
}

fn subject<'a>(def: &'a ResourceDef, name: &'a str) -> Subject<'a> {
    Subject {
        group: &def.group,
        resource: &def.plural,
        kind: &def.kind,
        name,
    }
}

/// Whether anything outside `metadata` and `status` differs (what bumps `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
        .any(|k| o.get(k) != n.get(k))
}

impl Store {
    pub fn new(limits: SimLimits, seed: u64) -> Arc<Self> {
        // Watchers read events from the retained window (like the API server's watch cache);
        // this channel only says that there is something new. A watcher that falls further
        // behind than the window is expired (410).
        let (watch_tx, _) = watch::channel(1u64);
        Arc::new(Store {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: HashMap::new(),
                window: VecDeque::new(),
                owners: HashMap::new(),
                ns_counts: HashMap::new(),
            }),
            kinds: RwLock::new(KindRegistry::with_builtins()),
            watch_tx,
            ctrl_tx: Mutex::new(None),
            limits,
            rng: Mutex::new(SimRng::new(seed)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the API down with it: keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn kinds(&self) -> std::sync::RwLockReadGuard<'_, KindRegistry> {
        self.kinds.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn kinds_mut(&self) -> std::sync::RwLockWriteGuard<'_, KindRegistry> {
        self.kinds.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The controllers' feed of every committed change.
    pub fn set_controller_feed(&self, tx: mpsc::UnboundedSender<Arc<StoreEvent>>) {
        *self.ctrl_tx.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    pub fn random_suffix(&self) -> String {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .name_suffix()
    }

    pub fn random_u64(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_u64()
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<Arc<StoredObject>> {
        let inner = self.lock();
        inner
            .objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// All objects of a kind (in one namespace, or all when `ns` is `None`), sorted by
    /// namespace and name, with the resourceVersion of the snapshot.
    pub fn list(&self, key: &str, ns: Option<&str>) -> (Vec<Arc<StoredObject>>, u64) {
        let inner = self.lock();
        let items = match inner.objects.get(key) {
            None => vec![],
            Some(m) => match ns {
                None => m.values().cloned().collect(),
                Some(ns) => m
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, o)| o.clone())
                    .collect(),
            },
        };
        (items, inner.rv)
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<(Arc<str>, Arc<StoredObject>)> {
        let inner = self.lock();
        let Some(refs) = inner.owners.get(uid) else {
            return vec![];
        };
        refs.iter()
            .filter_map(|(k, ns, n)| {
                let o = inner.objects.get(k)?.get(&(ns.clone(), n.clone()))?;
                Some((k.clone(), o.clone()))
            })
            .collect()
    }

    /// Counts of objects in a namespace (for namespace deletion and limits).
    pub fn namespace_count(&self, ns: &str) -> usize {
        self.lock().ns_counts.get(ns).copied().unwrap_or(0)
    }

    /// Every (storage key, name) in a namespace.
    pub fn in_namespace(&self, ns: &str) -> Vec<(Arc<str>, String)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for (k, m) in &inner.objects {
            for ((n, name), _) in m
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
            {
                let _ = n;
                out.push((k.clone(), name.clone()));
            }
        }
        out
    }

    /// Starts a watch at `rv` (events strictly after it). `None` when `rv` is older than
    /// the retained window (the caller answers 410 Gone).
    pub fn subscribe(&self, rv: u64) -> Result<Subscription, u64> {
        let inner = self.lock();
        let oldest = inner.window.front().map(|e| e.rv).unwrap_or(inner.rv + 1);
        // Anything from oldest-1 on can be resumed exactly.
        if rv + 1 < oldest && rv < inner.rv {
            return Err(oldest.saturating_sub(1));
        }
        let start = inner.window.partition_point(|e| e.rv <= rv);
        let backlog = inner.window.iter().skip(start).cloned().collect();
        Ok(Subscription {
            backlog,
            feed: self.watch_tx.subscribe(),
            rv: inner.rv,
        })
    }

    /// The retained events after `rv`, or `Err(oldest)` when `rv` has left the window.
    pub fn events_after(&self, rv: u64) -> Result<Vec<Arc<StoreEvent>>, u64> {
        let inner = self.lock();
        let oldest = inner.window.front().map(|e| e.rv).unwrap_or(inner.rv + 1);
        if rv + 1 < oldest && rv < inner.rv {
            return Err(oldest.saturating_sub(1));
        }
        let start = inner.window.partition_point(|e| e.rv <= rv);
        Ok(inner.window.iter().skip(start).cloned().collect())
    }

    /// A snapshot of a kind plus a feed of what follows it (for watches from "now").
    pub fn snapshot_and_subscribe(
        &self,
        key: &str,
        ns: Option<&str>,
    ) -> (Vec<Arc<StoredObject>>, Subscription) {
        let inner = self.lock();
        let items: Vec<Arc<StoredObject>> = match inner.objects.get(key) {
            None => vec![],
            Some(m) => m
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                .map(|(_, o)| o.clone())
                .collect(),
        };
        let sub = Subscription {
            backlog: vec![],
            feed: self.watch_tx.subscribe(),
            rv: inner.rv,
        };
        (items, sub)
    }

    fn commit(
        &self,
        inner: &mut Inner,
        key: &Arc<str>,
        kind: EventType,
        object: Arc<StoredObject>,
        prev: Option<Arc<StoredObject>>,
    ) {
        let ev = Arc::new(StoreEvent {
            rv: object.rv,
            key: key.clone(),
            kind,
            object,
            prev,
        });
        // Owner index and namespace counts follow every change.
        let ns = ev.object.namespace().to_string();
        let name = ev.object.name().to_string();
        let r: ObjRef = (key.clone(), ns.clone(), name);
        if let Some(p) = &ev.prev {
            for uid in p.owners().iter().map(|o| o.uid.to_string()) {
                if let Some(set) = inner.owners.get_mut(&uid) {
                    set.remove(&r);
                    if set.is_empty() {
                        inner.owners.remove(&uid);
                    }
                }
            }
        }
        if kind != EventType::Deleted {
            for uid in ev.object.owners().iter().map(|o| o.uid.to_string()) {
                inner.owners.entry(uid).or_default().insert(r.clone());
            }
        }
        match kind {
            EventType::Added => *inner.ns_counts.entry(ns).or_default() += 1,
            EventType::Deleted => {
                if let Some(c) = inner.ns_counts.get_mut(&ns) {
                    *c = c.saturating_sub(1);
                }
            }
            EventType::Modified => {}
        }
        inner.window.push_back(ev.clone());
        while inner.window.len() > self.limits.watch_window.max(1) {
            inner.window.pop_front();
        }
        self.watch_tx.send_replace(ev.rv);
        if let Some(tx) = self
            .ctrl_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(ev);
        }
    }

    /// Creates an object. Fills name (from generateName), uid, creationTimestamp,
    /// resourceVersion and generation; checks the namespace and the limits.
    pub fn create(&self, def: &ResourceDef, mut obj: Value) -> Result<Arc<StoredObject>, ApiError> {
        let key: Arc<str> = Arc::from(def.storage_key());
        if obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            if let Some(prefix) = obj["metadata"]["generateName"].as_str() {
                let name = format!("{prefix}{}", self.random_suffix());
                obj["metadata"]["name"] = json!(name);
            }
        }
        let name = meta(&obj, "name").to_string();
        let ns = if def.namespaced {
            meta(&obj, "namespace").to_string()
        } else {
            String::new()
        };
        let mut inner = self.lock();
        if def.namespaced {
            let ns_obj = inner
                .objects
                .get("/namespaces")
                .and_then(|m| m.get(&(String::new(), ns.clone())));
            match ns_obj {
                None => {
                    return Err(ApiError::not_found(&Subject { group: "", resource: "namespaces", kind: "Namespace", name: &ns }))
                }
                Some(n) if n.deleting() => {
                    return Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        def.plural
                    )))
                }
                Some(_) => {}
            }
            if inner.ns_counts.get(&ns).copied().unwrap_or(0)
                >= self.limits.max_objects_per_namespace
            {
                return Err(ApiError::forbidden(format!(
                    "{} \"{name}\" is forbidden: exceeded quota: namespace {ns} holds the sim's limit of {} objects",
                    def.plural, self.limits.max_objects_per_namespace
                )));
            }
        }
        if inner
            .objects
            .get(&key)
            .is_some_and(|m| m.contains_key(&(ns.clone(), name.clone())))
        {
            return Err(ApiError::already_exists(&subject(def, &name)));
        }
        inner.rv += 1;
        let rv = inner.rv;
        let uid = uuid_from(self.random_u64(), self.random_u64());
        {
            let m = obj["metadata"]
                .as_object_mut()
                .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
            if def.namespaced {
                m.insert("namespace".into(), json!(ns));
            } else {
                m.remove("namespace");
            }
            m.insert("uid".into(), json!(uid));
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            m.insert("creationTimestamp".into(), json!(now_rfc3339()));
            if def.status || def.custom {
                m.insert("generation".into(), json!(1));
            }
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("selfLink");
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        let stored = StoredObject::new(obj, rv);
        inner
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns, name), stored.clone());
        self.commit(&mut inner, &key, EventType::Added, stored.clone(), None);
        Ok(stored)
    }

    /// Read-modify-write of one object under the store lock. `f` gets the current value and
    /// returns the new one (or an error). Identity fields are kept, `generation` follows
    /// spec changes, and an object being deleted whose finalizers are gone is removed.
    /// Nothing is committed when the value does not change.
    pub fn update<F>(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        f: F,
    ) -> Result<Arc<StoredObject>, ApiError>
    where
        F: FnOnce(&Value) -> Result<Value, ApiError>,
    {
        let key: Arc<str> = Arc::from(def.storage_key());
        let ns = if def.namespaced { ns } else { "" };
        let mut inner = self.lock();
        let old = inner
            .objects
            .get(&key)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&subject(def, name)))?;
        let old_v = old.value();
        let mut new = f(&old_v)?;
        if !new.is_object() || !new["metadata"].is_object() {
            return Err(ApiError::bad_request(
                "the object and its metadata must be JSON objects",
            ));
        }
        for field in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old_v["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        // deletionTimestamp can only be set by delete, never by an update.
                        m.remove(field);
                    }
                }
            }
        }
        new["metadata"]["resourceVersion"] = old_v["metadata"]["resourceVersion"].clone();
        new["metadata"]["generation"] = old_v["metadata"]["generation"].clone();
        if new["metadata"]["generation"].is_null() {
            if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("generation");
            }
        }
        new["apiVersion"] = old_v["apiVersion"].clone();
        new["kind"] = old_v["kind"].clone();
        if new == old_v {
            return Ok(old);
        }
        if spec_changed(&old_v, &new) {
            if let Some(g) = old_v["metadata"]["generation"].as_i64() {
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        inner.rv += 1;
        let rv = inner.rv;
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        let deleting = !new["metadata"]["deletionTimestamp"].is_null();
        let no_finalizers = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|a| a.is_empty());
        let stored = StoredObject::new(new, rv);
        if deleting && no_finalizers && def.kind != "Pod" && def.kind != "Namespace" {
            if let Some(m) = inner.objects.get_mut(&key) {
                m.remove(&(ns.to_string(), name.to_string()));
            }
            self.commit(
                &mut inner,
                &key,
                EventType::Deleted,
                stored.clone(),
                Some(old),
            );
        } else {
            inner
                .objects
                .entry(key.clone())
                .or_default()
                .insert((ns.to_string(), name.to_string()), stored.clone());
            self.commit(
                &mut inner,
                &key,
                EventType::Modified,
                stored.clone(),
                Some(old),
            );
        }
        Ok(stored)
    }

    /// Marks an object as being deleted (sets deletionTimestamp, adds `finalizer` if given).
    pub fn mark_deleting(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        finalizer: Option<&str>,
        grace: Option<i64>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let key: Arc<str> = Arc::from(def.storage_key());
        let ns = if def.namespaced { ns } else { "" };
        let mut inner = self.lock();
        let old = inner
            .objects
            .get(&key)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&subject(def, name)))?;
        let old_v = old.value();
        let mut new = old_v.clone();
        if new["metadata"]["deletionTimestamp"].is_null() {
            let when = std::time::SystemTime::now()
                + std::time::Duration::from_secs(grace.unwrap_or(0).clamp(0, 86_400 * 365) as u64);
            new["metadata"]["deletionTimestamp"] = json!(crate::sim::clock::rfc3339(when));
            if let Some(g) = grace {
                new["metadata"]["deletionGracePeriodSeconds"] = json!(g);
            }
        }
        if let Some(f) = finalizer {
            let fins = new["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !fins.iter().any(|x| x == f) {
                let mut fins = fins;
                fins.push(json!(f));
                new["metadata"]["finalizers"] = Value::Array(fins);
            }
        }
        if new == old_v {
            return Ok(old);
        }
        inner.rv += 1;
        let rv = inner.rv;
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        let stored = StoredObject::new(new, rv);
        inner
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns.to_string(), name.to_string()), stored.clone());
        self.commit(
            &mut inner,
            &key,
            EventType::Modified,
            stored.clone(),
            Some(old),
        );
        Ok(stored)
    }

    /// Removes an object now. `expect_uid` guards against deleting a re-created namesake.
    pub fn remove(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        expect_uid: Option<&str>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let key: Arc<str> = Arc::from(def.storage_key());
        let ns = if def.namespaced { ns } else { "" };
        let mut inner = self.lock();
        let k = (ns.to_string(), name.to_string());
        let old = inner
            .objects
            .get(&key)
            .and_then(|m| m.get(&k))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&subject(def, name)))?;
        if let Some(uid) = expect_uid {
            if old.uid() != uid {
                return Err(ApiError::conflict(&subject(def, name), "the UID in the precondition does not match the UID in record. The object might have been deleted and then recreated"));
            }
        }
        if let Some(m) = inner.objects.get_mut(&key) {
            m.remove(&k);
        }
        inner.rv += 1;
        let rv = inner.rv;
        let mut v = old.value();
        v["metadata"]["resourceVersion"] = json!(rv.to_string());
        let stored = StoredObject::new(v, rv);
        self.commit(
            &mut inner,
            &key,
            EventType::Deleted,
            stored.clone(),
            Some(old),
        );
        Ok(stored)
    }

    /// Removes every object of a storage key (when a CRD goes away).
    pub fn remove_all(&self, key: &str) {
        let items = self.list(key, None).0;
        let kinds = self.kinds();
        let Some(def) = kinds.preferred(key).map(|d| (*d).clone()) else {
            return;
        };
        drop(kinds);
        for o in items {
            let _ = self.remove(&def, o.namespace(), o.name(), None);
        }
    }
}

/// A random RFC 4122 version-4 UID.
fn uuid_from(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(window: usize) -> Arc<Store> {
        let s = Store::new(
            SimLimits {
                watch_window: window,
                max_objects_per_namespace: 3,
                ..SimLimits::default()
            },
            7,
        );
        let ns = s.kinds().lookup("", "v1", "namespaces").expect("ns kind");
        s.create(&ns, json!({"metadata": {"name": "default"}}))
            .expect("ns");
        s
    }

    fn def(s: &Store, g: &str, v: &str, plural: &str) -> Arc<ResourceDef> {
        s.kinds().lookup(g, v, plural).expect("kind")
    }

    #[test]
    fn create_fills_identity_and_rejects_duplicates() {
        let s = store(100);
        let d = def(&s, "apps", "v1", "deployments");
        let o = s.create(&d, json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1}})).expect("create");
        assert_eq!(o.value()["metadata"]["generation"], 1);
        assert_eq!(o.value()["apiVersion"], "apps/v1");
        assert_eq!(o.uid().len(), 36);
        let e = s
            .create(
                &d,
                json!({"metadata": {"name": "web", "namespace": "default"}}),
            )
            .expect_err("dup");
        assert_eq!((e.code, e.reason), (409, "AlreadyExists"));
        let e = s
            .create(&d, json!({"metadata": {"name": "x", "namespace": "nope"}}))
            .expect_err("no ns");
        assert_eq!(e.code, 404);
    }

    #[test]
    fn generation_follows_spec_and_noop_updates_commit_nothing() {
        let s = store(100);
        let d = def(&s, "apps", "v1", "deployments");
        s.create(
            &d,
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1}}),
        )
        .expect("create");
        let rv = s.current_rv();
        let same = s
            .update(&d, "default", "web", |o| Ok(o.clone()))
            .expect("noop");
        assert_eq!(s.current_rv(), rv);
        assert_eq!(same.value()["metadata"]["generation"], 1);
        let labeled = s.update(&d, "default", "web", |o| {
            let mut n = o.clone();
            n["metadata"]["labels"] = json!({"a": "b"});
            Ok(n)
        });
        assert_eq!(
            labeled.expect("label").value()["metadata"]["generation"],
            1,
            "metadata does not bump generation"
        );
        let scaled = s.update(&d, "default", "web", |o| {
            let mut n = o.clone();
            n["spec"]["replicas"] = json!(3);
            Ok(n)
        });
        assert_eq!(scaled.expect("scale").value()["metadata"]["generation"], 2);
    }

    #[test]
    fn watch_window_expires_old_versions() {
        let s = store(4);
        let cm = def(&s, "", "v1", "configmaps");
        for i in 0..3 {
            s.create(
                &cm,
                json!({"metadata": {"name": format!("c{i}"), "namespace": "default"}}),
            )
            .expect("cm");
        }
        let d = def(&s, "", "v1", "configmaps");
        for i in 0..3 {
            s.remove(&d, "default", &format!("c{i}"), None).expect("rm");
        }
        assert!(s.subscribe(1).is_err(), "rv 1 is older than the window");
        let now = s.current_rv();
        let sub = s
            .subscribe(now - 2)
            .map_err(|_| "expired")
            .expect("recent rv resumes");
        assert_eq!(sub.backlog.len(), 2);
    }

    #[test]
    fn owner_index_and_namespace_limit() {
        let s = store(100);
        let cm = def(&s, "", "v1", "configmaps");
        let owner = s
            .create(
                &cm,
                json!({"metadata": {"name": "owner", "namespace": "default"}}),
            )
            .expect("owner");
        s.create(&cm, json!({"metadata": {"name": "dep", "namespace": "default", "ownerReferences": [{"uid": owner.uid(), "kind": "ConfigMap", "name": "owner", "apiVersion": "v1"}]}})).expect("dep");
        assert_eq!(s.dependents(owner.uid()).len(), 1);
        s.create(
            &cm,
            json!({"metadata": {"name": "third", "namespace": "default"}}),
        )
        .expect("third");
        let e = s
            .create(
                &cm,
                json!({"metadata": {"name": "fourth", "namespace": "default"}}),
            )
            .expect_err("limit");
        assert_eq!(e.code, 403);
        assert!(e.message.contains("limit of 3 objects"), "{}", e.message);
    }
}
