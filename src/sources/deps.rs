//! Chart dependencies declared in Chart.yaml and missing from `charts/`, resolved like
//! `helm dependency build` through helmdeck's own sources (auth, cache by digest, offline
//! fallback, progress) and vendored into a cached copy of the chart — never into the
//! user's folder. Chart.lock first (its digest must match Chart.yaml), else Chart.yaml's
//! ranges; every declared dependency, enabled or not, as Helm checks them all.

use super::{chart, fetch, FetchedChart, Progress, SourceError};
use crate::config::{Config, RepoType, Repository};
use crate::domain::deps::{self, Declared, RepositoryRef, Vendored as VendoredDependency};
use std::path::{Component, Path, PathBuf};

/// Where the parent chart was read from, for `file://` dependencies.
pub struct Origin<'a> {
    pub config: Option<&'a Config>,
    /// The configured repository the chart came from (None: `--chart PATH`).
    pub repository: Option<&'a Repository>,
}

fn bad(chart: &str, message: impl Into<String>) -> SourceError {
    SourceError::BadDependency {
        chart: chart.to_string(),
        message: message.into(),
    }
}

fn wrap(chart: &str, d: &Declared, e: SourceError) -> SourceError {
    match e {
        e @ (SourceError::Dependency { .. }
        | SourceError::BadDependency { .. }
        | SourceError::LockOutOfSync { .. }
        | SourceError::UnknownDependencyRepository { .. }) => e,
        e => SourceError::Dependency {
            chart: chart.to_string(),
            dependency: d.name.clone(),
            repository: d.repository.clone(),
            source: Box::new(e),
        },
    }
}

/// Vendors what `fetched` declares and lacks; returns it unchanged when nothing is missing
/// (with the dependencies it carries listed).
pub async fn vendor(
    origin: &Origin<'_>,
    mut fetched: FetchedChart,
    progress: Progress<'_>,
) -> Result<FetchedChart, SourceError> {
    let files = chart::read_files(&fetched.path)?;
    let shown = fetched.name.clone();
    let Some(chart_yaml) = files.get("Chart.yaml") else {
        return Ok(fetched);
    };
    let meta = crate::domain::yaml::parse_document(&String::from_utf8_lossy(chart_yaml))
        .map_err(|e| bad(&shown, format!("Chart.yaml:{e}")))?
        .value;
    let declared = deps::declared(&meta).map_err(|e| bad(&shown, format!("Chart.yaml: {e}")))?;
    if declared.is_empty() {
        return Ok(fetched);
    }
    let present = chart::subcharts_in(&files, &fetched.path.display().to_string())?;
    let missing: Vec<usize> = (0..declared.len())
        .filter(|&i| !present.iter().any(|p| p.0 == declared[i].name))
        .collect();
    let mut listed: Vec<VendoredDependency> = Vec::new();
    for (i, d) in declared.iter().enumerate() {
        if missing.contains(&i) {
            continue;
        }
        if let Some((_, version, digest)) = present.iter().find(|p| p.0 == d.name) {
            listed.push(VendoredDependency {
                name: d.name.clone(),
                alias: d.alias.clone(),
                version: version.clone(),
                digest: digest.clone(),
                repository: "charts/".into(),
            });
        }
    }
    if missing.is_empty() {
        fetched.dependencies = listed;
        return Ok(fetched);
    }

    // Chart.lock: its digest covers Chart.yaml's list (with @name repositories as URLs).
    let lock = match files.get("Chart.lock") {
        Some(bytes) => {
            let doc = crate::domain::yaml::parse_document(&String::from_utf8_lossy(bytes))
                .map_err(|e| bad(&shown, format!("Chart.lock:{e}")))?
                .value;
            let lock =
                deps::lock_from(&doc).map_err(|e| bad(&shown, format!("Chart.lock: {e}")))?;
            let req: Vec<Declared> = declared
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    if let Ok(RepositoryRef::Named(n)) = RepositoryRef::parse(&d.repository) {
                        if let Some(url) = origin
                            .config
                            .and_then(|c| c.file.repositories.iter().find(|r| r.name == n))
                            .and_then(|r| r.url.clone())
                        {
                            d.repository = url;
                        }
                    }
                    d
                })
                .collect();
            let want = deps::lock_digest(&req, &lock.dependencies);
            if want != lock.digest || lock.dependencies.len() != declared.len() {
                return Err(SourceError::LockOutOfSync {
                    chart: shown.clone(),
                    lock_digest: lock.digest.clone(),
                    digest: want,
                });
            }
            Some(lock)
        }
        None => None,
    };

    let mut vendored: Vec<(FetchedChart, &Declared)> = Vec::new();
    for &i in &missing {
        let d = &declared[i];
        let (version, repository) = match &lock {
            Some(l) => (
                l.dependencies[i].version.clone(),
                l.dependencies[i].repository.clone(),
            ),
            None => (d.version.clone(), d.repository.clone()),
        };
        let got = fetch_one(origin, &fetched, d, &version, &repository, progress)
            .await
            .map_err(|e| wrap(&shown, d, e))?;
        fetched.warnings.extend(got.warnings.iter().cloned());
        listed.push(VendoredDependency {
            name: d.name.clone(),
            alias: d.alias.clone(),
            version: got.version.clone(),
            digest: got.digest.clone(),
            repository: d.repository.clone(),
        });
        vendored.push((got, d));
    }
    // Declared order, as Chart.yaml lists them.
    listed.sort_by_key(|v| {
        declared
            .iter()
            .position(|d| d.name == v.name && d.alias == v.alias)
    });
    let from_cache = fetched.from_cache && vendored.iter().all(|(f, _)| f.from_cache);
    let dir = write_vendored(&fetched, &files, &vendored)?;
    fetched.digest = chart::digest(&dir)?;
    fetched.path = dir;
    fetched.from_cache = from_cache;
    fetched.dependencies = listed;
    Ok(fetched)
}

