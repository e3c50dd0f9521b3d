//! Resolving an environment's secrets from environment variables and files. Values are only
//! ever held in memory and handed to Helm on stdin; callers mask them in every output.

use super::{Config, ConfigError, Environment, SecretSource};

/// One secret value and a label that says where it came from (never the value).
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedSecret {
    pub path: String,
    pub source: String,
    pub value: String,
}

impl std::fmt::Debug for ResolvedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSecret")
            .field("path", &self.path)
            .field("source", &self.source)
            .field("value", &"********")
            .finish()
    }
}

/// A secret held in an existing cluster Secret, to be read by a cluster client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSecret {
    pub path: String,
    pub name: String,
    pub key: String,
}

/// Secrets from env and files are read now; those in cluster Secrets are returned for the
/// caller to fetch with a cluster client.
pub fn resolve_local(
    cfg: &Config,
    env_index: usize,
    env: &Environment,
) -> Result<(Vec<ResolvedSecret>, Vec<ClusterSecret>), ConfigError> {
    let mut local = Vec::new();
    let mut cluster = Vec::new();
    for (j, s) in env.secrets.iter().enumerate() {
        let at = cfg.locate(&format!("/environments/{env_index}/secrets/{j}"));
        match &s.from {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => local.push(ResolvedSecret {
                    path: s.path.clone(),
                    source: format!("env {var}"),
                    value: v,
                }),
                Err(_) => {
                    return Err(ConfigError::new(
                        Some(at),
                        format!(
                            "secret `{}` of environment `{}` comes from ${var}, which is not set",
                            s.path, env.name
                        ),
                        format!("export {var}=… before running helmdeck"),
                    ))
                }
            },
            SecretSource::File(p) => {
                let path = cfg.resolve_path(p);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::new(
                        Some(at.clone()),
                        format!("cannot read secret file `{}`: {e}", path.display()),
                        "check the path and its permissions",
                    )
                })?;
                let value = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text)
                    .to_string();
                local.push(ResolvedSecret {
                    path: s.path.clone(),
                    source: format!("file {p}"),
                    value,
                });
            }
            SecretSource::Secret(r) => cluster.push(ClusterSecret {
                path: s.path.clone(),
                name: r.name.clone(),
                key: r.key.clone(),
            }),
        }
    }
    Ok((local, cluster))
}
