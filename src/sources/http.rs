//! A Helm repository served over HTTP(S): `index.yaml` plus packaged charts. The index is
//! revalidated on every use (ETag / Last-Modified) and cached, so that an unreachable
//! repository falls back to the cached copy with a warning; packages are cached by digest
//! and verified against the index.

use super::{
    pick_version, sort_versions, ChartSource, ChartVersion, FetchedChart, Progress, SourceError,
    SourceIndex,
};
use crate::config::{RepoType, Repository};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct HttpSource {
    name: String,
    url: String,
    auth: Auth,
    client: reqwest::Client,
    cache: PathBuf,
}

#[derive(Clone)]
enum Auth {
    None,
    Basic { user: String, pass: String },
    Bearer(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexMeta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at: u64,
}

fn now() -> u64 {
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

impl HttpSource {
    pub fn new(repo: &Repository, cache_root: PathBuf) -> Result<Self, SourceError> {
        let url = repo
            .url
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let env = |var: &String| {
            std::env::var(var).map_err(|_| SourceError::MissingCredential {
                repo: repo.name.clone(),
                var: var.clone(),
            })
        };
        let auth = match &repo.auth {
            Some(a) if a.token_env.is_some() => {
                Auth::Bearer(env(a.token_env.as_ref().unwrap_or(&String::new()))?)
            }
            Some(a) => match (&a.username_env, &a.password_env) {
                (Some(u), Some(p)) => Auth::Basic {
                    user: env(u)?,
                    pass: env(p)?,
                },
                (Some(u), None) => Auth::Basic {
                    user: env(u)?,
                    pass: String::new(),
                },
                _ => Auth::None,
            },
            None => Auth::None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("helmdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Unreachable {
                repo: repo.name.clone(),
                url: url.clone(),
                message: e.to_string(),
            })?;
        let key = hex::encode(&Sha256::digest(url.as_bytes())[..6]);
        Ok(HttpSource {
            cache: cache_root,
            name: repo.name.clone(),
            url,
            auth,
            client,
        }
        .with_cache_key(&key))
    }

    fn with_cache_key(mut self, key: &str) -> Self {
        self.cache = self
            .cache
            .join("repos")
            .join(format!("{}-{key}", sanitize(&self.name)));
        self
    }

    fn index_path(&self) -> PathBuf {
        self.cache.join("index.yaml")
    }

    fn meta_path(&self) -> PathBuf {
        self.cache.join("index.meta.json")
    }

    fn packages_dir(&self) -> PathBuf {
        self.cache
            .parent()
            .and_then(Path::parent)
            .map(|p| p.join("charts"))
            .unwrap_or_else(|| self.cache.join("charts"))
    }

    /// Credentials go only to the repository's own host (as Helm does without
    /// --pass-credentials).
    fn request(&self, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        if !same_origin(&self.url, url) {
            return req;
        }
        match &self.auth {
            Auth::None => req,
            Auth::Basic { user, pass } => req.basic_auth(user, Some(pass)),
            Auth::Bearer(t) => req.bearer_auth(t),
        }
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error) -> SourceError {
        let mut message = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            message = format!("{message}: {s}");
            src = s.source();
        }
        SourceError::Unreachable {
            repo: self.name.clone(),
            url: url.to_string(),
            message,
        }
    }

    fn status_error(&self, url: &str, status: reqwest::StatusCode) -> SourceError {
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            SourceError::AuthRefused {
                repo: self.name.clone(),
                url: url.to_string(),
                status: status.as_u16(),
            }
        } else {
            SourceError::Http {
                repo: self.name.clone(),
                url: url.to_string(),
                status: status.as_u16(),
            }
        }
    }

    fn read_cached_index(&self) -> Option<(String, IndexMeta)> {
        let text = std::fs::read_to_string(self.index_path()).ok()?;
        let meta = std::fs::read(self.meta_path())
            .ok()
            .and_then(|b| serde_json::from_slice::<IndexMeta>(&b).ok())
            .unwrap_or_default();
        Some((text, meta))
    }

    fn write_cached_index(&self, text: &str, meta: &IndexMeta) -> Result<(), SourceError> {
        let io = |e: std::io::Error| SourceError::Io {
            path: self.cache.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.cache).map_err(io)?;
        write_atomic(&self.index_path(), text.as_bytes()).map_err(io)?;
        let meta_bytes = serde_json::to_vec_pretty(meta).unwrap_or_default();
        write_atomic(&self.meta_path(), &meta_bytes).map_err(io)?;
        Ok(())
    }