/// Fetches one dependency from where its `repository:` points.
async fn fetch_one(
    origin: &Origin<'_>,
    parent: &FetchedChart,
    d: &Declared,
    version: &str,
    repository: &str,
    progress: Progress<'_>,
) -> Result<FetchedChart, SourceError> {
    let constraint = Some(version).filter(|v| !v.trim().is_empty());
    let unknown = |name: &str| SourceError::UnknownDependencyRepository {
        chart: parent.name.clone(),
        dependency: d.name.clone(),
        repository: name.to_string(),
        known: origin
            .config
            .map(|c| c.file.repositories.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default(),
    };
    let target = RepositoryRef::parse(repository).map_err(|m| bad(&parent.name, m))?;
    match target {
        RepositoryRef::Vendored => Err(bad(
            &parent.name,
            format!(
                "dependency `{}` names no repository and is not in charts/",
                d.name
            ),
        )),
        RepositoryRef::Named(n) => {
            let cfg = origin.config.ok_or_else(|| unknown(repository))?;
            let repo = cfg
                .file
                .repositories
                .iter()
                .find(|r| r.name == n)
                .ok_or_else(|| unknown(repository))?;
            let source = super::open(cfg, repo)?;
            source.fetch(&d.name, constraint, progress).await
        }
        RepositoryRef::Http(url) => {
            let repo = configured(origin, RepoType::Http, &url)
                .unwrap_or_else(|| ad_hoc(RepoType::Http, &url));
            let source = super::http::HttpSource::new(&repo, super::cache_dir())?;
            super::ChartSource::fetch(&source, &d.name, constraint, progress).await
        }
        RepositoryRef::Oci(url) => {
            let repo = configured(origin, RepoType::Oci, &url)
                .unwrap_or_else(|| ad_hoc(RepoType::Oci, &url));
            let source = super::oci::OciSource::new(&repo, super::cache_dir())?;
            super::ChartSource::fetch(&source, &d.name, constraint, progress).await
        }
        RepositoryRef::File(rel) => {
            let path = file_dependency(origin, parent, &rel).await?;
            let got = super::local::LocalSource::new(repository, PathBuf::new()).chart_at(&path)?;
            if got.name != d.name {
                return Err(bad(
                    &parent.name,
                    format!(
                        "dependency `{}` points at {repository}, which holds chart `{}`",
                        d.name, got.name
                    ),
                ));
            }
            if let Some(c) = constraint {
                let ok = crate::domain::chartver::resolve(Some(c), [got.version.as_str()])
                    .map_err(|e| SourceError::BadConstraint {
                        constraint: c.to_string(),
                        message: e.to_string(),
                    })?;
                if ok.is_none() {
                    return Err(SourceError::NoMatchingVersion {
                        repo: repository.to_string(),
                        chart: d.name.clone(),
                        constraint: c.to_string(),
                        available: vec![got.version.clone()],
                    });
                }
            }
            Ok(got)
        }
    }
}

/// A repository of helmdeck.yaml at the same URL (its credentials and settings apply).
fn configured(origin: &Origin<'_>, kind: RepoType, url: &str) -> Option<Repository> {
    origin
        .config?
        .file
        .repositories
        .iter()
        .find(|r| r.kind == kind && fetch::repository_url(r) == url)
        .cloned()
}

/// A repository known only from a chart's Chart.yaml: no credentials; plain HTTP only to
/// loopback registries.
fn ad_hoc(kind: RepoType, url: &str) -> Repository {
    Repository {
        name: url.to_string(),
        kind,
        path: None,
        url: Some(url.to_string()),
        auth: None,
        region: None,
        endpoint: None,
        git_ref: None,
        plain_http: kind == RepoType::Oci && super::git::is_loopback(url),
    }
}

/// `a/b/../c` → `a/c`; None when it climbs above the start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Where a `file://` dependency lies: beside the chart's folder on disk, or, for a chart
/// from git, at that path inside the same commit.
async fn file_dependency(
    origin: &Origin<'_>,
    parent: &FetchedChart,
    rel: &str,
) -> Result<PathBuf, SourceError> {
    let outside = || {
        bad(
            &parent.name,
            format!("file://{rel} points outside the repository the chart comes from"),
        )
    };
    if let (Some(repo), Some(commit)) = (
        origin.repository.filter(|r| r.kind == RepoType::Git),
        parent.revision.clone(),
    ) {
        // The chart's folder inside the repository, then the dependency's.
        let root = tree_root(&parent.path).ok_or_else(outside)?;
        let base = super::git::tree_path(repo.path.as_deref().unwrap_or(""));
        let inside = parent.path.strip_prefix(&root).map_err(|_| outside())?;
        let single = std::fs::read_dir(&root)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count() == 1)
            .unwrap_or(false);
        let chart_dir = if single
            && !base.is_empty()
            && base.rsplit('/').next() == inside.to_str().map(|s| s.trim_end_matches('/'))
        {
            PathBuf::from(&base)
        } else {
            PathBuf::from(&base).join(inside)
        };
        let wanted = normalize(&chart_dir.join(rel)).ok_or_else(outside)?;
        let wanted = wanted.to_string_lossy().replace('\\', "/");
        let mirror = super::git::Mirror::new(repo, &super::cache_dir())?;
        let last = wanted.rsplit('/').next().unwrap_or("").to_string();
        let dir = tokio::task::spawn_blocking(move || mirror.extract_blocking(&commit, &wanted))
            .await
            .map_err(|e| SourceError::Io {
                path: "git".into(),
                message: format!("git task failed: {e}"),
            })??;
        // A folder that is one chart is extracted as `<dest>/<its name>`.
        let nested = dir.join(&last);
        return Ok(if nested.join("Chart.yaml").is_file() {
            nested
        } else {
            dir
        });
    }
    if !parent.path.is_dir() {
        return Err(bad(
            &parent.name,
            format!(
                "file://{rel}: a packaged chart must carry its file:// dependencies in charts/"
            ),
        ));
    }
    let path = parent.path.join(rel);
    if !path.join("Chart.yaml").is_file() {
        return Err(bad(
            &parent.name,
            format!("file://{rel} ({}) holds no Chart.yaml", path.display()),
        ));
    }
    Ok(path)
}

