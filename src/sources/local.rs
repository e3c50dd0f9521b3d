//! Charts from a local folder: each sub-folder holding a Chart.yaml, and each packaged
//! `.tgz`. Nothing is copied: the chart is rendered where it lies.

use super::{
    chart, pick_version, sort_versions, ChartSource, ChartVersion, FetchedChart, Progress,
    SourceError, SourceIndex,
};
use crate::config::RepoType;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// (chart name, version) → where it lies.
type ChartPaths = BTreeMap<(String, String), PathBuf>;

pub struct LocalSource {
    name: String,
    root: PathBuf,
}

impl LocalSource {
    pub fn new(name: &str, root: PathBuf) -> Self {
        LocalSource {
            name: name.to_string(),
            root,
        }
    }

    /// The chart at `path` (a folder or a package), as this source would give it.
    pub fn chart_at(&self, path: &Path) -> Result<FetchedChart, SourceError> {
        let (name, version, _, _) = chart::read_meta(path)?;
        Ok(FetchedChart {
            repository: self.name.clone(),
            name,
            version,
            digest: chart::digest(path)?,
            path: path.to_path_buf(),
            from_cache: false,
            warnings: Vec::new(),
            revision: None,
            dependencies: Vec::new(),
        })
    }

    /// Every chart in the folder, with the path it lives at.
    fn scan(&self) -> Result<(SourceIndex, ChartPaths), SourceError> {
        let mut index = SourceIndex::default();
        let mut paths = BTreeMap::new();
        let entries = std::fs::read_dir(&self.root).map_err(|e| SourceError::Io {
            path: self.root.display().to_string(),
            message: e.to_string(),
        })?;
        let mut found: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        found.sort();
        for p in found {
            let is_chart_dir = p.is_dir() && p.join("Chart.yaml").is_file();
            let is_package = p.is_file() && p.extension().is_some_and(|e| e == "tgz");
            if !(is_chart_dir || is_package) {
                continue;
            }
            match chart::read_meta(&p) {
                Ok((name, version, app_version, description)) => {
                    paths.insert((name.clone(), version.clone()), p.clone());
                    index
                        .charts
                        .entry(name.clone())
                        .or_default()
                        .push(ChartVersion {
                            name,
                            version,
                            app_version,
                            description,
                            digest: None,
                            urls: vec![p.display().to_string()],
                        });
                }
                Err(e) => index.warnings.push(format!("skipped {}: {e}", p.display())),
            }
        }
        for list in index.charts.values_mut() {
            sort_versions(list);
        }
        Ok((index, paths))
    }
}

impl ChartSource for LocalSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> RepoType {
        RepoType::Local
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>> {
        Box::pin(async move { self.scan().map(|(i, _)| i) })
    }

    fn fetch<'a>(
        &'a self,
        chart_name: &'a str,
        constraint: Option<&'a str>,
        _progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<FetchedChart, SourceError>> {
        Box::pin(async move {
            let (index, paths) = self.scan()?;
            let versions =
                index
                    .charts
                    .get(chart_name)
                    .ok_or_else(|| SourceError::ChartNotFound {
                        repo: self.name.clone(),
                        chart: chart_name.to_string(),
                        available: index.charts.keys().cloned().collect(),
                    })?;
            let v = pick_version(&self.name, chart_name, versions, constraint)?;
            let path = paths
                .get(&(v.name.clone(), v.version.clone()))
                .cloned()
                .unwrap_or_else(|| Path::new(&self.root).join(chart_name));
            Ok(FetchedChart {
                repository: self.name.clone(),
                name: v.name.clone(),
                version: v.version.clone(),
                digest: chart::digest(&path)?,
                path,
                from_cache: false,
                warnings: index.warnings,
                revision: None,
                dependencies: Vec::new(),
            })
        })
    }
}