    /// The index text: revalidated against the server, or the cached copy (with a warning)
    /// when the server cannot be reached.
    async fn index_text(&self) -> Result<(String, Vec<String>), SourceError> {
        let url = format!("{}/index.yaml", self.url);
        let cached = self.read_cached_index();
        let mut req = self.request(&url);
        if let Some((_, meta)) = &cached {
            if meta.url == url {
                if let Some(etag) = &meta.etag {
                    req = req.header(reqwest::header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &meta.last_modified {
                    req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
                }
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let err = self.unreachable(&url, &e);
                return match cached {
                    Some((text, meta)) => {
                        tracing::warn!(repo = %self.name, "repository unreachable, using cached index");
                        Ok((
                            text,
                            vec![format!(
                                "repository `{}` is unreachable ({}): using the cached index from {}",
                                self.name,
                                short_reason(&err),
                                age(now().saturating_sub(meta.fetched_at))
                            )],
                        ))
                    }
                    None => Err(err),
                };
            }
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            if let Some((text, mut meta)) = cached {
                meta.fetched_at = now();
                let _ = self.write_cached_index(&text, &meta);
                return Ok((text, Vec::new()));
            }
        }
        if !status.is_success() {
            if status.is_server_error() {
                if let Some((text, meta)) = cached {
                    return Ok((
                        text,
                        vec![format!(
                            "repository `{}` answered HTTP {}: using the cached index from {}",
                            self.name,
                            status.as_u16(),
                            age(now().saturating_sub(meta.fetched_at))
                        )],
                    ));
                }
            }
            return Err(self.status_error(&url, status));
        }
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let meta = IndexMeta {
            url: url.clone(),
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
            fetched_at: now(),
        };
        let text = resp.text().await.map_err(|e| self.unreachable(&url, &e))?;
        // Parse before caching, so that a broken index never replaces a good copy.
        parse_index(&self.name, &text)?;
        self.write_cached_index(&text, &meta)?;
        Ok((text, Vec::new()))
    }

    fn chart_url(&self, v: &ChartVersion) -> Option<String> {
        let u = v.urls.first()?;
        if u.starts_with("http://") || u.starts_with("https://") {
            Some(u.clone())
        } else {
            Some(format!(
                "{}/{}",
                self.url,
                u.trim_start_matches("./").trim_start_matches('/')
            ))
        }
    }

    async fn download(
        &self,
        v: &ChartVersion,
        progress: Progress<'_>,
    ) -> Result<FetchedChart, SourceError> {
        let url = self.chart_url(v).ok_or_else(|| SourceError::InvalidIndex {
            repo: self.name.clone(),
            message: format!("{} {} has no download URL", v.name, v.version),
        })?;
        let dir = self.packages_dir();
        let expected = v.digest.as_ref().map(|d| normalize_digest(d));
        if let Some(exp) = &expected {
            let cached = dir.join(format!("{}.tgz", exp.replace(':', "-")));
            if cached.is_file() {
                if let Ok(actual) = super::chart::digest(&cached) {
                    if &actual == exp {
                        return Ok(self.fetched(v, cached, actual, true));
                    }
                }
            }
        }
        let resp = self
            .request(&url)
            .send()
            .await
            .map_err(|e| self.unreachable(&url, &e))?;
        if !resp.status().is_success() {
            return Err(self.status_error(&url, resp.status()));
        }
        let total = resp.content_length();
        let mut hasher = Sha256::new();
        let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(64 << 20) as usize);
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(&url, &e))?;
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
            progress(bytes.len() as u64, total);
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if let Some(exp) = &expected {
            if exp != &actual {
                return Err(SourceError::DigestMismatch {
                    repo: self.name.clone(),
                    chart: v.name.clone(),
                    version: v.version.clone(),
                    expected: exp.clone(),
                    actual,
                });
            }
        }
        let io = |e: std::io::Error| SourceError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let path = dir.join(format!("{}.tgz", actual.replace(':', "-")));
        write_atomic(&path, &bytes).map_err(io)?;
        Ok(self.fetched(v, path, actual, false))
    }

