//! A Helm repository layout — `index.yaml` plus packaged charts — behind a pluggable
//! transport: plain HTTP(S) here, S3 and GCS buckets in `s3.rs` and `gcs.rs`. The index is
//! revalidated on every use (ETag / Last-Modified) and cached, so that an unreachable
//! repository falls back to the cached copy with a warning; packages are cached by digest
//! and verified against the index.

use super::fetch::{
    self, cached_package, normalize_digest, now, packages_dir, sanitize, write_atomic,
};
use super::{
    pick_version, sort_versions, ChartSource, ChartVersion, FetchedChart, Progress, SourceError,
    SourceIndex,
};
use crate::config::{RepoType, Repository};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

pub use super::fetch::age;

/// How a Helm repository's files are reached. URLs are absolute: the repository's own
/// scheme (`https://`, `s3://bucket/key`, `gs://bucket/key`) or, for charts an index points
/// elsewhere, `http(s)://`.
pub trait Transport: Send + Sync {
    /// A GET for `url`, authenticated when the URL belongs to the repository.
    fn get<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<reqwest::RequestBuilder, SourceError>>;

    /// The error for a refusal; `body` is the start of the answer (S3 and GCS tell a
    /// missing bucket from a missing object there).
    fn refusal<'a>(
        &'a self,
        repo: &'a str,
        url: &'a str,
        status: u16,
        body: String,
    ) -> BoxFuture<'a, SourceError> {
        let _ = body;
        Box::pin(async move { status_error(repo, url, status) })
    }
}

/// The usual mapping: 401/403 refused, anything else an HTTP failure.
pub fn status_error(repo: &str, url: &str, status: u16) -> SourceError {
    if status == 401 || status == 403 {
        SourceError::AuthRefused {
            repo: repo.to_string(),
            url: url.to_string(),
            status,
        }
    } else {
        SourceError::Http {
            repo: repo.to_string(),
            url: url.to_string(),
            status,
        }
    }
}

/// The HTTP client every source uses.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("helmdeck/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The client of a bucket transport (S3, GCS); failing to build one is reported against
/// the repository's URL as written.
pub(crate) fn transport_client(repo: &Repository) -> Result<reqwest::Client, SourceError> {
    client().map_err(|e| SourceError::Unreachable {
        repo: repo.name.clone(),
        url: repo.url.clone().unwrap_or_default(),
        message: e.to_string(),
    })
}

/// Plain HTTP(S) with optional basic or bearer credentials.
pub struct WebTransport {
    base: String,
    auth: Auth,
    client: reqwest::Client,
}

#[derive(Clone)]
enum Auth {
    None,
    Basic { user: String, pass: String },
    Bearer(String),
}

impl Transport for WebTransport {
    /// Credentials go only to the repository's own host (as Helm does without
    /// --pass-credentials).
    fn get<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<reqwest::RequestBuilder, SourceError>> {
        Box::pin(async move {
            let req = self.client.get(url);
            if !same_origin(&self.base, url) {
                return Ok(req);
            }
            Ok(match &self.auth {
                Auth::None => req,
                Auth::Basic { user, pass } => req.basic_auth(user, Some(pass)),
                Auth::Bearer(t) => req.bearer_auth(t),
            })
        })
    }
}

/// A cloud metadata server's answer (EC2's IMDS, GCE's token endpoint), or None when it
/// refuses or stays silent: off that cloud nothing listens, so give up after a second.
pub(crate) async fn metadata_answer(req: reqwest::RequestBuilder) -> Option<reqwest::Response> {
    req.timeout(Duration::from_secs(1))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()
}

/// A Helm repository layout in a bucket (`scheme://bucket/prefix`) through `transport`.
pub(crate) fn bucket_source(
    repo: &Repository,
    kind: RepoType,
    transport: impl FnOnce(&Repository) -> Result<Box<dyn Transport>, SourceError>,
    cache_root: PathBuf,
) -> Result<HttpSource, SourceError> {
    let url = repo.url.clone().unwrap_or_default();
    let scheme = if kind == RepoType::Gcs { "gs" } else { "s3" };
    if fetch::split_bucket_url(&url, scheme).is_none() {
        return Err(SourceError::InvalidIndex {
            repo: repo.name.clone(),
            message: format!("`{url}` is not {scheme}://BUCKET[/PREFIX]"),
        });
    }
    Ok(HttpSource::with_transport(
        repo,
        kind,
        &url,
        transport(repo)?,
        cache_root,
    ))
}

/// Reads the variable a repository's `auth` names.
pub(crate) fn env_var(repo: &str, var: &str) -> Result<String, SourceError> {
    std::env::var(var).map_err(|_| SourceError::MissingCredential {
        repo: repo.to_string(),
        var: var.to_string(),
    })
}

/// A Helm repository (index.yaml + packages) reached through a [`Transport`].
pub struct HttpSource {
    name: String,
    kind: RepoType,
    url: String,
    transport: Box<dyn Transport>,
    cache: PathBuf,
    packages: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexMeta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at: u64,
}

impl HttpSource {
    /// A Helm repository over HTTP(S).
    pub fn new(repo: &Repository, cache_root: PathBuf) -> Result<Self, SourceError> {
        let url = fetch::repository_url(repo);
        let env = |var: &String| env_var(&repo.name, var);
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
        let client = client().map_err(|e| fetch::unreachable(&repo.name, &url, e))?;
        let transport = WebTransport {
            base: url.clone(),
            auth,
            client,
        };
        Ok(Self::with_transport(
            repo,
            RepoType::Http,
            &url,
            Box::new(transport),
            cache_root,
        ))
    }

