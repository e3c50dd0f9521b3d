//! What every remote source shares: streaming a download to the cache while hashing it
//! (memory stays bounded by one network chunk, whatever the chart's size), the
//! digest-named package cache, atomic writes, and network errors that never carry a URL's
//! query string (a signed URL would leak credentials into logs).

use super::{Progress, SourceError};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// "3h ago", "2d ago".
pub fn age(secs_ago: u64) -> String {
    match secs_ago {
        0..=59 => format!("{secs_ago}s ago"),
        60..=3599 => format!("{}m ago", secs_ago / 60),
        3600..=86399 => format!("{}h ago", secs_ago / 3600),
        _ => format!("{}d ago", secs_ago / 86400),
    }
}

/// How long a cached copy's "confirmed fresh" time may lag before a revalidation that
/// changed nothing rewrites it: warnings give ages in minutes at best, and warm pulls then
/// write nothing to disk.
pub(crate) const REFRESH_GRACE_SECS: u64 = 60;

/// Writes through a temporary file and a rename, so that readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

pub(crate) fn io_error(path: &Path, e: impl std::fmt::Display) -> SourceError {
    SourceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// `Unreachable` for a failed request, with the causes chained and no URL inside the
/// message (`shown_url` is what the user sees: `s3://bucket/key`, never a signed URL).
pub(crate) fn unreachable(repo: &str, shown_url: &str, e: reqwest::Error) -> SourceError {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        message = format!("{message}: {s}");
        src = s.source();
    }
    SourceError::Unreachable {
        repo: repo.to_string(),
        url: shown_url.to_string(),
        message,
    }
}

/// The last link of an unreachable error's chain ("Connection refused"), for warnings.
fn short_reason(e: &SourceError) -> String {
    match e {
        SourceError::Unreachable { message, .. } => {
            message.rsplit(": ").next().unwrap_or(message).to_string()
        }
        other => other.to_string(),
    }
}

/// The warning of a source that answers from its cache because `err` kept the repository
/// out of reach; `what` is the cached thing ("index", "chart list").
pub(crate) fn offline_warning(
    repo: &str,
    err: &SourceError,
    what: &str,
    fetched_at: u64,
) -> String {
    format!(
        "repository `{repo}` is unreachable ({}): using the cached {what} from {}",
        short_reason(err),
        age(now().saturating_sub(fetched_at))
    )
}

/// A variable's value, when set and not empty.
pub(crate) fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A repository's URL without a trailing slash: what a source shows and keys its cache on.
pub(crate) fn repository_url(repo: &crate::config::Repository) -> String {
    repo.url
        .clone()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

/// `scheme://bucket/prefix` → (bucket, prefix).
pub fn split_bucket_url<'u>(url: &'u str, scheme: &str) -> Option<(&'u str, &'u str)> {
    crate::domain::repo_url::split_bucket(url, scheme)
}

pub(crate) fn normalize_digest(d: &str) -> String {
    let d = d.trim().to_ascii_lowercase();
    if d.contains(':') {
        d
    } else {
        format!("sha256:{d}")
    }
}

pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The digest-named package cache shared by every source (`<cache>/charts`).
pub(crate) fn packages_dir(cache_root: &Path) -> PathBuf {
    cache_root.join("charts")
}

fn package_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!("{}.tgz", digest.replace(':', "-")))
}

/// The cached package with this digest, when present and still intact.
pub(crate) fn cached_package(dir: &Path, digest: &str) -> Option<PathBuf> {
    let path = package_path(dir, digest);
    if !path.is_file() {
        return None;
    }
    match super::chart::digest(&path) {
        Ok(actual) if actual == digest => Some(path),
        _ => None,
    }
}

/// Why a download did not land in the cache.
pub(crate) enum SaveError {
    /// The connection broke mid-way.
    Network(reqwest::Error),
    Mismatch {
        expected: String,
        actual: String,
    },
    Io(SourceError),
}

impl SaveError {
    /// The user-facing error, `shown` being where the package came from.
    pub(crate) fn into_source_error(
        self,
        repo: &str,
        chart: &str,
        version: &str,
        shown: &str,
    ) -> SourceError {
        match self {
            SaveError::Network(e) => unreachable(repo, shown, e),
            SaveError::Io(e) => e,
            SaveError::Mismatch { expected, actual } => SourceError::DigestMismatch {
                repo: repo.to_string(),
                chart: chart.to_string(),
                version: version.to_string(),
                expected,
                actual,
            },
        }
    }
}

/// Streams `resp` into the package cache, hashing as it goes; the file appears under its
/// digest only once it matches `expected` (when given), so a bad download is never cached.
pub(crate) async fn save_package(
    resp: reqwest::Response,
    dir: &Path,
    expected: Option<&str>,
    progress: Progress<'_>,
) -> Result<(PathBuf, String), SaveError> {
    let io = |e: std::io::Error| SaveError::Io(io_error(dir, e));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = tempfile_in(dir).map_err(io)?;
    let total = resp.content_length();
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut file = std::io::BufWriter::new(tmp.as_file());
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(SaveError::Network)?;
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(io)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    file.flush().map_err(io)?;
    drop(file);
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if let Some(exp) = expected {
        if exp != actual {
            return Err(SaveError::Mismatch {
                expected: exp.to_string(),
                actual,
            });
        }
    }
    let path = package_path(dir, &actual);
    tmp.persist(&path).map_err(io)?;
    Ok((path, actual))
}

/// A temporary file in `dir` that removes itself unless persisted.
struct TempFile {
    path: PathBuf,
    file: std::fs::File,
    kept: bool,
}

impl TempFile {
    fn as_file(&self) -> &std::fs::File {
        &self.file
    }

    fn persist(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<TempFile> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!(
        ".download-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::File::create(&path)?;
    Ok(TempFile {
        path,
        file,
        kept: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5s ago");
        assert_eq!(age(3 * 3600 + 5), "3h ago");
        assert_eq!(age(2 * 86400), "2d ago");
    }
}
