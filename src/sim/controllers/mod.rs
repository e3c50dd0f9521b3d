//! The controller manager: one task that turns store changes and timers into reconcile
//! work for the Deployment, ReplicaSet, StatefulSet, DaemonSet and Job controllers, the
//! kubelet, Endpoints/EndpointSlices, the volume binder, the garbage collector and the
//! namespace controller.
//! Controllers write straight to the store (they are the cluster, not API clients).

pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod replicaset;
pub mod statefulset;
pub mod volumes;
pub mod workloads;

use crate::sim::clock::{now_rfc3339, SimRng};
use crate::sim::kinds::ResourceDef;
use crate::sim::kubelet::Kubelet;
use crate::sim::store::{EventType, StoreEvent, StoredObject};
use crate::sim::Cluster;
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One unit of reconcile work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    Deployment(String, String),
    ReplicaSet(String, String),
    StatefulSet(String, String),
    DaemonSet(String, String),
    Job(String, String),
    Pod(String, String),
    Claim(String, String),
    Endpoints(String, String),
    Namespace(String),
    /// Dependents of a deleted (or deleting) owner: (owner uid, storage key, ns, name).
    Collect(String, String, String, String),
}

/// Most Events kept per namespace; older ones are deleted (the API server's TTL, by count).
const EVENTS_PER_NAMESPACE: usize = 2000;

pub struct Controllers {
    pub c: Arc<Cluster>,
    pub rng: SimRng,
    queue: BTreeSet<Work>,
    timers: BinaryHeap<Reverse<(Instant, u64, Work)>>,
    timer_seq: u64,
    pub kubelet: Kubelet,
    /// Deployment uid → when its Progressing condition last moved (for the deadline).
    pub progress_at: HashMap<String, Instant>,
    /// Pod uid → when it became Ready (for minReadySeconds / availability).
    pub ready_since: HashMap<String, Instant>,
    events: HashMap<String, VecDeque<String>>,
    last_event_nanos: u64,
    next_ip: u32,
}

impl Controllers {
    pub fn def(&self, key: &str) -> Option<Arc<ResourceDef>> {
        self.c.store.kinds().preferred(key)
    }

    pub fn enqueue(&mut self, w: Work) {
        self.queue.insert(w);
    }

    /// Reconcile `w` again after `real` (real time).
    pub fn requeue_after(&mut self, w: Work, real: Duration) {
        self.timer_seq += 1;
        self.timers
            .push(Reverse((Instant::now() + real, self.timer_seq, w)));
    }

    pub fn requeue_at(&mut self, w: Work, at: Instant) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, w)));
    }

    pub fn next_pod_ip(&mut self) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 2)
    }

    /// Records a core/v1 Event about `obj`.
    pub fn event(&mut self, obj: &Value, ty: &str, reason: &str, message: &str, component: &str) {
        let Some(def) = self.def("/events") else {
            return;
        };
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        // Like the real recorder: `<object>.<hex nanoseconds>`, so names sort by time.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.last_event_nanos = nanos.max(self.last_event_nanos + 1);
        let name = format!(
            "{}.{:x}",
            obj["metadata"]["name"].as_str().unwrap_or("object"),
            self.last_event_nanos
        );
        let now = now_rfc3339();
        let ev = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
                "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
            },
            "reason": reason, "message": message, "type": ty,
            "source": {"component": component, "host": if component == "kubelet" { crate::sim::NODE_NAME } else { "" }},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": component, "reportingInstance": "",
        });
        if self.c.store.create(&def, ev).is_ok() {
            let q = self.events.entry(ns.clone()).or_default();
            q.push_back(name);
            if q.len() > EVENTS_PER_NAMESPACE {
                if let Some(old) = q.pop_front() {
                    let _ = self.c.store.remove(&def, &ns, &old, None);
                }
            }
        }
    }

    /// Maps a committed change to the work it causes.
    fn on_event(&mut self, ev: &StoreEvent) {
        let o = &ev.object;
        let ns = o.namespace().to_string();
        let name = o.name().to_string();
        if ev.kind == EventType::Deleted || (o.deleting() && has_gc_finalizer(&o.value())) {
            self.enqueue(Work::Collect(
                o.uid().to_string(),
                ev.key.to_string(),
                ns.clone(),
                name.clone(),
            ));
        }
        match &*ev.key {
            "apps/deployments" => self.enqueue(Work::Deployment(ns, name)),
            "apps/replicasets" => {
                if let Some(owner) = o.controller_of("Deployment") {
                    self.enqueue(Work::Deployment(ns.clone(), owner.to_string()));
                }
                self.enqueue(Work::ReplicaSet(ns, name));
            }
            "apps/statefulsets" => self.enqueue(Work::StatefulSet(ns, name)),
            "apps/daemonsets" => self.enqueue(Work::DaemonSet(ns, name)),
            "batch/jobs" => self.enqueue(Work::Job(ns, name)),
            "/pods" => {
                for (kind, w) in [
                    ("ReplicaSet", Work::ReplicaSet as fn(String, String) -> Work),
                    ("StatefulSet", Work::StatefulSet),
                    ("DaemonSet", Work::DaemonSet),
                    ("Job", Work::Job),
                ] {
                    if let Some(owner) = o.controller_of(kind) {
                        self.enqueue(w(ns.clone(), owner.to_string()));
                    }
                }
                if ev.kind != EventType::Deleted {
                    self.enqueue(Work::Pod(ns.clone(), name.clone()));
                } else {
                    self.kubelet.forget(o.uid());
                    self.ready_since.remove(o.uid());
                }
                // Services whose selector matches the pod now or before (parsed only when
                // the namespace has Services at all).
                let services =
                    endpoints::services_selecting(&self.c.store, &ns, o, ev.prev.as_deref());
                let endpoints_relevant = !services.is_empty()
                    && (ev.kind != EventType::Modified
                        || ev.prev.as_ref().is_none_or(|p| {
                            let (pv, ov) = (p.value(), o.value());
                            pv["status"]["conditions"] != ov["status"]["conditions"]
                                || pv["metadata"]["labels"] != ov["metadata"]["labels"]
                                || pv["status"]["podIP"] != ov["status"]["podIP"]
                                || pv["metadata"]["deletionTimestamp"]
                                    != ov["metadata"]["deletionTimestamp"]
                        }));
                if endpoints_relevant {
                    for svc in services {
                        self.enqueue(Work::Endpoints(ns.clone(), svc));
                    }
                }
            }
            "/services" => self.enqueue(Work::Endpoints(ns, name)),
            "/persistentvolumeclaims" => {
                if ev.kind == EventType::Deleted {
                    volumes::claim_deleted(self, &o.value());
                } else {
                    self.enqueue(Work::Claim(ns, name));
                }
            }
            "/namespaces" => self.enqueue(Work::Namespace(name)),
            _ => {}
        }
    }

    fn run_work(&mut self, w: Work) {
        match w {
            Work::Deployment(ns, n) => deployment::sync(self, &ns, &n),
            Work::ReplicaSet(ns, n) => replicaset::sync(self, &ns, &n),
            Work::StatefulSet(ns, n) => statefulset::sync(self, &ns, &n),
            Work::DaemonSet(ns, n) => workloads::sync_daemonset(self, &ns, &n),
            Work::Job(ns, n) => workloads::sync_job(self, &ns, &n),
            Work::Pod(ns, n) => crate::sim::kubelet::sync(self, &ns, &n),
            Work::Claim(ns, n) => volumes::sync_claim(self, &ns, &n),
            Work::Endpoints(ns, n) => endpoints::sync(self, &ns, &n),
            Work::Namespace(n) => gc::sync_namespace(self, &n),
            Work::Collect(uid, key, ns, n) => gc::collect(self, &uid, &key, &ns, &n),
        }
    }
}

