//! From "service X in environment Y (+ one-off overrides)" to what Helm needs: the chart
//! fetched from its source, every values layer read and merged with provenance, secrets
//! resolved (and a redactor for them), and the render request.

use crate::config::{secrets, Config, ConfigError, ValuesFile};
use crate::domain::mask::Redactor;
use crate::domain::values::{
    self, Effective, GitOrigin, Layer, LayerKind, SetOverride, ValuesError,
};
use crate::domain::yaml;
use crate::render::{Capabilities, LookupTarget, RenderError, RenderRequest};
use crate::sources::chart::{self, ChartFiles};
use crate::sources::{self, FetchedChart, Progress, SourceError};
use serde_json::{Map, Value};
use std::path::Path;

pub use crate::domain::act::Overrides;

impl Overrides {
    /// The overrides with the text of every file a `--set-file` names (relative paths from
    /// the current directory, as Helm reads them).
    fn with_set_files(&self) -> Overrides {
        let mut out = self.clone();
        for set in &mut out.sets {
            for path in set.file_paths() {
                let read = std::fs::read(&path)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(|e| format!("open {path}: {}", io_reason(&e)));
                set.files.insert(path, read);
            }
        }
        out
    }
}

/// Go's wording of an I/O error (`no such file or directory`, `permission denied`).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// Everything needed to render a release, and to explain its values.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub release: String,
    pub namespace: String,
    pub chart: FetchedChart,
    pub chart_files: ChartFiles,
    pub effective: Effective,
    pub redactor: Redactor,
    pub warnings: Vec<String>,
    /// The environment's cluster as `.Capabilities` sees it (None: not reached, or an
    /// ad-hoc chart with no cluster).
    pub capabilities: Option<Capabilities>,
    /// Set when the chart calls `lookup` and the cluster answered: Helm renders against it.
    pub lookup: Option<LookupTarget>,
    /// The templates that call `lookup`.
    pub lookup_templates: Vec<String>,
}

impl Prepared {
    pub fn render_request(&self) -> RenderRequest {
        RenderRequest {
            release: self.release.clone(),
            namespace: self.namespace.clone(),
            chart_name: format!("{}-{}", self.chart.name, self.chart.version),
            chart_path: self.chart.path.clone(),
            chart_digest: self.chart.digest.clone(),
            values: self.effective.user_values.clone(),
            include_crds: true,
            is_upgrade: false,
            capabilities: self.capabilities.clone(),
            lookup: self.lookup.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl From<ValuesError> for PrepareError {
    fn from(e: ValuesError) -> Self {
        PrepareError::Config(ConfigError::new(
            None,
            e.to_string(),
            "write overrides like Helm: key=value, a.b=c, list={a,b}, arr[0]=x, escaped\\.dot=v; --set-json key=<JSON>, --set-file key=<path>",
        ))
    }
}

/// Reads a values file into a layer; errors carry `file:line:column`.
pub fn read_values_file(kind: LayerKind, path: &Path, shown: &str) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            Some(shown.to_string()),
            format!("cannot read values file: {e}"),
            "check the path (relative paths in helmdeck.yaml are relative to that file)",
        )
    })?;
    values_layer_from_text(kind, &text, shown)
}

pub fn values_layer_from_text(
    kind: LayerKind,
    text: &str,
    shown: &str,
) -> Result<Layer, ConfigError> {
    let doc = yaml::parse_document(text).map_err(|e| {
        ConfigError::new(
            Some(format!("{shown}:{}", e.pos())),
            format!("invalid YAML in values file: {e}"),
            "fix the YAML syntax (indentation, quotes, colons)",
        )
    })?;
    let map = match doc.value {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(ConfigError::new(
                Some(format!("{shown}:1:1")),
                format!(
                    "a values file must be a map of keys, found {}",
                    type_name(&other)
                ),
                "write `key: value` pairs at the top level",
            ))
        }
    };
    Ok(Layer::new(kind, shown, map).with_positions(doc.positions))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Reads the values files of a service or an environment, in order. Files from git are