    /// A Helm repository layout under `url` (no trailing slash), reached through `transport`.
    pub fn with_transport(
        repo: &Repository,
        kind: RepoType,
        url: &str,
        transport: Box<dyn Transport>,
        cache_root: PathBuf,
    ) -> Self {
        let url = url.trim_end_matches('/').to_string();
        let key = hex::encode(&Sha256::digest(url.as_bytes())[..6]);
        HttpSource {
            packages: packages_dir(&cache_root),
            cache: cache_root
                .join("repos")
                .join(format!("{}-{key}", sanitize(&repo.name))),
            name: repo.name.clone(),
            kind,
            url,
            transport,
        }
    }

    fn index_path(&self) -> PathBuf {
        self.cache.join("index.yaml")
    }

    fn meta_path(&self) -> PathBuf {
        self.cache.join("index.meta.json")
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, SourceError> {
        req.send()
            .await
            .map_err(|e| fetch::unreachable(&self.name, url, e))
    }

    async fn refusal(&self, url: &str, resp: reqwest::Response) -> SourceError {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(4096).collect();
        self.transport.refusal(&self.name, url, status, body).await
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
        let io = |e: std::io::Error| fetch::io_error(&self.cache, e);
        std::fs::create_dir_all(&self.cache).map_err(io)?;
        write_atomic(&self.index_path(), text.as_bytes()).map_err(io)?;
        self.write_meta(meta)
    }

    fn write_meta(&self, meta: &IndexMeta) -> Result<(), SourceError> {
        let meta_bytes = serde_json::to_vec_pretty(meta).unwrap_or_default();
        write_atomic(&self.meta_path(), &meta_bytes).map_err(|e| fetch::io_error(&self.cache, e))
    }

    /// The index: revalidated against the server, or the cached copy (with a warning)
    /// when the server cannot be reached.
    async fn load_index(&self) -> Result<SourceIndex, SourceError> {
        let cached_index = |text: String, warnings: Vec<String>| {
            let mut index = parse_index(&self.name, &text)?;
            index.warnings = warnings;
            Ok(index)
        };
        let url = format!("{}/index.yaml", self.url);
        let cached = self.read_cached_index();
        let offline = |err: SourceError, cached: Option<(String, IndexMeta)>| match cached {
            Some((text, meta)) => {
                tracing::warn!(repo = %self.name, "repository unreachable, using cached index");
                cached_index(
                    text,
                    vec![fetch::offline_warning(
                        &self.name,
                        &err,
                        "index",
                        meta.fetched_at,
                    )],
                )
            }
            None => Err(err),
        };
        let mut req = match self.transport.get(&url).await {
            Ok(r) => r,
            // A credential source that cannot be reached (a metadata server, a token
            // endpoint) is the network's failure too.
            Err(e) if e.is_unreachable() => return offline(e, cached),
            Err(e) => return Err(e),
        };
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
        let resp = match self.send(req, &url).await {
            Ok(r) => r,
            Err(e) => return offline(e, cached),
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            if let Some((text, mut meta)) = cached {
                if now().saturating_sub(meta.fetched_at) > fetch::REFRESH_GRACE_SECS {
                    meta.fetched_at = now();
                    let _ = self.write_meta(&meta);
                }
                return cached_index(text, Vec::new());
            }
        }
        if !status.is_success() {
            if status.is_server_error() {
                if let Some((text, meta)) = cached {
                    return cached_index(
                        text,
                        vec![format!(
                            "repository `{}` answered HTTP {}: using the cached index from {}",
                            self.name,
                            status.as_u16(),
                            age(now().saturating_sub(meta.fetched_at))
                        )],
                    );
                }
            }
            return Err(self.refusal(&url, resp).await);
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
        let text = resp
            .text()
            .await
            .map_err(|e| fetch::unreachable(&self.name, &url, e))?;
        // Parse before caching, so that a broken index never replaces a good copy.
        let index = parse_index(&self.name, &text)?;
        // Servers that ignore If-None-Match (the GCS emulator) resend the same index.
        let unchanged = cached.is_some_and(|(old, m)| {
            old == text && now().saturating_sub(m.fetched_at) <= fetch::REFRESH_GRACE_SECS
        });
        if !unchanged {
            self.write_cached_index(&text, &meta)?;
        }
        Ok(index)
    }

    /// A chart URL from the index: absolute (any scheme) as is, relative under the repository.
    fn chart_url(&self, v: &ChartVersion) -> Option<String> {
        let u = v.urls.first()?;
        if u.contains("://") {
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
        let expected = v.digest.as_ref().map(|d| normalize_digest(d));
        if let Some(exp) = &expected {
            if let Some(path) = cached_package(&self.packages, exp) {
                return Ok(self.fetched(v, path, exp.clone(), true));
            }
        }
        let req = self.transport.get(&url).await?;
        let resp = self.send(req, &url).await?;
        if !resp.status().is_success() {
            return Err(self.refusal(&url, resp).await);
        }
        let (path, digest) =
            fetch::save_package(resp, &self.packages, expected.as_deref(), progress)
                .await
                .map_err(|e| e.into_source_error(&self.name, &v.name, &v.version, &url))?;
        Ok(self.fetched(v, path, digest, false))
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
            dependencies: Vec::new(),
        }
    }
}

fn origin_of(url: &str) -> &str {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after..]
        .find('/')
        .map(|i| after + i)
        .unwrap_or(url.len());
    &url[..end]
}

pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    origin_of(a).eq_ignore_ascii_case(origin_of(b))
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
        self.kind
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>> {
        Box::pin(async move { self.load_index().await })
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
}
