//! Executes what the user asked for against sources, Helm and the cluster, and reports
//! through typed results and progress events. Shared by the CLI and the TUI: every decision
//! lives here or in `domain`, never in a face.

pub mod audit;
pub mod drive;
pub mod gates;
pub mod inspect;
pub mod objects;
pub mod prepare;
pub mod release;

use crate::cluster::lease::Operator;
use crate::cluster::{self, Cluster, ClusterError, ClusterTarget};
use crate::config::{Config, ConfigError, Environment, Service};
use crate::domain::run::RunError;
use prepare::PrepareError;

/// Anything that stops an engine action, with what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{message}")]
    Input { message: String, hint: String },
}

impl From<crate::domain::record::RecordError> for EngineError {
    fn from(e: crate::domain::record::RecordError) -> Self {
        EngineError::Cluster(ClusterError::Record(e.to_string()))
    }
}

impl From<ConfigError> for EngineError {
    fn from(e: ConfigError) -> Self {
        EngineError::Prepare(PrepareError::Config(e))
    }
}

impl EngineError {
    pub fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        EngineError::Input {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// A service in an environment, with its cluster connected.
#[derive(Debug, Clone)]
pub struct Session {
    pub cfg: Config,
    pub service: Service,
    pub env: Environment,
    pub env_index: usize,
    pub cluster: Cluster,
    pub operator: Operator,
}

impl Session {
    pub async fn open(cfg: &Config, service: &str, env: &str) -> Result<Session, EngineError> {
        let (_, svc) = cfg.service(service)?;
        let (ei, e) = cfg.environment(env)?;
        let target = ClusterTarget {
            kubeconfig: e.cluster.kubeconfig.as_deref().map(|p| cfg.resolve_path(p)),
            context: e.cluster.context.clone(),
            namespace: e.cluster.namespace.clone(),
        };
        let timeout = e
            .cluster
            .timeout
            .map(|t| t.as_duration())
            .unwrap_or(cluster::REQUEST_TIMEOUT);
        let cluster = cluster::connect_with(&target, timeout).await?;
        Ok(Session {
            cfg: cfg.clone(),
            service: svc.clone(),
            env: e.clone(),
            env_index: ei,
            cluster,
            operator: Operator::current(),
        })
    }

    pub fn release(&self) -> &str {
        self.service.release_name()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 time for records.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}