/// fetched now (a new commit on the branch is seen at once) and pinned to the commit read.
async fn config_values(
    cfg: &Config,
    kind: LayerKind,
    files: &[ValuesFile],
    progress: Progress<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Layer>, PrepareError> {
    let mut out = Vec::new();
    for f in files {
        match f {
            ValuesFile::Local(p) => {
                let path = cfg.resolve_path(p);
                out.push(read_values_file(kind, &path, &path.display().to_string())?);
            }
            ValuesFile::Git { git } => {
                let (_, repo) = cfg.repository(&git.repository)?;
                let blob = sources::git::read_file(
                    repo,
                    &sources::cache_dir(),
                    git.git_ref.as_deref(),
                    &git.path,
                    progress,
                )
                .await?;
                let origin = GitOrigin {
                    repository: blob.repository,
                    git_ref: blob.git_ref,
                    commit: blob.commit,
                    path: blob.path,
                };
                let mut layer = values_layer_from_text(kind, &blob.text, &origin.label())?;
                layer.git = Some(origin);
                warnings.extend(blob.warnings);
                out.push(layer);
            }
        }
    }
    Ok(out)
}

/// Chart default layers: the chart's values.yaml, then each enabled subchart's under its
/// name (recursively).
fn default_layers(
    chart: &ChartFiles,
    mount: &str,
    enabled: &dyn Fn(&str) -> Option<bool>,
    out: &mut Vec<Layer>,
) {
    let mut l = Layer::new(
        LayerKind::ChartDefaults,
        chart.values_label.clone(),
        match &chart.values.value {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        },
    )
    .with_positions(chart.values.positions.clone());
    l.mount = mount.to_string();
    out.push(l);
    for sub in &chart.subcharts {
        let name = sub.mount_name(chart);
        let sub_mount = yaml::child_pointer(mount, &name);
        let cond_ok = match sub.condition_in(chart) {
            Some(c) => enabled_by(&c, mount, enabled),
            None => true,
        };
        if cond_ok {
            default_layers(sub, &sub_mount, enabled, out);
        }
    }
}

/// Helm's `condition:`: comma-separated values paths; the first that resolves to a boolean
/// decides; none resolving means enabled.
fn enabled_by(condition: &str, mount: &str, lookup: &dyn Fn(&str) -> Option<bool>) -> bool {
    condition
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .find_map(|c| {
            let mut ptr = mount.to_string();
            for seg in values::split_dotted(c) {
                ptr = yaml::child_pointer(&ptr, &seg);
            }
            lookup(&ptr)
        })
        .unwrap_or(true)
}

/// Merges layers as Helm would for `chart`, deciding subchart conditions on the values.
fn merge_for_chart(
    chart: &ChartFiles,
    user: &[Layer],
    sets: &[SetOverride],
) -> Result<Effective, PrepareError> {
    // First pass without subchart defaults, to decide conditions on parent + user values.
    let mut parent_only = Vec::new();
    default_layers(chart, "", &|_| Some(false), &mut parent_only);
    parent_only.truncate(1);
    parent_only.extend(user.iter().cloned());
    let first = values::merge(&parent_only, sets)?;
    let decide = |ptr: &str| first.values.pointer(ptr).and_then(Value::as_bool);
    let mut layers = Vec::new();
    default_layers(chart, "", &decide, &mut layers);
    layers.extend(user.iter().cloned());
    Ok(values::merge(&layers, sets)?)
}

fn build(
    release: String,
    namespace: String,
    fetched: FetchedChart,
    user: Vec<Layer>,
    overrides: &Overrides,
    mut warnings: Vec<String>,
) -> Result<Prepared, PrepareError> {
    let chart_files = chart::load(&fetched.path)?;
    let mut layers = user;
    for f in &overrides.files {
        layers.push(read_values_file(
            LayerKind::Override,
            f,
            &f.display().to_string(),
        )?);
    }
    let effective = merge_for_chart(&chart_files, &layers, &overrides.with_set_files().sets)?;
    warnings.extend(fetched.warnings.iter().cloned());
    warnings.extend(effective.warnings.iter().cloned());
    let redactor = Redactor::new(effective.secret_strings());
    let lookup_templates = chart::lookup_templates(&fetched.path)?;
    Ok(Prepared {
        release,
        namespace,
        chart: fetched,
        chart_files,
        effective,
        redactor,
        warnings,
        capabilities: None,
        lookup: None,
        lookup_templates,
    })
}

/// Prepares service `service` for environment `env`.
pub async fn prepare(
    cfg: &Config,
    service: &str,
    env: &str,
    overrides: &Overrides,
    progress: Progress<'_>,
) -> Result<Prepared, PrepareError> {
    let (_, svc) = cfg.service(service)?;
    let (ei, environment) = cfg.environment(env)?;
    let (_, repo) = cfg.repository(&svc.chart.repository)?;
    let source = sources::open(cfg, repo)?;
    let constraint = svc
        .chart
        .version
        .as_deref()
        .filter(|c| !c.trim().is_empty());
    let fetched = source.fetch(&svc.chart.name, constraint, progress).await?;
    let origin = sources::deps::Origin {
        config: Some(cfg),
        repository: Some(repo),
    };
    let fetched = sources::deps::vendor(&origin, fetched, progress).await?;

    let mut warnings = Vec::new();
    let mut user = config_values(
        cfg,
        LayerKind::Service,
        &svc.values,
        progress,
        &mut warnings,
    )
    .await?;
    user.extend(
        config_values(
            cfg,
            LayerKind::Environment,
            &environment.values,
            progress,
            &mut warnings,
        )
        .await?,
    );
    let (local, cluster) = secrets::resolve_local(cfg, ei, environment)?;
    if let Some(c) = cluster.first() {
        return Err(ConfigError::new(
            Some(cfg.locate(&format!("/environments/{ei}/secrets"))),
            format!(
                "secret `{}` comes from cluster Secret {}/{}, which needs a cluster connection this command does not make",
                c.path, c.name, c.key
            ),
            "give it from an environment variable or a file for render/values/diff",
        )
        .into());
    }
    for s in local {
        let mut l = Layer::new(
            LayerKind::Secret,
            format!("secret {} ({})", s.path, s.source),
            values::map_at_path(&s.path, Value::String(s.value)),
        );
        l.secret = true;
        user.push(l);
    }
    let mut prepared = build(
        svc.release_name().to_string(),
        environment.cluster.namespace.clone(),
        fetched,
        user,
        overrides,
        warnings,
    )?;
    attach_cluster(&mut prepared, &super::cluster_target(cfg, environment), env).await;
    Ok(prepared)
}

/// How long rendering waits for the cluster's version and API list before it renders with
/// Helm's defaults.
const DISCOVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Renders for the environment's cluster: its version and API versions become
/// `.Capabilities` (`--kube-version`, `--api-versions`), and a chart that calls `lookup`
/// is rendered against it (Helm's `--dry-run=server`). Without an answer, Helm's defaults,
/// said in a warning.
async fn attach_cluster(p: &mut Prepared, target: &crate::cluster::ClusterTarget, env: &str) {
    let read = tokio::time::timeout(DISCOVERY_WAIT, async {
        let cluster = crate::cluster::connect(target).await?;
        crate::cluster::capabilities::read(&cluster).await
    })
    .await;
    let why = match read {
        Ok(Ok((kube_version, api_versions))) => {
            p.capabilities = Some(Capabilities {
                kube_version,
                api_versions,
            });
            if !p.lookup_templates.is_empty() {
                p.lookup = Some(LookupTarget {
                    kubeconfig: target.kubeconfig.clone(),
                    context: target.context.clone(),
                });
            }
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer in {} s", DISCOVERY_WAIT.as_secs()),
    };
    p.warnings.push(format!(
        "the cluster of environment `{env}` was not reached ({why}): .Capabilities are Helm's defaults"
    ));
    if let Some(t) = p.lookup_templates.first() {
        p.warnings.push(format!(
            "{t} calls `lookup`, which finds nothing without the cluster: what it keeps from the live objects (a generated password, a certificate) comes out new in this render"
        ));
    }
}

/// Prepares a chart given by path, without a configuration (`render --chart PATH`).
pub async fn prepare_adhoc(
    chart_path: &Path,
    release: &str,
    namespace: &str,
    overrides: &Overrides,
) -> Result<Prepared, PrepareError> {
    if !chart_path.exists() {
        return Err(SourceError::Io {
            path: chart_path.display().to_string(),
            message: "no such chart folder or package".into(),
        }
        .into());
    }
    let (name, version, _, _) = chart::read_meta(chart_path)?;
    let fetched = FetchedChart {
        repository: "(path)".into(),
        name,
        version,
        path: chart_path.to_path_buf(),
        digest: chart::digest(chart_path)?,
        from_cache: false,
        warnings: Vec::new(),
        revision: None,
        dependencies: Vec::new(),
    };
    let origin = sources::deps::Origin {
        config: None,
        repository: None,
    };
    let fetched = sources::deps::vendor(&origin, fetched, sources::no_progress()).await?;
    build(
        release.to_string(),
        namespace.to_string(),
        fetched,
        Vec::new(),
        overrides,
        Vec::new(),
    )
}

/// The configured services and environments, for listings and completion.
pub fn names(cfg: &Config) -> (Vec<String>, Vec<String>) {
    (
        cfg.file.services.iter().map(|s| s.name.clone()).collect(),
        cfg.file
            .environments
            .iter()
            .map(|e| e.name.clone())
            .collect(),
    )
}
