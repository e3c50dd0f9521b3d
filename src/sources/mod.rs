//! Where charts come from, behind one trait: a local folder, a Helm repository over HTTP or
//! in an S3 or GCS bucket, an OCI registry (later git). Sources list charts and versions, resolve a semver
//! constraint the way Helm does, fetch a chart into the local cache and verify its digest.
//! Never imports the TUI; progress is reported through a plain callback.

pub mod chart;
pub mod deps;
pub mod fetch;
pub mod gcs;
pub mod git;
pub mod http;
pub mod local;
pub mod oci;
pub mod s3;

use crate::config::{Config, RepoType, Repository};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One version of a chart as a source lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartVersion {
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    pub description: Option<String>,
    /// `sha256:<hex>` when the source publishes one.
    pub digest: Option<String>,
    #[serde(skip)]
    pub urls: Vec<String>,
}

/// Every chart a source offers, versions sorted newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceIndex {
    pub charts: BTreeMap<String, Vec<ChartVersion>>,
    /// E.g. "repository unreachable: using the cached index from 3h ago".
    pub warnings: Vec<String>,
}

/// A chart ready to render: on local disk (a folder or a packaged `.tgz`), with its digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FetchedChart {
    pub repository: String,
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    /// `sha256:<hex>` of the package, or of the folder's files for unpackaged charts.
    pub digest: String,
    pub from_cache: bool,
    pub warnings: Vec<String>,
    /// The commit the chart was read from, for git repositories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Its dependencies: vendored from their repositories, or carried in `charts/`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<crate::domain::deps::Vendored>,
}

/// Bytes done and bytes expected (when known), for progress bars.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

pub fn no_progress() -> Progress<'static> {
    &|_, _| {}
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("repository `{repo}` has no chart `{chart}`")]
    ChartNotFound {
        repo: String,
        chart: String,
        available: Vec<String>,
    },
    #[error("repository `{repo}` has no version of `{chart}` matching `{constraint}` (available: {})", summarize(.available))]
    NoMatchingVersion {
        repo: String,
        chart: String,
        constraint: String,
        available: Vec<String>,
    },
    #[error("invalid version constraint `{constraint}`: {message}")]
    BadConstraint { constraint: String, message: String },
    #[error("repository `{repo}` is unreachable at {url}: {message}")]
    Unreachable {
        repo: String,
        url: String,
        message: String,
    },
    #[error("repository `{repo}` refused access to {url} (HTTP {status})")]
    AuthRefused {
        repo: String,
        url: String,
        status: u16,
    },
    #[error("repository `{repo}`: {url} answered HTTP {status}")]
    Http {
        repo: String,
        url: String,
        status: u16,
    },
    #[error("digest mismatch for {chart} {version} from `{repo}`: the index says {expected}, the download is {actual}")]
    DigestMismatch {
        repo: String,
        chart: String,
        version: String,
        expected: String,
        actual: String,
    },
    #[error("repository `{repo}` has an invalid index.yaml: {message}")]
    InvalidIndex { repo: String, message: String },
    #[error("invalid chart at {path}: {message}")]
    InvalidChart { path: String, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("repository `{repo}`: bucket `{bucket}` does not exist")]
    BucketNotFound { repo: String, bucket: String },
    #[error("repository `{repo}`: bucket `{bucket}` is in another region{}", .region.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    WrongRegion {
        repo: String,
        bucket: String,
        region: Option<String>,
    },
    #[error("repository `{repo}` has no {url}")]
    ObjectNotFound { repo: String, url: String },
    #[error("repository `{repo}`: unusable credentials from {from}: {message}")]
    BadCredentials {
        repo: String,
        from: String,
        message: String,
    },
    #[error("repository `{repo}` needs ${var}, which is not set")]
    MissingCredential { repo: String, var: String },
    #[error("git repository `{repo}` has no branch, tag or commit `{git_ref}` at {url}")]
    RefNotFound {
        repo: String,
        url: String,
        git_ref: String,
    },
    #[error("git repository `{repo}` has no {what} `{path}` at commit {commit}")]
    GitPathMissing {
        repo: String,
        commit: String,
        path: String,
        /// "folder" (charts) or "file" (values).
        what: String,
    },
    #[error("dependency `{dependency}` of chart `{chart}` (repository `{repository}`): {source}")]
    Dependency {
        chart: String,
        dependency: String,
        repository: String,
        source: Box<SourceError>,
    },
    #[error("chart `{chart}`: {message}")]
    BadDependency { chart: String, message: String },
    #[error("Chart.lock of chart `{chart}` is out of sync with its Chart.yaml (the lock's digest is {lock_digest}; Chart.yaml's dependencies give {digest})")]
    LockOutOfSync {
        chart: String,
        lock_digest: String,
        digest: String,
    },
    #[error("dependency `{dependency}` of chart `{chart}` names repository `{repository}`, which helmdeck.yaml does not define")]
    UnknownDependencyRepository {
        chart: String,
        dependency: String,
        repository: String,
        known: Vec<String>,
    },
    #[error("git repository `{repo}` refused access to {url}")]
    GitAuthRefused { repo: String, url: String },
    #[error("git repository `{repo}` at {url}: {message}")]
    GitFailed {
        repo: String,
        url: String,
        message: String,
    },
}

