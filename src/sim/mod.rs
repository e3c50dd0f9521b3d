//! The simulated cluster behind `helmdeck sim` and `helmdeck demo`: a Kubernetes API on
//! loopback (plain HTTP) that kubectl and kube-rs talk to, with controllers and a kubelet
//! that make workloads behave like a real cluster's, and scenarios that inject faults.
//! No production module imports this; production code paths are the same against it.

pub mod admission;
pub mod api;
pub mod apply;
pub mod clock;
pub mod controllers;
pub mod discovery;
pub mod errors;
pub mod kinds;
pub mod kubelet;
pub mod logs;
pub mod patch;
pub mod proto;
pub mod proxy;
pub mod scenario;
pub mod selector;
pub mod store;
pub mod table;
pub mod watch;
pub mod writelog;

pub use errors::{ApiError, SimError};
pub use scenario::Scenario;
pub use store::SimLimits;

use crate::sim::clock::SimClock;
use crate::sim::kinds::{KindRegistry, ResourceDef};
use crate::sim::scenario::ApiFaults;
use crate::sim::store::{Store, StoredObject};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch as signal;

/// How to start the sim.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// 0 = any free port.
    pub port: u16,
    /// Simulated seconds per real second (a scenario's own `speed` wins when set).
    pub speed: f64,
    pub scenario: Option<Scenario>,
    /// Where to write the kubeconfig once the API answers.
    pub kubeconfig_path: Option<PathBuf>,
    pub limits: SimLimits,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            port: 0,
            speed: 1.0,
            scenario: None,
            kubeconfig_path: None,
            limits: SimLimits::default(),
        }
    }
}

/// State shared by the API handlers, watches and controllers.
pub struct Cluster {
    pub store: Arc<Store>,
    pub clock: SimClock,
    pub scenario: Arc<Scenario>,
    pub faults: ApiFaults,
    pub port: u16,
    pub shutdown: signal::Receiver<bool>,
    next_service_ip: std::sync::atomic::AtomicU32,
    pub proxy_dice: proxy::ProxyDice,
    /// Every write through the API, with its client (see `writelog`).
    pub writes: writelog::WriteLog,
}

/// The node every pod is scheduled to.
pub const NODE_NAME: &str = "helmdeck-sim-node";

impl Cluster {
    /// The next free ClusterIP (10.96.0.0/16, after the `kubernetes` Service's .1).
    pub fn allocate_cluster_ip(&self) -> String {
        let n = self
            .next_service_ip
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 10;
        format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1)
    }

    /// Hooks after a successful write through the API: CRDs register their kinds.
    pub fn after_write(&self, def: &ResourceDef, stored: Arc<StoredObject>) -> Arc<StoredObject> {
        if def.kind == "CustomResourceDefinition" && def.group == "apiextensions.k8s.io" {
            return self.establish_crd(def, stored);
        }
        stored
    }

    fn establish_crd(&self, def: &ResourceDef, stored: Arc<StoredObject>) -> Arc<StoredObject> {
        let defs = KindRegistry::defs_from_crd(&stored.value());
        {
            let mut kinds = self.store.kinds_mut();
            for d in defs {
                kinds.add(d);
            }
        }
        let now = clock::now_rfc3339();
        let names = stored.value()["spec"]["names"].clone();
        let stored_versions: Vec<Value> = stored.value()["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["storage"].as_bool() == Some(true))
            .map(|v| v["name"].clone())
            .collect();
        let status = json!({
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
            ],
            "storedVersions": stored_versions,
        });
        if stored.value()["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.len() == 2)
            && stored.value()["status"]["acceptedNames"] == status["acceptedNames"]
        {
            return stored;
        }
        self.store
            .update(def, "", stored.name(), |old| {
                let mut new = old.clone();
                new["status"] = status.clone();
                Ok(new)
            })
            .unwrap_or(stored)
    }

    /// Deletion as the API server does it: graceful pods, finalizers, propagation policy
    /// (Foreground/Orphan via the GC finalizers, Background by removal + GC), namespaces
    /// that terminate, and CRDs that take their custom objects with them.
    pub fn delete_object(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        policy: Option<&str>,
        grace: Option<i64>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let key = def.storage_key();
        let cur = self
            .store
            .get(&key, if def.namespaced { ns } else { "" }, name)
            .ok_or_else(|| {
                ApiError::not_found(&errors::Subject {
                    group: &def.group,
                    resource: &def.plural,
                    kind: &def.kind,
                    name,
                })
            })?;
        let deleting = !cur.value()["metadata"]["deletionTimestamp"].is_null();
        let has_finalizers = cur.value()["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        match (def.group.as_str(), def.kind.as_str()) {
            ("", "Pod") => {
                let scheduled = cur.value()["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty());
                let terminal = matches!(
                    cur.value()["status"]["phase"].as_str(),
                    Some("Succeeded" | "Failed")
                );
                let g = grace
                    .or(cur.value()["spec"]["terminationGracePeriodSeconds"].as_i64())
                    .unwrap_or(30);
                if scheduled && !terminal && g > 0 && !deleting {
                    return self.store.mark_deleting(def, ns, name, None, Some(g));
                }
                if has_finalizers {
                    return self.store.mark_deleting(def, ns, name, None, Some(0));
                }
                self.store.remove(def, ns, name, None)
            }
            ("", "Namespace") => {
                if matches!(name, "default" | "kube-system" | "kube-public") {
                    return Err(ApiError::forbidden(format!(
                        "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                    )));
                }
                self.store.mark_deleting(def, "", name, None, None)?;
                self.store.update(def, "", name, |old| {
                    let mut new = old.clone();
                    new["status"]["phase"] = json!("Terminating");
                    Ok(new)
                })
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                let group = cur.value()["spec"]["group"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let plural = cur.value()["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.store.remove_all(&format!("{group}/{plural}"));
                self.store.kinds_mut().remove_custom(&group, &plural);
                self.store.remove(def, "", name, None)
            }
            _ => {
                let finalizer = match policy {
                    Some("Foreground") => Some("foregroundDeletion"),
                    Some("Orphan") => Some("orphan"),
                    _ => None,
                };
                if finalizer.is_some() || has_finalizers {
                    if deleting && finalizer.is_none() {
                        return Ok(cur);
                    }
                    return self.store.mark_deleting(def, ns, name, finalizer, None);
                }
                self.store.remove(def, ns, name, None)
            }
        }
    }
}

/// A running sim. Dropping it stops the server.
pub struct SimHandle {
    url: String,
    kubeconfig: String,
    stop: signal::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    cluster: Arc<Cluster>,
}

impl SimHandle {
    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A kubeconfig with cluster, user and context `helmdeck-sim`, namespace `default`.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig.clone()
    }

    /// The shared state, for tests and the bench.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.cluster.clone()
    }

    /// Stops serving: ends watches and log streams, then the listener.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(s) = &self.server {
            s.abort();
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub fn kubeconfig_for(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: helmdeck-sim\n  cluster:\n    server: {url}\ncontexts:\n- name: helmdeck-sim\n  context:\n    cluster: helmdeck-sim\n    user: helmdeck-sim\n    namespace: default\ncurrent-context: helmdeck-sim\nusers:\n- name: helmdeck-sim\n  user:\n    username: helmdeck\n    password: helmdeck-sim\n"
    )
}

fn seed_objects(store: &Store) -> Result<(), ApiError> {
    let kinds = store.kinds();
    let ns = kinds
        .lookup("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces kind missing"))?;
    let node = kinds
        .lookup("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes kind missing"))?;
    let svc = kinds
        .lookup("", "v1", "services")
        .ok_or_else(|| ApiError::internal("services kind missing"))?;
    let sc = kinds
        .lookup("storage.k8s.io", "v1", "storageclasses")
        .ok_or_else(|| ApiError::internal("storageclasses kind missing"))?;
    drop(kinds);
    // The default StorageClass most clusters ship (kind's and minikube's are `standard`):
    // claims without a class are provisioned by it, as there.
    store.create(&sc, json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "helmdeck.io/sim-hostpath", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    }))?;
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let mut o = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        admission::apply_defaults(&ns, &mut o);
        store.create(&ns, o)?;
    }
    let now = clock::now_rfc3339();
    store.create(&node, json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/16"},
        "status": {
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "20000"},
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "20000"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE_NAME}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "containerRuntimeVersion": "helmdeck-sim://1", "operatingSystem": "linux", "architecture": "amd64", "osImage": "helmdeck sim"},
        },
    }))?;
    let mut k = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}], "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"]}});
    admission::apply_defaults(&svc, &mut k);
    store.create(&svc, k)?;
    Ok(())
}

