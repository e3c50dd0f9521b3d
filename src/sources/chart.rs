//! Reading a chart from disk, folder or packaged `.tgz`: its Chart.yaml, its default values
//! (with positions, for provenance), its vendored subcharts, and a digest of its content.

use super::SourceError;
use crate::domain::yaml::{self, Doc};
use flate2::read::GzDecoder;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub alias: Option<String>,
    pub condition: Option<String>,
}

/// A chart as read from disk.
#[derive(Debug, Clone)]
pub struct ChartFiles {
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    pub description: Option<String>,
    pub dependencies: Vec<Dependency>,
    /// `values.yaml`, parsed with positions (empty when the chart has none).
    pub values: Doc,
    /// Where the values came from, for provenance (`web-1.2.0/values.yaml`).
    pub values_label: String,
    pub subcharts: Vec<ChartFiles>,
}

impl ChartFiles {
    /// The key a subchart's values hang under in its parent: its alias, else its name.
    pub fn mount_name(&self, parent: &ChartFiles) -> String {
        parent
            .dependencies
            .iter()
            .find(|d| d.name == self.name)
            .and_then(|d| d.alias.clone())
            .unwrap_or_else(|| self.name.clone())
    }

    /// The `condition:` of this subchart in its parent, if any.
    pub fn condition_in(&self, parent: &ChartFiles) -> Option<String> {
        parent
            .dependencies
            .iter()
            .find(|d| d.name == self.name)
            .and_then(|d| d.condition.clone())
    }
}

/// All files of a chart, relative to the chart's root.
pub type FileMap = BTreeMap<String, Vec<u8>>;

/// Loads a chart from a folder or a `.tgz`.
pub fn load(path: &Path) -> Result<ChartFiles, SourceError> {
    let files = read_files(path)?;
    from_files(&files, &path.display().to_string())
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SourceError {
    SourceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Every file of a chart folder or package (a package's top folder stripped).
pub fn read_files(path: &Path) -> Result<FileMap, SourceError> {
    if path.is_dir() {
        let mut files = FileMap::new();
        walk(path, path, &mut files)?;
        Ok(files)
    } else {
        let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
        read_archive(&bytes, &path.display().to_string())
    }
}

fn walk(root: &Path, dir: &Path, out: &mut FileMap) -> Result<(), SourceError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') && name != ".helmignore" {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if p.is_file() {
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.insert(rel, std::fs::read(&p).map_err(|e| io_err(&p, e))?);
        }
    }
    Ok(())
}

/// Like `walk`, but only where each file is (relative path → path on disk).
fn walk_paths(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, PathBuf>,
) -> Result<(), SourceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') && name != ".helmignore" {
            continue;
        }
        if p.is_dir() {
            walk_paths(root, &p, out)?;
        } else if p.is_file() {
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.insert(rel, p);
        }
    }
    Ok(())
}

/// Reads a packaged chart; the archive's top folder (`web/`) is stripped.
pub fn read_archive(bytes: &[u8], shown: &str) -> Result<FileMap, SourceError> {
    let bad = |m: String| SourceError::InvalidChart {
        path: shown.to_string(),
        message: m,
    };
    let mut ar = tar::Archive::new(GzDecoder::new(bytes));
    let mut files = FileMap::new();
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("not a gzipped tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let p = entry
            .path()
            .map_err(|e| bad(format!("bad path in archive: {e}")))?
            .to_string_lossy()
            .replace('\\', "/");
        let rel = match p.split_once('/') {
            Some((_, rest)) => rest.to_string(),
            None => continue,
        };
        if rel.split('/').any(|s| s == "..") {
            return Err(bad(format!("unsafe path `{p}` in archive")));
        }
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| bad(format!("corrupt archive: {e}")))?;
        files.insert(rel, buf);
    }
    Ok(files)
}