fn summarize(v: &[String]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    let shown: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
    if v.len() > shown.len() {
        format!("{}, … {} in all", shown.join(", "), v.len())
    } else {
        shown.join(", ")
    }
}

impl SourceError {
    /// True when the failure is the network's, not the input's (exit code 3).
    pub fn is_unreachable(&self) -> bool {
        match self {
            SourceError::Dependency { source, .. } => source.is_unreachable(),
            other => matches!(other, SourceError::Unreachable { .. }),
        }
    }

    pub fn hint(&self) -> String {
        match self {
            SourceError::Dependency { source, .. } => source.hint(),
            SourceError::BadDependency { .. } => "fix the chart's `dependencies:` in Chart.yaml (name, version, repository: https://…, oci://…, @name or file://…)".into(),
            SourceError::LockOutOfSync { .. } => "run `helm dependency update` in the chart's folder to write a matching Chart.lock (or delete Chart.lock to resolve Chart.yaml's version ranges)".into(),
            SourceError::UnknownDependencyRepository { known, .. } if known.is_empty() => "add a repository of that name to helmdeck.yaml, or write the repository's URL in Chart.yaml".into(),
            SourceError::UnknownDependencyRepository { known, .. } => format!("add a repository of that name to helmdeck.yaml (defined: {}), or write its URL in Chart.yaml", known.join(", ")),
            SourceError::ChartNotFound { available, .. } => {
                let names: Vec<&str> = available.iter().map(String::as_str).collect();
                match crate::config::suggest(
                    match self {
                        SourceError::ChartNotFound { chart, .. } => chart,
                        _ => "",
                    },
                    &names,
                ) {
                    Some(s) => format!("did you mean `{s}`? (`helmdeck repo search` lists charts)"),
                    None => "check the chart name (`helmdeck repo search TEXT` lists charts)".into(),
                }
            }
            SourceError::NoMatchingVersion { .. } => "widen the version constraint in the service's `chart.version`, or publish a matching version".into(),
            SourceError::BadConstraint { .. } => "write e.g. \"^1.2\", \"~1.2.0\", \">=1.0 <2.0\" or an exact version".into(),
            SourceError::Unreachable { .. } => "check the network and the repository URL; a cached copy is used once one exists".into(),
            SourceError::AuthRefused { url, .. } if url.starts_with("s3://") => "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS_PROFILE in ~/.aws/credentials, or the repository's `auth`) and that they may read the bucket".into(),
            SourceError::AuthRefused { url, .. } if url.starts_with("gs://") => "check the Google credentials (GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`) and that they may read the bucket".into(),
            SourceError::AuthRefused { url, .. } if url.starts_with("oci://") => "check the registry credentials: the repository's `auth` variables, else `helm registry login` / `docker login` for this host".into(),
            SourceError::AuthRefused { .. } => "check the credentials named in the repository's `auth` (username_env/password_env or token_env)".into(),
            SourceError::WrongRegion { region: Some(r), .. } => format!("set `region: {r}` on the repository"),
            SourceError::WrongRegion { .. } => "set the bucket's `region` on the repository (or AWS_REGION)".into(),
            SourceError::BucketNotFound { .. } => "check the bucket name in the repository's `url` (and `endpoint`/`region` for S3)".into(),
            SourceError::ObjectNotFound { url, .. } if url.ends_with("/index.yaml") => "the bucket has no Helm repository at this path: check the `url` prefix, or publish one (`helm repo index` + upload)".into(),
            SourceError::ObjectNotFound { .. } => "the index names a package that is not there: republish the chart or regenerate index.yaml".into(),
            SourceError::BadCredentials { .. } => "fix or replace that credentials file, or unset the variable that points at it".into(),
            SourceError::Http { status: 404, .. } => "check the repository URL (it should serve index.yaml)".into(),
            SourceError::Http { .. } => "the repository server failed; try again or check its logs".into(),
            SourceError::DigestMismatch { .. } => "the package does not match the repository's index: republish the chart or regenerate index.yaml (`helm repo index`)".into(),
            SourceError::InvalidIndex { .. } => "regenerate index.yaml (`helm repo index`)".into(),
            SourceError::InvalidChart { .. } => "a chart needs a Chart.yaml with name and version".into(),
            SourceError::Io { .. } => "check the path and its permissions".into(),
            SourceError::MissingCredential { var, .. } => format!("export {var}=… before running helmdeck"),
            SourceError::RefNotFound { url, .. } => format!("check the repository's `ref:` (or the values file's): a branch, a tag or a full commit id (`git ls-remote {url}` lists them)"),
            SourceError::GitPathMissing { what, .. } if what == "file" => "check the values file's `path:` (relative to the repository's root) and that it is committed on that ref".into(),
            SourceError::GitPathMissing { .. } => "check the repository's `path:`: a folder of chart folders, or one chart folder, relative to the repository's root".into(),
            SourceError::GitAuthRefused { .. } => "check the token named in the repository's `auth.token_env` (or username_env/password_env); for ssh URLs, that your ssh key is loaded (`ssh -T`)".into(),
            SourceError::GitFailed { .. } => "check the repository URL and that it is a git repository; `git ls-remote URL` shows what git itself makes of it".into(),
        }
    }
}

