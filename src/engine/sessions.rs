//! One cluster client per environment for a long-lived process (the console, the agent):
//! opened on first use, shared by every job on that environment (its discovery cache too),
//! and opened again when the API server stops accepting its credentials.
//!
//! Credentials that expire are kube-rs's to refresh while the client lives: an exec plugin
//! that states an expiry is re-run shortly before it (on the blocking pool), a `tokenFile`
//! is re-read every minute. What kube-rs cannot know — a static token or certificate
//! rotated in the kubeconfig, an exec token without an expiry — shows as `401
//! Unauthorized`; [`Sessions::settle`] then drops the client, and the next request reads
//! the kubeconfig again.

use super::{cluster_target, EngineError, Session};
use crate::cluster::lease::Operator;
use crate::cluster::{self, Cluster, ClusterError};
use crate::config::Config;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The clients of a process, one per environment.
#[derive(Clone)]
pub struct Sessions {
    cfg: Arc<Config>,
    operator: Operator,
    clusters: Arc<Mutex<HashMap<String, Arc<OnceCell<Cluster>>>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(cfg: Config) -> Sessions {
        Sessions {
            cfg: Arc::new(cfg),
            operator: Operator::current(),
            clusters: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    fn cell(&self, env: &str) -> Arc<OnceCell<Cluster>> {
        let mut m = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(env.to_string()).or_default().clone()
    }

    /// The environment's cluster: the shared client, connected on first use (concurrent
    /// first uses wait for one connection). A failed connection is not kept: the next use
    /// tries again.
    pub async fn cluster(&self, env: &str) -> Result<Cluster, EngineError> {
        let (_, e) = self.cfg.environment(env)?;
        let target = cluster_target(&self.cfg, e);
        let cell = self.cell(env);
        let c = cell
            .get_or_try_init(|| async { cluster::connect(&target).await })
            .await?;
        Ok(c.clone())
    }

    /// A session of `service` in `env` on the environment's shared client.
    pub async fn open(&self, service: &str, env: &str) -> Result<Session, EngineError> {
        self.cfg.service(service)?;
        let cluster = self.cluster(env).await?;
        Session::on(
            self.cfg.clone(),
            service,
            env,
            cluster,
            self.operator.clone(),
        )
    }

    /// Drops the environment's client: the next use connects anew, reading the kubeconfig.
    pub fn forget(&self, env: &str) {
        let mut m = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(env);
    }

    /// Looks at an engine result on `env`: credentials the API server refused drop the
    /// client (a rotated token or certificate is read from the kubeconfig next time).
    pub fn settle<T>(&self, env: &str, result: &Result<T, EngineError>) {
        if let Err(EngineError::Cluster(ClusterError::Api { code: 401, .. })) = result {
            tracing::info!(env, "credentials refused (401): the client is opened anew");
            self.forget(env);
        }
    }

    /// Whether the environment's client is open (for tests and the console's header).
    pub fn is_open(&self, env: &str) -> bool {
        let m = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        m.get(env).is_some_and(|c| c.initialized())
    }
}
