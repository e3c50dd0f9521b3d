//! Watches of a release's objects of any kind (StatefulSets, DaemonSets, Jobs, claims,
//! CRDs, custom resources): one kube-runtime watcher per kind, filtered by the release's
//! label, keeping each object's JSON without `managedFields`. A rollout's health wait is
//! woken by their changes as it is by the namespace's pods and Deployments.

use super::{Cluster, ClusterError};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::discovery::Scope;
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch as tokio_watch;

type Objects = Arc<RwLock<HashMap<(String, String), Value>>>;

/// Live copies of the watched objects, by (kind, name); dropping it stops the watches.
pub struct ObjectsWatch {
    objects: Objects,
    changed: tokio_watch::Receiver<u64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ObjectsWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn kept(o: DynamicObject) -> Option<(String, Value)> {
    let name = o.metadata.name.clone()?;
    let mut v = serde_json::to_value(o).ok()?;
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    Some((name, v))
}

impl ObjectsWatch {
    /// Watches every `(apiVersion, kind)` of `kinds` in the release's namespace (cluster-wide
    /// for cluster-scoped kinds) whose objects match `selector`, and waits for the first
    /// full list of each. A kind the cluster does not serve is skipped.
    pub async fn start(
        c: &Cluster,
        kinds: &[(String, String)],
        selector: &str,
    ) -> Result<ObjectsWatch, ClusterError> {
        let objects: Objects = Arc::default();
        let (tx, rx) = tokio_watch::channel(0u64);
        let tx = Arc::new(tx);
        let mut tasks = Vec::new();
        let mut ready = Vec::new();
        for (api_version, kind) in kinds {
            let (ar, caps) = match c.resource(api_version, kind).await {
                Ok(r) => r,
                Err(ClusterError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e),
            };
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster => Api::all_with(c.client.clone(), &ar),
                Scope::Namespaced => Api::namespaced_with(c.client.clone(), &c.namespace, &ar),
            };
            let cfg = watcher::Config::default().labels(selector);
            let stream = watcher(api, cfg).default_backoff();
            let (ready_tx, ready_rx) = tokio_watch::channel(false);
            ready.push(ready_rx);
            let objects = Arc::clone(&objects);
            let tx = Arc::clone(&tx);
            let kind = kind.clone();
            tasks.push(tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                let mut seen: Vec<String> = Vec::new();
                while let Some(ev) = stream.next().await {
                    let Ok(ev) = ev else { continue };
                    {
                        let mut m = objects.write().unwrap_or_else(|p| p.into_inner());
                        match ev {
                            watcher::Event::Init => seen.clear(),
                            watcher::Event::InitApply(o) => {
                                if let Some((name, v)) = kept(o) {
                                    seen.push(name.clone());
                                    m.insert((kind.clone(), name), v);
                                }
                            }
                            watcher::Event::InitDone => {
                                m.retain(|(k, n), _| *k != kind || seen.contains(n));
                                seen.clear();
                                ready_tx.send_replace(true);
                            }
                            watcher::Event::Apply(o) => {
                                if let Some((name, v)) = kept(o) {
                                    m.insert((kind.clone(), name), v);
                                }
                            }
                            watcher::Event::Delete(o) => {
                                if let Some(name) = o.metadata.name {
                                    m.remove(&(kind.clone(), name));
                                }
                            }
                        }
                    }
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                }
            }));
        }
        for mut r in ready {
            let _ = r.wait_for(|r| *r).await;
        }
        Ok(ObjectsWatch {
            objects,
            changed: rx,
            tasks,
        })
    }

    /// The watched copy of an object.
    pub fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let m = self.objects.read().unwrap_or_else(|p| p.into_inner());
        m.get(&(kind.to_string(), name.to_string())).cloned()
    }

    /// Waits for the next change of a watched object (or `timeout`).
    pub async fn changed(&mut self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.changed.changed()).await;
    }
}
