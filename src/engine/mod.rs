//! Executes what the user asked for against sources, Helm and the cluster, and reports
//! through typed results and progress events. Shared by the CLI and the TUI: every decision
//! lives here or in `domain`, never in a face.

pub mod audit;
pub mod drive;
pub mod gates;
pub mod health;
pub mod hooks;
pub mod inspect;
pub mod lifecycle;
pub mod objects;
pub mod prepare;
pub mod release;
pub mod sessions;

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
    pub cfg: std::sync::Arc<Config>,
    pub service: Service,
    pub env: Environment,
    pub env_index: usize,
    pub cluster: Cluster,
    pub operator: Operator,
}

impl Session {
    /// Connects to the environment's cluster (a client of its own; the console shares one
    /// per environment through [`sessions::Sessions`]).
    pub async fn open(cfg: &Config, service: &str, env: &str) -> Result<Session, EngineError> {
        // Names are checked before connecting.
        cfg.service(service)?;
        let (_, e) = cfg.environment(env)?;
        let cluster = cluster::connect(&cluster_target(cfg, e)).await?;
        let cfg = std::sync::Arc::new(cfg.clone());
        Session::on(cfg, service, env, cluster, Operator::current())
    }

    /// A session on a cluster already connected.
    pub fn on(
        cfg: std::sync::Arc<Config>,
        service: &str,
        env: &str,
        cluster: Cluster,
        operator: Operator,
    ) -> Result<Session, EngineError> {
        let (_, svc) = cfg.service(service)?;
        let (ei, e) = cfg.environment(env)?;
        let (service, env) = (svc.clone(), e.clone());
        Ok(Session {
            cfg,
            service,
            env,
            env_index: ei,
            cluster,
            operator,
        })
    }

    pub fn release(&self) -> &str {
        self.service.release_name()
    }
}

/// Where an environment's cluster is, from its configuration.
pub fn cluster_target(cfg: &Config, e: &Environment) -> ClusterTarget {
    ClusterTarget {
        kubeconfig: e.cluster.kubeconfig.as_deref().map(|p| cfg.resolve_path(p)),
        context: e.cluster.context.clone(),
        namespace: e.cluster.namespace.clone(),
        timeout: e.cluster.timeout.map(|t| t.as_duration()),
    }
}

/// The configured Helm (`helm.binary`, a path relative to helmdeck.yaml or a name on
/// PATH), else `$HELMDECK_HELM`, else `helm` on PATH.
pub fn locate_helm(cfg: &Config) -> Result<crate::render::Helm, crate::render::RenderError> {
    let configured = cfg.file.helm.binary.as_deref().map(|b| {
        if b.contains('/') {
            cfg.resolve_path(b).display().to_string()
        } else {
            b.to_string()
        }
    });
    crate::render::Helm::locate(configured.as_deref())
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

/// A redactor for every secret value of the session's environment: those from variables
/// and files, and those read from cluster Secrets.
pub async fn environment_redactor(s: &Session) -> Result<crate::domain::mask::Redactor, String> {
    use base64::Engine as _;
    let (local, in_cluster) = crate::config::secrets::resolve_local(&s.cfg, s.env_index, &s.env)
        .map_err(|e| e.to_string())?;
    let mut values: Vec<String> = local.into_iter().map(|r| r.value).collect();
    for c in in_cluster {
        let secret = s
            .cluster
            .get("v1", "Secret", None, &c.name)
            .await
            .map_err(|e| format!("cannot read Secret {}: {e}", c.name))?;
        if let Some(v) = secret
            .as_ref()
            .and_then(|x| x.pointer(&crate::domain::yaml::child_pointer("/data", &c.key)))
            .and_then(serde_json::Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
        {
            values.push(v);
        }
    }
    Ok(crate::domain::mask::Redactor::new(values))
}