/// The extracted git tree a chart lies in (the folder holding `.helmdeck-digest`).
fn tree_root(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|p| p.join(".helmdeck-digest").is_file())
        .map(Path::to_path_buf)
}

/// The chart's files plus the dependencies under `charts/`, in the cache, keyed by what
/// went in; reused when already there and intact.
fn write_vendored(
    parent: &FetchedChart,
    files: &chart::FileMap,
    deps: &[(FetchedChart, &Declared)],
) -> Result<PathBuf, SourceError> {
    use sha2::Digest as _;
    let mut key = sha2::Sha256::new();
    key.update(parent.digest.as_bytes());
    for (f, _) in deps {
        key.update(b"\0");
        key.update(f.name.as_bytes());
        key.update(b"\0");
        key.update(f.digest.as_bytes());
    }
    let key = hex::encode(&key.finalize()[..12]);
    let root = super::cache_dir().join("vendored").join(&key);
    let dest = root.join(&parent.name);
    let marker = root.join(".helmdeck-digest");
    if let Ok(recorded) = std::fs::read_to_string(&marker) {
        if chart::digest(&dest).ok().as_deref() == Some(recorded.trim()) {
            return Ok(dest);
        }
    }
    let io = |p: &Path, e: std::io::Error| SourceError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let tmp = super::cache_dir()
        .join("vendored")
        .join(format!(".tmp-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let tmp_chart = tmp.join(&parent.name);
    for (rel, bytes) in files {
        let p = tmp_chart.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
    }
    let charts = tmp_chart.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| io(&charts, e))?;
    for (f, _) in deps {
        if f.path.is_dir() {
            copy_dir(&f.path, &charts.join(format!("{}-{}", f.name, f.version)))?;
        } else {
            let to = charts.join(format!("{}-{}.tgz", f.name, f.version));
            std::fs::copy(&f.path, &to).map_err(|e| io(&to, e))?;
        }
    }
    let digest = chart::digest(&tmp_chart)?;
    std::fs::write(tmp.join(".helmdeck-digest"), &digest).map_err(|e| io(&tmp, e))?;
    let _ = std::fs::remove_dir_all(&root);
    if let Err(e) = std::fs::rename(&tmp, &root) {
        // Another process vendored the same inputs meanwhile: use theirs.
        let _ = std::fs::remove_dir_all(&tmp);
        if !marker.is_file() {
            return Err(io(&root, e));
        }
    }
    Ok(dest)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), SourceError> {
    let io = |p: &Path, e: std::io::Error| SourceError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(to).map_err(|e| io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))?.flatten() {
        let p = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') && name != ".helmignore" {
            continue;
        }
        let target = to.join(&name);
        if p.is_dir() {
            copy_dir(&p, &target)?;
        } else if p.is_file() {
            std::fs::copy(&p, &target).map_err(|e| io(&p, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_without_climbing_out() {
        assert_eq!(
            normalize(Path::new("charts/web/../common")),
            Some(PathBuf::from("charts/common"))
        );
        assert_eq!(normalize(Path::new("web/../../x")), None);
    }
}
