//! An environment's secrets, read from where teams keep them: environment variables, files,
//! programs (Vault, cloud CLIs — run without a shell, in the folder of helmdeck.yaml, their
//! output cached for this process only) and cluster Secrets (through the environment's
//! cluster client). Values stay in memory; every output goes through a redactor built from
//! them, and nothing here logs or prints a value.

use super::prepare::PrepareError;
use crate::cluster::{self, Cluster, ClusterError};
use crate::config::{CommandSecret, Config, ConfigError, Environment, SecretSource};
use crate::domain::mask::Redactor;
use crate::domain::secret::{SecretOrigin, SecretValue};
use crate::domain::values::{self, LayerKind};
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The cluster Secrets (namespace, name) an environment's secrets read: what a permission
/// preflight needs `get secrets` for.
pub fn cluster_reads(env: &Environment) -> Vec<(String, String)> {
    env.secrets
        .iter()
        .filter_map(|s| match &s.from {
            SecretSource::Secret(r) => Some((
                r.namespace
                    .clone()
                    .unwrap_or_else(|| env.cluster.namespace.clone()),
                r.name.clone(),
            )),
            _ => None,
        })
        .collect()
}

/// JSON Pointer of a dotted values path (`database.password` → `/database/password`).
pub fn pointer_of(path: &str) -> String {
    values::split_dotted(path)
        .iter()
        .fold(String::new(), |p, seg| {
            crate::domain::yaml::child_pointer(&p, seg)
        })
}