    fn fetched(
        &self,
        v: &ChartVersion,
        path: PathBuf,
        digest: String,
        from_cache: bool,
    ) -> FetchedChart {
        FetchedChart {
            repository: self.name.clone(),
            name: v.name.clone(),
            version: v.version.clone(),
            path,
            digest,
            from_cache,
            warnings: Vec::new(),
            revision: None,
        }
    }
}

fn short_reason(e: &SourceError) -> String {
    match e {
        SourceError::Unreachable { message, .. } => {
            message.rsplit(": ").next().unwrap_or(message).to_string()
        }
        other => other.to_string(),
    }
}

fn normalize_digest(d: &str) -> String {
    let d = d.trim().to_ascii_lowercase();
    if d.contains(':') {
        d
    } else {
        format!("sha256:{d}")
    }
}

fn sanitize(s: &str) -> String {
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

fn origin_of(url: &str) -> &str {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after..]
        .find('/')
        .map(|i| after + i)
        .unwrap_or(url.len());
    &url[..end]
}

fn same_origin(a: &str, b: &str) -> bool {
    origin_of(a).eq_ignore_ascii_case(origin_of(b))
}

/// Writes through a temporary file and a rename, so that readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Parses a Helm repository `index.yaml`.
pub fn parse_index(repo: &str, text: &str) -> Result<SourceIndex, SourceError> {
    let bad = |m: String| SourceError::InvalidIndex {
        repo: repo.to_string(),
        message: m,
    };
    let doc = crate::domain::yaml::parse_document(text).map_err(|e| bad(e.to_string()))?;
    let entries = doc
        .value
        .get("entries")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no `entries` map".into()))?;
    let mut index = SourceIndex::default();
    for (name, versions) in entries {
        let Some(list) = versions.as_array() else {
            continue;
        };
        let mut out = Vec::new();
        for v in list {
            let s = |k: &str| match v.get(k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let Some(version) = s("version") else {
                continue;
            };
            out.push(ChartVersion {
                name: s("name").unwrap_or_else(|| name.clone()),
                version,
                app_version: s("appVersion"),
                description: s("description"),
                digest: s("digest"),
                urls: v
                    .get("urls")
                    .and_then(Value::as_array)
                    .map(|u| {
                        u.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        sort_versions(&mut out);
        index.charts.insert(name.clone(), out);
    }
    Ok(index)
}

impl ChartSource for HttpSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> RepoType {
        RepoType::Http
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>> {
        Box::pin(async move {
            let (text, warnings) = self.index_text().await?;
            let mut index = parse_index(&self.name, &text)?;
            index.warnings.extend(warnings);
            Ok(index)
        })
    }

    fn fetch<'a>(
        &'a self,
        chart: &'a str,
        constraint: Option<&'a str>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<FetchedChart, SourceError>> {
        Box::pin(async move {
            let index = self.index().await?;
            let versions = index
                .charts
                .get(chart)
                .ok_or_else(|| SourceError::ChartNotFound {
                    repo: self.name.clone(),
                    chart: chart.to_string(),
                    available: index.charts.keys().cloned().collect(),
                })?;
            let v = pick_version(&self.name, chart, versions, constraint)?;
            let mut fetched = self.download(v, progress).await?;
            fetched.warnings = index.warnings;
            Ok(fetched)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_on_the_repository_host() {
        assert!(same_origin(
            "https://charts.example.com/stable",
            "https://charts.example.com/x.tgz"
        ));
        assert!(!same_origin(
            "https://charts.example.com",
            "https://cdn.example.net/x.tgz"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:9090/x.tgz"
        ));
    }

    #[test]
    fn index_versions_are_sorted_newest_first() {
        let idx = parse_index(
            "r",
            "apiVersion: v1\nentries:\n  web:\n  - {name: web, version: 1.2.0, urls: [web-1.2.0.tgz]}\n  - {name: web, version: 1.10.0, urls: [web-1.10.0.tgz]}\n  - {name: web, version: 1.3.0-rc.1, urls: [a.tgz]}\n",
        )
        .expect("parses");
        let v: Vec<&str> = idx.charts["web"]
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(v, vec!["1.10.0", "1.3.0-rc.1", "1.2.0"]);
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5s ago");
        assert_eq!(age(3 * 3600 + 5), "3h ago");
        assert_eq!(age(2 * 86400), "2d ago");
    }
}