/// A place charts come from.
pub trait ChartSource: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> RepoType;
    /// Where it is (a folder or URL), for listings.
    fn location(&self) -> String;
    /// Every chart and version the source offers.
    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>>;
    /// Resolves `constraint` (None: latest stable) and fetches that version.
    fn fetch<'a>(
        &'a self,
        chart: &'a str,
        constraint: Option<&'a str>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<FetchedChart, SourceError>>;
}

/// The user's cache directory for helmdeck (`$HELMDECK_CACHE_DIR` overrides it).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HELMDECK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("io", "helmdeck", "helmdeck")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("helmdeck-cache"))
}

/// Builds the source for a configured repository.
pub fn open(cfg: &Config, repo: &Repository) -> Result<Box<dyn ChartSource>, SourceError> {
    match repo.kind {
        RepoType::Local => {
            let path = cfg.resolve_path(repo.path.as_deref().unwrap_or("."));
            Ok(Box::new(local::LocalSource::new(&repo.name, path)))
        }
        RepoType::Http => Ok(Box::new(http::HttpSource::new(repo, cache_dir())?)),
        RepoType::S3 => Ok(Box::new(s3::source(repo, cache_dir())?)),
        RepoType::Gcs => Ok(Box::new(gcs::source(repo, cache_dir())?)),
        RepoType::Oci => Ok(Box::new(oci::OciSource::new(repo, cache_dir())?)),
        RepoType::Git => Ok(Box::new(git::GitSource::new(repo, &cache_dir())?)),
    }
}

/// Picks a version from a newest-first list the way Helm does.
pub fn pick_version<'a>(
    repo: &str,
    chart: &str,
    versions: &'a [ChartVersion],
    constraint: Option<&str>,
) -> Result<&'a ChartVersion, SourceError> {
    let picked =
        crate::domain::chartver::resolve(constraint, versions.iter().map(|v| v.version.as_str()))
            .map_err(|e| SourceError::BadConstraint {
            constraint: constraint.unwrap_or_default().to_string(),
            message: e.to_string(),
        })?;
    match picked.and_then(|p| versions.iter().find(|v| v.version == p)) {
        Some(v) => Ok(v),
        None => Err(SourceError::NoMatchingVersion {
            repo: repo.to_string(),
            chart: chart.to_string(),
            constraint: constraint
                .filter(|c| !c.is_empty())
                .unwrap_or("latest stable")
                .to_string(),
            available: versions.iter().map(|v| v.version.clone()).collect(),
        }),
    }
}

/// Sorts versions newest first (unparsable ones last, in their original order).
pub fn sort_versions(list: &mut [ChartVersion]) {
    list.sort_by(|a, b| {
        let pa = crate::domain::chartver::parse_lenient(&a.version).ok();
        let pb = crate::domain::chartver::parse_lenient(&b.version).ok();
        match (pa, pb) {
            (Some(a), Some(b)) => b.cmp(&a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
}
