//! Rendering charts with Helm, client-only: `helm template RELEASE CHART --namespace NS -f -`
//! with helmdeck's merged values on stdin (so secrets never touch the disk), then parsing
//! the output into objects. Also finds the `helm` binary and explains Helm's errors.

use crate::domain::manifest::{self, ManifestError, Manifests};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("no Helm found (tried {tried})")]
    NoHelm { tried: String },
    #[error("cannot run {helm}: {message}")]
    Spawn { helm: String, message: String },
    #[error("chart {chart}: template {template}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        chart: String,
        template: String,
        line: Option<usize>,
        message: String,
    },
    #[error("helm template failed for chart {chart}: {message}")]
    Helm { chart: String, message: String },
    #[error("chart {chart}: {source}")]
    Manifest {
        chart: String,
        #[source]
        source: ManifestError,
    },
}

impl RenderError {
    /// What the user should do next.
    pub fn hint(&self) -> String {
        match self {
            RenderError::NoHelm { .. } => "install Helm (https://helm.sh/docs/intro/install/), or run `tools/install-helm-engine.sh` for a project-local engine, then set `helm.binary` in helmdeck.yaml or $HELMDECK_HELM".into(),
            RenderError::Spawn { .. } => "check that the Helm binary exists and is executable (`helm.binary` or $HELMDECK_HELM)".into(),
            RenderError::Template { template, line, .. } => match line {
                Some(l) => format!("fix {template} near line {l}, or the values it reads"),
                None => format!("fix {template}, or the values it reads"),
            },
            RenderError::Helm { .. } => "check the chart and values with `helm template` directly".into(),
            RenderError::Manifest { .. } => "every object a chart renders needs apiVersion, kind and metadata.name: fix the template".into(),
        }
    }
}

/// The Helm binary to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helm {
    pub path: PathBuf,
}

impl Helm {
    /// `configured` (helm.binary in helmdeck.yaml) wins, then `$HELMDECK_HELM`, then `helm`
    /// on PATH.
    pub fn locate(configured: Option<&str>) -> Result<Helm, RenderError> {
        let mut tried = Vec::new();
        let candidates = configured
            .map(|s| ("helm.binary", s.to_string()))
            .into_iter()
            .chain(
                std::env::var("HELMDECK_HELM")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(|s| ("$HELMDECK_HELM", s)),
            );
        for (origin, c) in candidates {
            match find_executable(&c) {
                Some(p) => return Ok(Helm { path: p }),
                None => tried.push(format!("{origin}={c}")),
            }
        }
        if let Some(p) = find_executable("helm") {
            return Ok(Helm { path: p });
        }
        tried.push("`helm` on PATH".into());
        Err(RenderError::NoHelm {
            tried: tried.join(", "),
        })
    }