fn from_files(files: &FileMap, shown: &str) -> Result<ChartFiles, SourceError> {
    let bad = |m: String| SourceError::InvalidChart {
        path: shown.to_string(),
        message: m,
    };
    let chart_yaml = files
        .get("Chart.yaml")
        .ok_or_else(|| bad("no Chart.yaml".into()))?;
    let meta = yaml::parse_document(&String::from_utf8_lossy(chart_yaml))
        .map_err(|e| bad(format!("Chart.yaml:{e}")))?
        .value;
    let field = |k: &str| match meta.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let name = field("name").ok_or_else(|| bad("Chart.yaml has no name".into()))?;
    let version = field("version").ok_or_else(|| bad("Chart.yaml has no version".into()))?;
    let dependencies = meta
        .get("dependencies")
        .and_then(Value::as_array)
        .map(|deps| {
            deps.iter()
                .filter_map(|d| {
                    Some(Dependency {
                        name: d.get("name")?.as_str()?.to_string(),
                        alias: d.get("alias").and_then(Value::as_str).map(str::to_string),
                        condition: d
                            .get("condition")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let values_label = format!("{name}-{version}/values.yaml");
    let values = match files.get("values.yaml") {
        Some(bytes) => yaml::parse_document(&String::from_utf8_lossy(bytes))
            .map_err(|e| bad(format!("values.yaml:{e}")))?,
        None => Doc::default(),
    };
    // Vendored subcharts: charts/<dir>/… or charts/<name>.tgz.
    let mut sub_dirs: BTreeMap<String, FileMap> = BTreeMap::new();
    let mut subcharts = Vec::new();
    for (p, bytes) in files.range("charts/".to_string()..) {
        let Some(rest) = p.strip_prefix("charts/") else {
            break;
        };
        match rest.split_once('/') {
            Some((dir, inner)) => {
                sub_dirs
                    .entry(dir.to_string())
                    .or_default()
                    .insert(inner.to_string(), bytes.clone());
            }
            None if rest.ends_with(".tgz") => {
                let inner = read_archive(bytes, &format!("{shown}/charts/{rest}"))?;
                subcharts.push(from_files(&inner, &format!("{shown}/charts/{rest}"))?);
            }
            None => {}
        }
    }
    for (dir, inner) in sub_dirs {
        if inner.contains_key("Chart.yaml") {
            subcharts.push(from_files(&inner, &format!("{shown}/charts/{dir}"))?);
        }
    }
    Ok(ChartFiles {
        name,
        version,
        app_version: field("appVersion"),
        description: field("description"),
        dependencies,
        values,
        values_label,
        subcharts,
    })
}

/// The templates (of the chart and the charts it carries) that call Helm's `lookup`, as
/// their `# Source:` lines name them (`chart/templates/file`, `chart/charts/sub/templates/file`).
pub fn lookup_templates(path: &Path) -> Result<Vec<String>, SourceError> {
    let files = read_files(path)?;
    let name = from_files(&files, &path.display().to_string())?.name;
    Ok(lookup_in(&files, &name))
}

fn lookup_in(files: &FileMap, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (p, bytes) in files {
        if let Some(rest) = p.strip_prefix("charts/") {
            if rest.ends_with(".tgz") && !rest.contains('/') {
                if let Ok(inner) = read_archive(bytes, rest) {
                    // Helm names a packaged subchart's templates by the chart's name.
                    let sub = from_files(&inner, rest)
                        .map(|c| c.name)
                        .unwrap_or_else(|_| rest.trim_end_matches(".tgz").to_string());
                    out.extend(lookup_in(&inner, &format!("{prefix}/charts/{sub}")));
                }
                continue;
            }
        }
        let in_templates = p.starts_with("templates/") || p.contains("/templates/");
        if in_templates && calls_lookup(&String::from_utf8_lossy(bytes)) {
            out.push(format!("{prefix}/{p}"));
        }
    }
    out
}

/// `lookup` used as a template function (`{{ lookup …`, `(lookup …`, `| lookup`), not as
/// part of another name.
fn calls_lookup(text: &str) -> bool {
    text.match_indices("lookup").any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + "lookup".len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$' || c == '"')
            && after.is_some_and(char::is_whitespace)
    })
}

/// The charts a chart carries in `charts/` (folders and packages): name, version and the
/// digest of the package or folder.
pub fn subcharts_in(
    files: &FileMap,
    shown: &str,
) -> Result<Vec<(String, String, String)>, SourceError> {
    let mut out = Vec::new();
    let mut dirs: BTreeMap<String, FileMap> = BTreeMap::new();
    for (p, bytes) in files.range("charts/".to_string()..) {
        let Some(rest) = p.strip_prefix("charts/") else {
            break;
        };
        match rest.split_once('/') {
            Some((dir, inner)) => {
                dirs.entry(dir.to_string())
                    .or_default()
                    .insert(inner.to_string(), bytes.clone());
            }
            None if rest.ends_with(".tgz") => {
                let inner = read_archive(bytes, &format!("{shown}/charts/{rest}"))?;
                let c = from_files(&inner, &format!("{shown}/charts/{rest}"))?;
                let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
                out.push((c.name, c.version, digest));
            }
            None => {}
        }
    }
    for (dir, inner) in dirs {
        if inner.contains_key("Chart.yaml") {
            let c = from_files(&inner, &format!("{shown}/charts/{dir}"))?;
            let mut h = Sha256::new();
            for (p, b) in &inner {
                h.update((p.len() as u64).to_le_bytes());
                h.update(p.as_bytes());
                h.update((b.len() as u64).to_le_bytes());
                h.update(b);
            }
            out.push((
                c.name,
                c.version,
                format!("sha256:{}", hex::encode(h.finalize())),
            ));
        }
    }
    Ok(out)
}

/// `sha256:<hex>` of a package file, or of a folder's files (paths and contents, sorted).
pub fn digest(path: &Path) -> Result<String, SourceError> {
    let mut h = Sha256::new();
    if path.is_dir() {
        // One file in memory at a time (a chart may carry megabytes of files), in the
        // order of the relative paths.
        let mut files = BTreeMap::new();
        walk_paths(path, path, &mut files)?;
        for (p, abs) in files {
            let bytes = std::fs::read(&abs).map_err(|e| io_err(&abs, e))?;
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
    } else {
        // Streamed: a cache hit on a large package must not cost its size in memory.
        let mut file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        std::io::copy(&mut file, &mut h).map_err(|e| io_err(path, e))?;
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Name, version, appVersion and description of a chart without reading its subcharts.
pub fn read_meta(
    path: &Path,
) -> Result<(String, String, Option<String>, Option<String>), SourceError> {
    let c = load(path)?;
    Ok((c.name, c.version, c.app_version, c.description))
}