fn has_gc_finalizer(v: &Value) -> bool {
    v["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion" || x == "orphan"))
}

/// The owner reference a controller puts on what it creates.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
    })
}

/// Objects of `key` controlled by the owner with `uid`.
pub fn owned(c: &Cluster, uid: &str, key: &str) -> Vec<Arc<StoredObject>> {
    c.store
        .dependents(uid)
        .into_iter()
        .filter(|(k, o)| &**k == key && o.owners().iter().any(|r| &*r.uid == uid && r.controller))
        .map(|(_, o)| o)
        .collect()
}

/// Writes `status` when it differs from the stored one.
pub fn write_status(c: &Cluster, def: &ResourceDef, ns: &str, name: &str, status: Value) {
    let _ = c.store.update(def, ns, name, |old| {
        let mut new = old.clone();
        new["status"] = status.clone();
        Ok(new)
    });
}

/// Drops zero integers and empty values like Go's `omitempty` does for status fields.
pub fn omit_empty(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| {
            !(x.as_i64() == Some(0) || x.is_null() || x.as_array().is_some_and(|a| a.is_empty()))
        });
    }
    v
}

/// Sets a status condition the way the controllers' helpers do: unchanged when status and
/// reason are the same; lastTransitionTime kept while the status stays.
pub fn set_condition(
    conds: &mut Vec<Value>,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    force_update: bool,
) -> bool {
    let now = now_rfc3339();
    if let Some(i) = conds.iter().position(|c| c["type"] == ty) {
        let cur = &conds[i];
        if cur["status"] == status
            && cur["reason"] == reason
            && !force_update
            && cur["message"] == message
        {
            return false;
        }
        let transition = if cur["status"] == status {
            cur["lastTransitionTime"].clone()
        } else {
            json!(now)
        };
        conds[i] = json!({"type": ty, "status": status, "lastUpdateTime": now, "lastTransitionTime": transition, "reason": reason, "message": message});
        return true;
    }
    conds.push(json!({"type": ty, "status": status, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message}));
    true
}

/// The controller manager loop.
pub async fn run(c: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<Arc<StoreEvent>>, seed: u64) {
    let mut shutdown = c.shutdown.clone();
    let mut ctl = Controllers {
        kubelet: Kubelet::new(seed),
        c,
        rng: SimRng::new(seed ^ 0xC0117),
        queue: BTreeSet::new(),
        timers: BinaryHeap::new(),
        timer_seq: 0,
        progress_at: HashMap::new(),
        ready_since: HashMap::new(),
        events: HashMap::new(),
        last_event_nanos: 0,
        next_ip: 0,
    };
    // Namespaces that exist at start get their default service account.
    for ns in ctl.c.store.list("/namespaces", None).0 {
        ctl.enqueue(Work::Namespace(ns.name().to_string()));
    }
    loop {
        // Drain everything pending, then reconcile once per distinct key.
        while let Ok(ev) = rx.try_recv() {
            ctl.on_event(&ev);
        }
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = ctl.timers.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, _, w))) = ctl.timers.pop() {
                ctl.enqueue(w);
            }
        }
        if !ctl.queue.is_empty() {
            let work = std::mem::take(&mut ctl.queue);
            for w in work {
                ctl.run_work(w);
            }
            tokio::task::yield_now().await;
            continue;
        }
        let next = ctl.timers.peek().map(|Reverse((at, _, _))| *at);
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => ctl.on_event(&ev),
                None => return,
            },
            _ = async { match next { Some(at) => tokio::time::sleep_until(at.into()).await, None => std::future::pending().await } } => {}
            _ = shutdown.changed() => return,
        }
    }
}
