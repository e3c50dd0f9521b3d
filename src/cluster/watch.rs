//! Watches of a namespace's Deployments, Pods and Services, kept in reflector stores and
//! re-listed transparently after errors or `410 Gone` (kube-runtime's watcher with
//! back-off). Whoever waits on a rollout is woken on every change: no polling.

use super::Cluster;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::watch as tokio_watch;

/// Live views of the namespace; dropping it stops the watches.
pub struct NamespaceWatch {
    pub deployments: Store<Deployment>,
    pub pods: Store<Pod>,
    pub services: Store<Service>,
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

fn spawn_reflector<K>(
    api: Api<K>,
    tx: Arc<tokio_watch::Sender<u64>>,
    err_tx: Arc<tokio_watch::Sender<Option<String>>>,
) -> (Store<K>, tokio::task::JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(_) => {
                    tx.send_modify(|n| *n = n.wrapping_add(1));
                    err_tx.send_if_modified(|e| e.take().is_some());
                }
                Err(e) => {
                    tracing::debug!(error = %e, "watch error; re-listing");
                    let msg = e.to_string();
                    err_tx.send_modify(|cur| *cur = Some(msg));
                }
            }
        }
    });
    (store, task)
}

impl NamespaceWatch {
    /// Starts watching and waits until every store has its first full list.
    pub async fn start(c: &Cluster) -> NamespaceWatch {
        let (tx, rx) = tokio_watch::channel(0u64);
        let (etx, erx) = tokio_watch::channel(None);
        let tx = Arc::new(tx);
        let etx = Arc::new(etx);
        let (deployments, t1) = spawn_reflector(
            Api::<Deployment>::namespaced(c.client.clone(), &c.namespace),
            tx.clone(),
            etx.clone(),
        );
        let (pods, t2) = spawn_reflector(
            Api::<Pod>::namespaced(c.client.clone(), &c.namespace),
            tx.clone(),
            etx.clone(),
        );
        let (services, t3) = spawn_reflector(
            Api::<Service>::namespaced(c.client.clone(), &c.namespace),
            tx,
            etx,
        );
        let w = NamespaceWatch {
            deployments,
            pods,
            services,
            changed: rx,
            errors: erx,
            tasks: vec![t1, t2, t3],
        };
        let _ = w.deployments.wait_until_ready().await;
        let _ = w.pods.wait_until_ready().await;
        let _ = w.services.wait_until_ready().await;
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

    pub fn deployment(&self, name: &str) -> Option<Value> {
        self.deployments
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .and_then(|d| serde_json::to_value(d.as_ref()).ok())
    }

    /// Pods whose labels include every `selector` pair.
    pub fn pods_matching(
        &self,
        selector: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Value> {
        self.pods
            .state()
            .iter()
            .filter(|p| {
                let labels = p.metadata.labels.as_ref();
                selector
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            })
            .filter_map(|p| serde_json::to_value(p.as_ref()).ok())
            .collect()
    }

    pub fn service(&self, name: &str) -> Option<Value> {
        self.services
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .and_then(|s| serde_json::to_value(s.as_ref()).ok())
    }
}