/// A map holding `value` at a JSON Pointer.
pub fn map_at(pointer: &str, value: Value) -> serde_json::Map<String, Value> {
    let mut v = value;
    for seg in crate::domain::yaml::pointer_segments(pointer).iter().rev() {
        let mut m = serde_json::Map::new();
        m.insert(seg.clone(), v);
        v = Value::Object(m);
    }
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// Reads every secret of the environment (`secrets:` in helmdeck.yaml). Cluster Secrets are
/// read through `cluster` when given, else through a client opened here for the purpose.
pub async fn resolve(
    cfg: &Config,
    env_index: usize,
    env: &Environment,
    cluster: Option<&Cluster>,
) -> Result<Vec<SecretValue>, PrepareError> {
    let mut out: Vec<SecretValue> = Vec::new();
    let mut opened: Option<Cluster> = None;
    for (j, s) in env.secrets.iter().enumerate() {
        let at = cfg.locate(&format!("/environments/{env_index}/secrets/{j}"));
        let what = format!("secret `{}` of environment `{}`", s.path, env.name);
        let (origin, value) = match &s.from {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => (SecretOrigin::Env { var: var.clone() }, v),
                Err(_) => {
                    return Err(ConfigError::new(
                        Some(at),
                        format!("{what} comes from ${var}, which is not set"),
                        format!("export {var}=… before running helmdeck"),
                    )
                    .into())
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
                (SecretOrigin::File { file: p.clone() }, strip_newline(&text))
            }
            SecretSource::Command(c) => {
                let known = Redactor::new(out.iter().map(|s| s.value.clone()));
                let v = run_command(cfg, c, &what, &at, &known).await?;
                (
                    SecretOrigin::Command {
                        command: c.argv.clone(),
                    },
                    v,
                )
            }
            SecretSource::Secret(r) => {
                let client = match cluster {
                    Some(c) => c,
                    None => {
                        if opened.is_none() {
                            opened =
                                Some(cluster::connect(&super::cluster_target(cfg, env)).await?);
                        }
                        opened.as_ref().ok_or_else(|| ClusterError::Unreachable {
                            server: env.name.clone(),
                            message: "no cluster client".into(),
                        })?
                    }
                };
                let namespace = r
                    .namespace
                    .clone()
                    .unwrap_or_else(|| env.cluster.namespace.clone());
                let v =
                    read_cluster_secret(client, &namespace, &r.name, &r.key, &what, &at).await?;
                (
                    SecretOrigin::Cluster {
                        namespace,
                        name: r.name.clone(),
                        key: r.key.clone(),
                    },
                    v,
                )
            }
        };
        out.push(SecretValue {
            pointer: pointer_of(&s.path),
            layer: LayerKind::Secret,
            origin,
            value,
        });
    }
    Ok(out)
}

/// A redactor for every secret value a release of the session's service reads: for what
/// runs beside the values (gate commands, pod logs, progress and errors). A source that
/// cannot be read now contributes nothing (it could not have reached any output either).
pub async fn redactor_for(s: &super::Session) -> Redactor {
    let values =
        match super::prepare::secret_values(&s.cfg, &s.service.name, &s.env.name, Some(&s.cluster))
            .await
        {
            Ok(v) => v,
            Err(_) => resolve_all(&s.cfg, s.env_index, &s.env, Some(&s.cluster))
                .await
                .unwrap_or_default(),
        };
    Redactor::new(
        values
            .into_iter()
            .map(|v| v.value)
            .filter(|v| v != "true" && v != "false"),
    )
}

/// Every configured secret, each read on its own so that one failing source does not hide
/// the others.
async fn resolve_all(
    cfg: &Config,
    env_index: usize,
    env: &Environment,
    cluster: Option<&Cluster>,
) -> Result<Vec<SecretValue>, PrepareError> {
    let mut out = Vec::new();
    for (j, _) in env.secrets.iter().enumerate() {
        let mut one = env.clone();
        one.secrets = vec![env.secrets[j].clone()];
        if let Ok(v) = resolve(cfg, env_index, &one, cluster).await {
            out.extend(v);
        }
    }
    Ok(out)
}

fn strip_newline(text: &str) -> String {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
        .to_string()
}

/// One key of a cluster Secret, decoded; a missing Secret or key is bad input naming both.
async fn read_cluster_secret(
    client: &Cluster,
    namespace: &str,
    name: &str,
    key: &str,
    what: &str,
    at: &str,
) -> Result<String, PrepareError> {
    let secret = match client.get("v1", "Secret", Some(namespace), name).await {
        Ok(s) => s,
        Err(ClusterError::Forbidden { message }) => {
            return Err(ConfigError::new(
                Some(at.to_string()),
                format!("{what}: reading Secret {namespace}/{name} is forbidden: {message}"),
                format!("the kubeconfig's user needs `get secrets` in namespace {namespace}"),
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let Some(secret) = secret else {
        return Err(ConfigError::new(
            Some(at.to_string()),
            format!("{what}: Secret {namespace}/{name} (key `{key}`) does not exist"),
            format!("create it (kubectl -n {namespace} create secret generic {name} --from-literal={key}=…) or fix `from.secret`"),
        )
        .into());
    };
    let data = secret
        .pointer(&crate::domain::yaml::child_pointer("/data", key))
        .and_then(Value::as_str);
    let Some(encoded) = data else {
        let keys: Vec<String> = secret
            .get("data")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        return Err(ConfigError::new(
            Some(at.to_string()),
            format!("{what}: Secret {namespace}/{name} has no key `{key}`"),
            if keys.is_empty() {
                "the Secret holds no data; add the key or fix `from.secret.key`".to_string()
            } else {
                format!("its keys: {}; fix `from.secret.key`", keys.join(", "))
            },
        )
        .into());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| {
            ConfigError::new(
                Some(at.to_string()),
                format!("{what}: key `{key}` of Secret {namespace}/{name} is not valid base64"),
                "the API server answered something that is not a Secret's data",
            )
        })?;
    String::from_utf8(bytes).map_err(|_| {
        ConfigError::new(
            Some(at.to_string()),
            format!("{what}: key `{key}` of Secret {namespace}/{name} is not UTF-8 text"),
            "values are text: store the value base64-encoded in the Secret and decode it in the chart",
        )
        .into()
    })
}

/// Outputs of secret commands already run by this process, by folder and argv.
type CommandCache = Mutex<HashMap<(PathBuf, Vec<String>), String>>;

fn command_cache() -> &'static CommandCache {
    static CACHE: OnceLock<CommandCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The last `max` bytes of `text`, cut on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].trim()
}

/// Runs a secret's command without a shell in the folder of helmdeck.yaml; its standard
/// output without the final newline is the value.
async fn run_command(
    cfg: &Config,
    c: &CommandSecret,
    what: &str,
    at: &str,
    known: &Redactor,
) -> Result<String, PrepareError> {
    let dir = cfg.dir();
    let key = (dir.clone(), c.argv.clone());
    if let Some(v) = command_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return Ok(v.clone());
    }
    let shown = c.argv.join(" ");
    let program = &c.argv[0];
    // A path (`./get-token.sh`) is relative to helmdeck.yaml; a bare name is looked up on
    // PATH. Made absolute so that no lookup can take `get-token.sh` from PATH instead.
    let program = if program.contains('/') {
        let p = cfg.resolve_path(program);
        if p.is_absolute() {
            p
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    } else {
        PathBuf::from(program)
    };
    let fail = |message: String, hint: &str| -> PrepareError {
        ConfigError::new(Some(at.to_string()), message, hint.to_string()).into()
    };
    let child = tokio::process::Command::new(&program)
        .args(&c.argv[1..])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            fail(
                format!("{what}: cannot run `{shown}`: {e}"),
                "install the program or fix `from.command` (it runs without a shell, in the folder of helmdeck.yaml)",
            )
        })?;
    let out =
        match tokio::time::timeout(c.timeout.0, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                return Err(fail(
                    format!("{what}: `{shown}` failed: {e}"),
                    "run the command by hand to see what it needs",
                ))
            }
            Err(_) => return Err(fail(
                format!("{what}: `{shown}` did not finish within {}", c.timeout),
                "check that it does not wait for input (a login prompt), or raise `from.timeout`",
            )),
        };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        // What it printed may hold the value (or part of it): blank it, and every secret
        // read so far, in the error.
        let red = known.merged(&Redactor::new(
            stdout
                .lines()
                .map(str::to_string)
                .chain(std::iter::once(stdout.clone())),
        ));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = red.redact(tail(&stderr, 400)).into_owned();
        return Err(fail(
            format!(
                "{what}: `{shown}` exited with {}{}",
                out.status
                    .code()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "a signal".into()),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            ),
            "run the command by hand (logged in?) and fix what it says",
        ));
    }
    let value = strip_newline(&stdout);
    command_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, value.clone());
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dotted_path_becomes_a_pointer() {
        assert_eq!(pointer_of("database.password"), "/database/password");
        assert_eq!(pointer_of("a\\.b.c"), "/a.b/c");
    }

    #[test]
    fn a_tail_is_cut_on_a_character_boundary() {
        assert_eq!(tail("ééé", 3), "é");
        assert_eq!(tail("abc", 10), "abc");
    }
}