    /// `helm version --short`.
    pub async fn version(&self) -> Result<String, RenderError> {
        let out = tokio::process::Command::new(&self.path)
            .args(["version", "--short"])
            .output()
            .await
            .map_err(|e| self.spawn_error(e))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn spawn_error(&self, e: std::io::Error) -> RenderError {
        RenderError::Spawn {
            helm: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Runs `helm template` and returns its raw output.
    pub async fn template(&self, req: &RenderRequest) -> Result<String, RenderError> {
        let mut cmd = tokio::process::Command::new(&self.path);
        cmd.arg("template")
            .arg(&req.release)
            .arg(&req.chart_path)
            .arg("--namespace")
            .arg(&req.namespace)
            .arg("-f")
            .arg("-");
        if req.include_crds {
            cmd.arg("--include-crds");
        }
        if req.is_upgrade {
            cmd.arg("--is-upgrade");
        }
        if let Some(c) = &req.capabilities {
            cmd.arg("--kube-version").arg(&c.kube_version);
            if !c.api_versions.is_empty() {
                cmd.arg("--api-versions").arg(c.api_versions.join(","));
            }
        }
        if let Some(l) = &req.lookup {
            // Helm's server-side dry-run for `template`: `lookup` reads the live cluster.
            cmd.arg("--dry-run=server");
            if let Some(k) = &l.kubeconfig {
                cmd.arg("--kubeconfig").arg(k);
            }
            if let Some(c) = &l.context {
                cmd.arg("--kube-context").arg(c);
            }
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| self.spawn_error(e))?;
        let values = serde_json::to_vec(&req.values).unwrap_or_else(|_| b"{}".to_vec());
        if let Some(mut stdin) = child.stdin.take() {
            // JSON is YAML; a broken pipe here means Helm exited early and says why on stderr.
            let _ = stdin.write_all(&values).await;
            drop(stdin);
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| self.spawn_error(e))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(explain_helm_error(&req.chart_name, &stderr))
    }
}

fn find_executable(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.components().count() > 1 || p.is_absolute() {
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|c| is_executable(c))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Turns Helm's stderr into a typed error naming the template and line when Helm gives them
/// (`template: web/templates/x.yaml:12:3: executing …`, `parse error at (web/templates/x.yaml:7): …`,
/// `YAML parse error on web/templates/x.yaml: …`).
pub fn explain_helm_error(chart: &str, stderr: &str) -> RenderError {
    let msg: String = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("warning: skipped value"))
        .map(|l| {
            l.trim_start_matches("Error: ")
                .trim_start_matches("error: ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let msg = if msg.is_empty() {
        "helm exited with an error and printed nothing".to_string()
    } else {
        msg
    };
    if let Some((template, line)) = find_template_ref(&msg) {
        return RenderError::Template {
            chart: chart.to_string(),
            template,
            line,
            message: msg,
        };
    }
    RenderError::Helm {
        chart: chart.to_string(),
        message: msg,
    }
}

fn find_template_ref(msg: &str) -> Option<(String, Option<usize>)> {
    // Look for "<chart>/templates/<file>[:line[:col]]" or "(<path>:line)".
    for (i, _) in msg.match_indices("/templates/") {
        let start = msg[..i]
            .rfind(|c: char| c.is_whitespace() || c == '(' || c == '"')
            .map(|s| s + 1)
            .unwrap_or(0);
        let rest = &msg[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ')' || c == '"' || c == ',')
            .unwrap_or(rest.len());
        let token = rest[..end].trim_end_matches(':');
        let mut parts = token.splitn(3, ':');
        let path = parts.next()?.to_string();
        let line = parts.next().and_then(|l| l.parse().ok());
        if path.ends_with(".yaml")
            || path.ends_with(".tpl")
            || path.ends_with(".yml")
            || path.ends_with(".txt")
            || path.ends_with(".json")
        {
            return Some((path, line));
        }
    }
    None
}

/// Everything that determines a render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub release: String,
    pub namespace: String,
    pub chart_name: String,
    pub chart_path: PathBuf,
    /// Digest of the chart's content; with the values it keys the render cache.
    pub chart_digest: String,
    /// The user-supplied values (everything but chart defaults), handed to Helm on stdin.
    pub values: Value,
    pub include_crds: bool,
    pub is_upgrade: bool,
    /// The target cluster's version and API versions, so `.Capabilities` is the cluster's
    /// (None: Helm's defaults, when no cluster is known or it cannot be reached).
    pub capabilities: Option<Capabilities>,
    /// For a chart whose templates call `lookup`: the cluster the template engine reads
    /// (Helm's `--dry-run=server`). None renders client-only, where `lookup` finds nothing.
    pub lookup: Option<LookupTarget>,
}

/// What `.Capabilities` says of a cluster (from its `/version` and discovery).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub kube_version: String,
    /// `group/version` and `group/version/Kind`, as Helm's `GetVersionSet` lists them.
    pub api_versions: Vec<String>,
}

/// The cluster Helm reads for `lookup`: a kubeconfig and context, as the environment names
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl RenderRequest {
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.release.as_bytes(),
            self.namespace.as_bytes(),
            self.chart_digest.as_bytes(),
            &[self.include_crds as u8, self.is_upgrade as u8],
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(serde_json::to_vec(&self.values).unwrap_or_default());
        h.update(serde_json::to_vec(&self.capabilities).unwrap_or_default());
        hex::encode(h.finalize())
    }
}

/// A render: Helm's text and the objects parsed from it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: Arc<String>,
    pub manifests: Manifests,
    pub from_cache: bool,
}

/// Renders charts, remembering results in memory by chart digest + values hash, so that a
/// repeated render with unchanged inputs costs no Helm process. Rendered text can hold
/// secrets, so it is never written to disk.
#[derive(Debug, Clone)]
pub struct Renderer {
    pub helm: Helm,
    cache: Arc<Mutex<HashMap<String, Arc<String>>>>,
}

impl Renderer {
    pub fn new(helm: Helm) -> Self {
        Renderer {
            helm,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn render(&self, req: &RenderRequest) -> Result<Rendered, RenderError> {
        let key = req.cache_key();
        // What `lookup` reads can change under the same inputs: never from the cache.
        let cached = if req.lookup.is_some() {
            None
        } else {
            self.cache.lock().ok().and_then(|c| c.get(&key).cloned())
        };
        let (text, from_cache) = match cached {
            Some(t) => (t, true),
            None => {
                let t = Arc::new(self.helm.template(req).await?);
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() > 256 {
                        c.clear();
                    }
                    c.insert(key, t.clone());
                }
                (t, false)
            }
        };
        let manifests = manifest::parse_stream(&text, &req.namespace).map_err(|source| {
            RenderError::Manifest {
                chart: req.chart_name.clone(),
                source,
            }
        })?;
        Ok(Rendered {
            text,
            manifests,
            from_cache,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_errors_name_file_and_line() {
        let e = explain_helm_error(
            "web",
            "Error: template: web/templates/deployment.yaml:12:20: executing \"web/templates/deployment.yaml\" at <.Values.nope.x>: nil pointer evaluating interface {}.x\n",
        );
        match e {
            RenderError::Template { template, line, .. } => {
                assert_eq!(template, "web/templates/deployment.yaml");
                assert_eq!(line, Some(12));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let e = explain_helm_error(
            "web",
            "Error: parse error at (web/templates/cm.yaml:7): function \"nope\" not defined\n",
        );
        assert!(
            matches!(e, RenderError::Template { line: Some(7), .. }),
            "{e:?}"
        );
    }

    #[test]
    fn other_errors_keep_helms_message() {
        let e = explain_helm_error(
            "web",
            "Error: values don't meet the specifications of the schema(s)\n",
        );
        assert!(matches!(e, RenderError::Helm { .. }));
        assert!(e.to_string().contains("schema"));
    }
}
