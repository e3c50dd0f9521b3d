//! The shape of `helmdeck.yaml` (DESIGN.md "Configuration"). Field names here are the keys
//! users write; unknown keys are errors so that a typo never silently does nothing.

use crate::domain::duration::HumanDuration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub helm: HelmSettings,
    #[serde(default)]
    pub repositories: Vec<Repository>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub environments: Vec<Environment>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HelmSettings {
    /// The `helm` binary; else `$HELMDECK_HELM`, else `helm` on PATH.
    pub binary: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    Local,
    Http,
    Oci,
    S3,
    Gcs,
    Git,
}

impl RepoType {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Local => "local",
            RepoType::Http => "http",
            RepoType::Oci => "oci",
            RepoType::S3 => "s3",
            RepoType::Gcs => "gcs",
            RepoType::Git => "git",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RepoType,
    /// `local`: a folder of chart folders or packaged charts.
    pub path: Option<String>,
    /// `http`, `oci`, `s3`, `gcs`, `git`.
    pub url: Option<String>,
    pub auth: Option<RepoAuth>,
    /// `s3`: region and, for S3-compatible stores, an endpoint.
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// `git`: branch, tag or commit.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// `oci`: talk plain HTTP to a local registry.
    #[serde(default)]
    pub plain_http: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RepoAuth {
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChartRef {
    pub repository: String,
    pub name: String,
    /// A semver constraint (`^6.5`, `~1.2.0`, `>=1 <2`, an exact version); empty = latest stable.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GitFile {
    pub repository: String,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub path: String,
}

/// A values file: a local path (relative to helmdeck.yaml) or a file in a git repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ValuesFile {
    Local(String),
    Git { git: GitFile },
}

impl<'de> Deserialize<'de> for ValuesFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct GitForm {
            git: GitFile,
        }
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Ok(ValuesFile::Local(s)),
            serde_json::Value::Object(_) => serde_json::from_value::<GitForm>(v)
                .map(|g| ValuesFile::Git { git: g.git })
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "expected a file path or `git: {{repository, ref, path}}`, found {other}"
            ))),
        }
    }
}

pub use crate::domain::run::StrategyKind;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub chart: ChartRef,
    /// Release name; defaults to the service name.
    pub release: Option<String>,
    #[serde(default)]
    pub values: Vec<ValuesFile>,
    #[serde(default)]
    pub strategy: StrategyKind,
    pub canary: Option<CanarySettings>,
    pub bluegreen: Option<BlueGreenSettings>,
    /// Verification for rolling deploys.
    #[serde(default)]
    pub verify: Vec<Check>,
    /// Deployments taking part in canary / blue-green; empty = all.
    #[serde(default)]
    pub workloads: Vec<String>,
}

impl Service {
    pub fn release_name(&self) -> &str {
        self.release.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CanarySettings {
    #[serde(default)]
    pub steps: Vec<CanaryStep>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenSettings {
    #[serde(default)]
    pub auto_promote: bool,
    #[serde(default = "default_scale_down_delay")]
    pub scale_down_delay: HumanDuration,
    #[serde(default)]
    pub pre_promotion: Vec<Check>,
    #[serde(default)]
    pub post_promotion: Vec<Check>,
}

fn default_scale_down_delay() -> HumanDuration {
    HumanDuration::from_secs(600)
}

pub use crate::domain::gate::{Check, HttpCheck, HttpExpect, PrometheusCheck};
pub use crate::domain::run::{CanaryStep, Pause};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    pub cluster: Cluster,
    #[serde(default)]
    pub values: Vec<ValuesFile>,
    #[serde(default)]
    pub secrets: Vec<SecretValue>,
    #[serde(default)]
    pub policy: Policy,
    /// Prometheus for verification checks.
    pub prometheus: Option<PrometheusSettings>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSettings {
    pub address: String,
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    pub namespace: String,
    /// How long one request to the API server may go unanswered (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// Dotted values path, e.g. `database.password`.
    pub path: String,
    pub from: SecretSource,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// An environment variable of the helmdeck process.
    Env(String),
    /// A file (relative to helmdeck.yaml); its content without the final newline.
    File(String),
    /// A key of an existing Secret in the environment's namespace.
    Secret(ClusterSecretRef),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSecretRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub protected: bool,
    #[serde(default = "yes")]
    pub auto_rollback: bool,
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline: HumanDuration,
    #[serde(default = "default_keep_revisions")]
    pub keep_revisions: u32,
    /// How long one Helm hook may take (a Job to complete, a Pod to succeed).
    #[serde(default = "default_hook_timeout")]
    pub hook_timeout: HumanDuration,
    /// The chart's `crds/` folder: `install` (Helm's rule: created on first install only)
    /// or `upgrade` (applied on every deploy).
    #[serde(default)]
    pub crds: CrdPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            protected: false,
            auto_rollback: true,
            progress_deadline: default_progress_deadline(),
            keep_revisions: default_keep_revisions(),
            hook_timeout: default_hook_timeout(),
            crds: CrdPolicy::default(),
        }
    }
}

/// What a deploy does with a chart's `crds/` folder.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CrdPolicy {
    /// Created on the first install only, never upgraded or deleted (Helm's rule).
    #[default]
    Install,
    /// Applied on every deploy (still never deleted).
    Upgrade,
}

fn default_hook_timeout() -> HumanDuration {
    HumanDuration::from_secs(300)
}

fn yes() -> bool {
    true
}

fn default_progress_deadline() -> HumanDuration {
    HumanDuration::from_secs(600)
}

fn default_keep_revisions() -> u32 {
    10
}