/// Starts the sim on 127.0.0.1 and returns once it answers requests (and the kubeconfig
/// file, if asked for, is written).
pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
    let scenario = opts.scenario.clone().unwrap_or_default();
    let speed = scenario.speed.unwrap_or(opts.speed);
    let seed = scenario.seed.unwrap_or(0x5EED_4E1D);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .map_err(|source| SimError::Bind {
            port: opts.port,
            source,
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| SimError::Bind {
            port: opts.port,
            source,
        })?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let store = Store::new(opts.limits.clone(), seed);
    let (stop, stop_rx) = signal::channel(false);
    let (ctrl_tx, ctrl_rx) = tokio::sync::mpsc::unbounded_channel();
    store.set_controller_feed(ctrl_tx);
    seed_objects(&store).map_err(|e| SimError::Server(e.to_string()))?;
    let cluster = Arc::new(Cluster {
        store: store.clone(),
        clock: SimClock::new(speed),
        faults: ApiFaults::new(&scenario, seed),
        scenario: Arc::new(scenario),
        port,
        shutdown: stop_rx.clone(),
        next_service_ip: std::sync::atomic::AtomicU32::new(0),
        proxy_dice: proxy::ProxyDice::new(seed),
        writes: writelog::WriteLog::default(),
    });
    let tasks = vec![tokio::spawn(controllers::run(
        cluster.clone(),
        ctrl_rx,
        seed,
    ))];
    let app = axum::Router::new()
        .fallback(api::handle)
        .with_state(cluster.clone());
    let mut stop_server = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_server.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(target: "helmdeck::sim", "sim server stopped: {e}");
        }
    });
    wait_until_answering(port).await?;
    let kubeconfig = kubeconfig_for(&url);
    if let Some(path) = &opts.kubeconfig_path {
        std::fs::write(path, &kubeconfig).map_err(|source| SimError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
    }
    tracing::info!(target: "helmdeck::sim", "simulated cluster listening on {url} (speed {speed})");
    Ok(SimHandle {
        url,
        kubeconfig,
        stop,
        server: Some(server),
        tasks,
        cluster,
    })
}

async fn wait_until_answering(port: u16) -> Result<(), SimError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let req = "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut buf = Vec::new();
                if s.read_to_end(&mut buf).await.is_ok() && buf.starts_with(b"HTTP/1.1 200") {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(SimError::Server("the API did not answer /version".into()))
}
