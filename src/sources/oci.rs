//! Charts in an OCI registry (`oci://registry/path`, a chart at `oci://registry/path/<chart>`),
//! over the distribution API with reqwest: tags are versions (Helm writes `+` as `_`),
//! manifests must carry Helm's media types, blobs are verified and cached by digest.
//! Auth: basic, or the registry token flow (401 + `WWW-Authenticate: Bearer …`), with
//! credentials from the repository's `auth` variables, else Helm's or Docker's registry
//! config. OCI has no index of charts: listing uses `_catalog` filtered by the path, when
//! the registry serves it.

use super::fetch::{self, cached_package, env_value as env, now, packages_dir, sanitize};
use super::{
    pick_version, sort_versions, ChartSource, ChartVersion, FetchedChart, Progress, SourceError,
    SourceIndex,
};
use crate::config::{RepoType, Repository};
use base64::Engine as _;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// What Helm before 3.8 (and chartmuseum's OCI mode) wrote for the chart layer.
const LEGACY_CHART_MEDIA_TYPE: &str = "application/tar+gzip";
/// Where an answer that fits every scope (basic credentials) is remembered.
const ANY_SCOPE: &str = "*";
const MANIFEST_ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Clone)]
enum Credential {
    None,
    Basic { user: String, pass: String },
    Bearer(String),
}

pub struct OciSource {
    name: String,
    url: String,
    registry: String,
    base: String,
    scheme: &'static str,
    credential: Credential,
    client: reqwest::Client,
    cache: PathBuf,
    packages: PathBuf,
    /// Authorization header per token scope, learnt from the registry's challenges.
    authorizations: std::sync::Mutex<HashMap<String, String>>,
}

#[derive(Serialize, Deserialize)]
struct CachedTags {
    tags: Vec<String>,
    fetched_at: u64,
}

#[derive(Serialize, Deserialize)]
struct CachedIndex {
    index: SourceIndex,
    fetched_at: u64,
}

/// `oci://host[:port]/path` → (host[:port], path).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    crate::domain::repo_url::split_oci(url)
}

/// `user:pass` for `registry` from a Docker-style config (`auths.<host>.auth`, or
/// `username`/`password`); keys may carry a scheme (`https://host`).
pub fn credentials_from_config(text: &str, registry: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let entry = auths.iter().find_map(|(k, e)| {
        let host = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .trim_end_matches("/v2");
        (host.eq_ignore_ascii_case(registry)).then_some(e)
    })?;
    if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (u, p) = decoded.split_once(':')?;
        return Some((u.to_string(), p.to_string()));
    }
    let u = entry.get("username")?.as_str()?;
    let p = entry.get("password")?.as_str()?;
    Some((u.to_string(), p.to_string()))
}

/// Helm's registry config, then Docker's.
fn stored_credentials(registry: &str) -> Option<(String, String)> {
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let helm = env("HELM_REGISTRY_CONFIG").map(PathBuf::from).or_else(|| {
        directories::BaseDirs::new().map(|d| d.config_dir().join("helm/registry/config.json"))
    });
    let docker = env("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| home.map(|h| h.join(".docker/config.json")));
    [helm, docker]
        .into_iter()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|t| credentials_from_config(&t, registry))
}

/// The parameters of a `WWW-Authenticate` challenge: (scheme, {realm, service, scope}).
pub fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_string());
        rest = after.trim_start_matches([',', ' ']);
    }
    (scheme.to_ascii_lowercase(), params)
}

impl OciSource {
    pub fn new(repo: &Repository, cache_root: PathBuf) -> Result<Self, SourceError> {
        let url = fetch::repository_url(repo);
        let (registry, base) = split_url(&url).ok_or_else(|| SourceError::InvalidIndex {
            repo: repo.name.clone(),
            message: format!("`{url}` is not oci://REGISTRY[/PATH]"),
        })?;
        let (registry, base) = (registry.to_string(), base.to_string());
        let var = |v: &String| super::http::env_var(&repo.name, v);
        let credential = match &repo.auth {
            Some(a) => match (&a.username_env, &a.password_env, &a.token_env) {
                (Some(u), Some(p), _) => Credential::Basic {
                    user: var(u)?,
                    pass: var(p)?,
                },
                // A token with a user name is that user's password (GHCR, GitLab PATs).
                (Some(u), None, Some(t)) => Credential::Basic {
                    user: var(u)?,
                    pass: var(t)?,
                },
                (None, _, Some(t)) => Credential::Bearer(var(t)?),
                (Some(u), None, None) => Credential::Basic {
                    user: var(u)?,
                    pass: String::new(),
                },
                (None, _, None) => Credential::None,
            },
            None => match stored_credentials(&registry) {
                Some((user, pass)) => Credential::Basic { user, pass },
                None => Credential::None,
            },
        };
        let client = super::http::client().map_err(|e| fetch::unreachable(&repo.name, &url, e))?;
        let key = hex::encode(&Sha256::digest(url.as_bytes())[..6]);
        Ok(OciSource {
            packages: packages_dir(&cache_root),
            cache: cache_root
                .join("oci")
                .join(format!("{}-{key}", sanitize(&repo.name))),
            name: repo.name.clone(),
            url,
            registry,
            base,
            scheme: if repo.plain_http { "http" } else { "https" },
            credential,
            client,
            authorizations: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn repository(&self, chart: &str) -> String {
        if self.base.is_empty() {
            chart.to_string()
        } else {
            format!("{}/{chart}", self.base)
        }
    }

    /// How a chart reference reads in messages.
    fn shown(&self, chart: &str, reference: &str) -> String {
        format!(
            "oci://{}/{}{reference}",
            self.registry,
            self.repository(chart)
        )
    }

    fn basic_header(&self) -> Option<String> {
        match &self.credential {
            Credential::Basic { user, pass } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )),
            _ => None,
        }
    }

    fn refused(&self, shown: &str, status: u16) -> SourceError {
        SourceError::AuthRefused {
            repo: self.name.clone(),
            url: shown.to_string(),
            status,
        }
    }

    /// GET `path` on the registry, answering one authentication challenge.
    async fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        scope: &str,
        shown: &str,
    ) -> Result<reqwest::Response, SourceError> {
        let url = format!("{}://{}{path}", self.scheme, self.registry);
        let known = self
            .authorizations
            .lock()
            .ok()
            .and_then(|m| m.get(scope).or_else(|| m.get(ANY_SCOPE)).cloned());
        let authorization = known.or_else(|| match &self.credential {
            Credential::Bearer(t) => Some(format!("Bearer {t}")),
            _ => None,
        });
        let send = |auth: Option<String>| {
            let mut req = self.client.get(&url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(a) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            req.send()
        };
        let resp = send(authorization.clone())
            .await
            .map_err(|e| fetch::unreachable(&self.name, shown, e))?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (kind, params) = parse_challenge(&challenge);
        let answer = match kind.as_str() {
            "bearer" => self.token(&params, scope, shown).await?,
            "basic" => self
                .basic_header()
                .ok_or_else(|| self.refused(shown, 401))?,
            _ => return Err(self.refused(shown, 401)),
        };
        if authorization.as_deref() == Some(answer.as_str()) {
            return Err(self.refused(shown, 401));
        }
        if let Ok(mut m) = self.authorizations.lock() {
            // Basic credentials are not scoped: every later request carries them at once.
            let key = if kind == "basic" { ANY_SCOPE } else { scope };
            m.insert(key.to_string(), answer.clone());
        }
        let resp = send(Some(answer))
            .await
            .map_err(|e| fetch::unreachable(&self.name, shown, e))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.refused(shown, 401));
        }
        Ok(resp)
    }

    /// The token flow: ask the realm for a token for `scope`, with basic credentials when
    /// there are any (anonymous pulls get tokens too on public registries).
    async fn token(
        &self,
        params: &HashMap<String, String>,
        scope: &str,
        shown: &str,
    ) -> Result<String, SourceError> {
        let realm = params
            .get("realm")
            .ok_or_else(|| self.refused(shown, 401))?;
        let mut req = self.client.get(realm);
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = params.get("service") {
            query.push(("service", s));
        }
        query.push((
            "scope",
            params.get("scope").map(String::as_str).unwrap_or(scope),
        ));
        req = req.query(&query);
        if let Some(b) = self.basic_header() {
            req = req.header(reqwest::header::AUTHORIZATION, b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| fetch::unreachable(&self.name, realm, e))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(self.refused(shown, status));
        }
        if !resp.status().is_success() {
            return Err(SourceError::Http {
                repo: self.name.clone(),
                url: realm.clone(),
                status,
            });
        }
        let v: Value = resp
            .json()
            .await
            .map_err(|e| fetch::unreachable(&self.name, realm, e))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(Value::as_str)
            .ok_or_else(|| self.refused(shown, 401))?;
        Ok(format!("Bearer {token}"))
    }

    fn status_error(&self, shown: &str, status: u16) -> SourceError {
        super::http::status_error(&self.name, shown, status)
    }

    /// Follows `Link: <…>; rel="next"` pagination of `_catalog` and `tags/list`.
    async fn paged(
        &self,
        first: String,
        field: &str,
        scope: &str,
        shown: &str,
    ) -> Result<Result<Vec<String>, u16>, SourceError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let resp = self.get(&path, None, scope, shown).await?;
            if !resp.status().is_success() {
                return Ok(Err(resp.status().as_u16()));
            }
            next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(p, _)| p.to_string())
                .filter(|p| p.starts_with('/'));
            let v: Value = resp
                .json()
                .await
                .map_err(|e| fetch::unreachable(&self.name, shown, e))?;
            out.extend(
                v.get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
        }
        Ok(Ok(out))
    }

    fn tags_path(&self, chart: &str) -> PathBuf {
        self.cache.join(sanitize(chart)).join("tags.json")
    }

    fn manifest_path(&self, chart: &str, tag: &str) -> PathBuf {
        self.cache
            .join(sanitize(chart))
            .join(format!("{}.manifest.json", sanitize(tag)))
    }

    fn save(&self, path: &std::path::Path, bytes: &[u8]) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = fetch::write_atomic(path, bytes);
    }

    fn cached_tags(&self, chart: &str) -> Option<CachedTags> {
        std::fs::read(self.tags_path(chart))
            .ok()
            .and_then(|b| serde_json::from_slice::<CachedTags>(&b).ok())
    }

    /// The chart's tags, or the cached list with a warning when the registry is unreachable.
    async fn tags(&self, chart: &str) -> Result<(Vec<String>, Vec<String>), SourceError> {
        let repository = self.repository(chart);
        let shown = self.shown(chart, "");
        let path = format!("/v2/{repository}/tags/list?n=1000");
        let scope = format!("repository:{repository}:pull");
        match self.paged(path, "tags", &scope, &shown).await {
            Ok(Ok(tags)) => {
                let unchanged = self.cached_tags(chart).is_some_and(|c| {
                    c.tags == tags
                        && now().saturating_sub(c.fetched_at) <= fetch::REFRESH_GRACE_SECS
                });
                if !unchanged {
                    let cached = CachedTags {
                        tags: tags.clone(),
                        fetched_at: now(),
                    };
                    self.save(
                        &self.tags_path(chart),
                        &serde_json::to_vec(&cached).unwrap_or_default(),
                    );
                }
                Ok((tags, Vec::new()))
            }
            Ok(Err(404)) => Err(SourceError::ChartNotFound {
                repo: self.name.clone(),
                chart: chart.to_string(),
                available: self
                    .cached_index()
                    .map(|c| c.index.charts.into_keys().collect())
                    .unwrap_or_default(),
            }),
            Ok(Err(status)) => Err(self.status_error(&shown, status)),
            Err(e) if e.is_unreachable() => match self.cached_tags(chart) {
                Some(c) => Ok((
                    c.tags,
                    vec![fetch::offline_warning(
                        &self.name,
                        &e,
                        &format!("tags of `{chart}`"),
                        c.fetched_at,
                    )],
                )),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The chart's manifest for `tag`: (manifest, its digest), checked to be a Helm chart.
    async fn manifest(
        &self,
        chart: &str,
        tag: &str,
        offline: bool,
    ) -> Result<(Value, String), SourceError> {
        let repository = self.repository(chart);
        let shown = self.shown(chart, &format!(":{tag}"));
        let cache = self.manifest_path(chart, tag);
        let bytes = if offline {
            std::fs::read(&cache).map_err(|_| SourceError::Unreachable {
                repo: self.name.clone(),
                url: shown.clone(),
                message: "the registry is unreachable and this version was never pulled".into(),
            })?
        } else {
            let resp = self
                .get(
                    &format!("/v2/{repository}/manifests/{tag}"),
                    Some(MANIFEST_ACCEPT),
                    &format!("repository:{repository}:pull"),
                    &shown,
                )
                .await?;
            let status = resp.status().as_u16();
            if status == 404 {
                return Err(SourceError::ObjectNotFound {
                    repo: self.name.clone(),
                    url: shown,
                });
            }
            if !resp.status().is_success() {
                return Err(self.status_error(&shown, status));
            }
            let announced = resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| fetch::unreachable(&self.name, &shown, e))?
                .to_vec();
            let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            if let Some(expected) = announced.filter(|d| d.starts_with("sha256:")) {
                if expected != actual {
                    return Err(SourceError::DigestMismatch {
                        repo: self.name.clone(),
                        chart: chart.to_string(),
                        version: tag.to_string(),
                        expected,
                        actual,
                    });
                }
            }
            bytes
        };
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let manifest: Value =
            serde_json::from_slice(&bytes).map_err(|e| SourceError::InvalidChart {
                path: shown.clone(),
                message: format!("unreadable manifest: {e}"),
            })?;
        let config_type = manifest["config"]["mediaType"].as_str().unwrap_or("");
        if config_type != CONFIG_MEDIA_TYPE {
            return Err(SourceError::InvalidChart {
                path: shown,
                message: format!(
                    "not a Helm chart: its config media type is `{config_type}`, not `{CONFIG_MEDIA_TYPE}`"
                ),
            });
        }
        // A tag's manifest rarely changes: rewrite the cached copy only when it did.
        if !offline && std::fs::read(&cache).ok().as_deref() != Some(bytes.as_slice()) {
            self.save(&cache, &bytes);
        }
        Ok((manifest, digest))
    }

    fn chart_layer<'m>(&self, manifest: &'m Value, shown: &str) -> Result<&'m Value, SourceError> {
        manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| {
                matches!(
                    l["mediaType"].as_str(),
                    Some(CHART_MEDIA_TYPE) | Some(LEGACY_CHART_MEDIA_TYPE)
                )
            })
            .ok_or_else(|| SourceError::InvalidChart {
                path: shown.to_string(),
                message: format!("the manifest has no `{CHART_MEDIA_TYPE}` layer"),
            })
    }

    async fn pull(
        &self,
        chart: &str,
        version: &str,
        offline: bool,
        progress: Progress<'_>,
    ) -> Result<FetchedChart, SourceError> {
        let tag = version.replace('+', "_");
        let shown = self.shown(chart, &format!(":{tag}"));
        let (manifest, _) = self.manifest(chart, &tag, offline).await?;
        let layer = self.chart_layer(&manifest, &shown)?;
        let digest = layer["digest"].as_str().unwrap_or("").to_ascii_lowercase();
        if !digest.starts_with("sha256:") || digest.len() != 71 {
            return Err(SourceError::InvalidChart {
                path: shown,
                message: format!("unsupported layer digest `{digest}` (sha256 only)"),
            });
        }
        let fetched = |path: PathBuf, from_cache: bool| FetchedChart {
            repository: self.name.clone(),
            name: chart.to_string(),
            version: version.to_string(),
            path,
            digest: digest.clone(),
            from_cache,
            warnings: Vec::new(),
            revision: None,
            dependencies: Vec::new(),
        };
        if let Some(path) = cached_package(&self.packages, &digest) {
            return Ok(fetched(path, true));
        }
        if offline {
            return Err(SourceError::Unreachable {
                repo: self.name.clone(),
                url: shown,
                message: "the registry is unreachable and this version is not cached".into(),
            });
        }
        let repository = self.repository(chart);
        let resp = self
            .get(
                &format!("/v2/{repository}/blobs/{digest}"),
                None,
                &format!("repository:{repository}:pull"),
                &shown,
            )
            .await?;
        if resp.status().as_u16() == 404 {
            return Err(SourceError::ObjectNotFound {
                repo: self.name.clone(),
                url: format!("{shown} layer {digest}"),
            });
        }
        if !resp.status().is_success() {
            return Err(self.status_error(&shown, resp.status().as_u16()));
        }
        let (path, _) = fetch::save_package(resp, &self.packages, Some(&digest), progress)
            .await
            .map_err(|e| e.into_source_error(&self.name, chart, version, &shown))?;
        Ok(fetched(path, false))
    }

    fn index_path(&self) -> PathBuf {
        self.cache.join("index.json")
    }

    fn cached_index(&self) -> Option<CachedIndex> {
        std::fs::read(self.index_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// A version's Chart.yaml (the config blob), for descriptions in listings;
    /// an error when that version is not a Helm chart (other artifacts share registries).
    async fn describe(&self, chart: &str, v: &mut ChartVersion) -> Result<(), SourceError> {
        let tag = v.version.replace('+', "_");
        let (manifest, _) = self.manifest(chart, &tag, false).await?;
        let Some(config) = manifest["config"]["digest"].as_str() else {
            return Ok(());
        };
        let repository = self.repository(chart);
        let shown = self.shown(chart, &format!(":{tag}"));
        let resp = self
            .get(
                &format!("/v2/{repository}/blobs/{config}"),
                None,
                &format!("repository:{repository}:pull"),
                &shown,
            )
            .await?;
        if let Ok(meta) = resp.json::<Value>().await {
            v.description = meta["description"].as_str().map(str::to_string);
            v.app_version = meta["appVersion"].as_str().map(str::to_string);
        }
        Ok(())
    }

    async fn list(&self) -> Result<SourceIndex, SourceError> {
        let shown = self.url.clone();
        let mut index = SourceIndex::default();
        let repos = match self
            .paged(
                "/v2/_catalog?n=1000".into(),
                "repositories",
                "registry:catalog:*",
                &shown,
            )
            .await
        {
            Ok(Ok(r)) => r,
            // Registries that keep their catalog private refuse the scope itself.
            Ok(Err(status)) | Err(SourceError::AuthRefused { status, .. })
                if matches!(status, 401 | 403 | 404) =>
            {
                let why = if status == 404 {
                    "it has no _catalog"
                } else {
                    "_catalog refused these credentials; some registries keep it private"
                };
                index.warnings.push(format!(
                    "registry of `{}` does not list its repositories (HTTP {status}: {why}): name a chart directly (`helmdeck repo pull {}/CHART`)",
                    self.name, self.name
                ));
                return Ok(index);
            }
            Ok(Err(status)) => return Err(self.status_error(&shown, status)),
            Err(e) => return Err(e),
        };
        let prefix = if self.base.is_empty() {
            String::new()
        } else {
            format!("{}/", self.base)
        };
        for r in repos {
            let Some(chart) = r.strip_prefix(&prefix) else {
                continue;
            };
            if chart.is_empty() || chart.contains('/') {
                continue;
            }
            let (tags, _) = match self.tags(chart).await {
                Ok(t) => t,
                Err(e) if e.is_unreachable() => return Err(e),
                Err(_) => continue,
            };
            let mut versions: Vec<ChartVersion> = tags
                .into_iter()
                .map(|t| t.replace('_', "+"))
                .filter(|v| crate::domain::chartver::parse_lenient(v).is_ok())
                .map(|version| ChartVersion {
                    name: chart.to_string(),
                    version,
                    app_version: None,
                    description: None,
                    digest: None,
                    urls: Vec::new(),
                })
                .collect();
            if versions.is_empty() {
                continue;
            }
            sort_versions(&mut versions);
            // The version `repo search` shows: the newest stable one, else the newest.
            let shown = versions
                .iter()
                .position(|v| !v.version.contains('-'))
                .unwrap_or(0);
            match self.describe(chart, &mut versions[shown]).await {
                Err(SourceError::InvalidChart { .. }) => continue,
                Err(e) if e.is_unreachable() => return Err(e),
                _ => {}
            }
            index.charts.insert(chart.to_string(), versions);
        }
        Ok(index)
    }
}

impl ChartSource for OciSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> RepoType {
        RepoType::Oci
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn index(&self) -> BoxFuture<'_, Result<SourceIndex, SourceError>> {
        Box::pin(async move {
            match self.list().await {
                Ok(index) => {
                    let cached = CachedIndex {
                        index: index.clone(),
                        fetched_at: now(),
                    };
                    if index.warnings.is_empty() {
                        self.save(
                            &self.index_path(),
                            &serde_json::to_vec(&cached).unwrap_or_default(),
                        );
                    }
                    Ok(index)
                }
                Err(e) if e.is_unreachable() => match self.cached_index() {
                    Some(c) => {
                        let mut index = c.index;
                        index.warnings = vec![fetch::offline_warning(
                            &self.name,
                            &e,
                            "chart list",
                            c.fetched_at,
                        )];
                        Ok(index)
                    }
                    None => Err(e),
                },
                Err(e) => Err(e),
            }
        })
    }

    fn fetch<'a>(
        &'a self,
        chart: &'a str,
        constraint: Option<&'a str>,
        progress: Progress<'a>,
    ) -> BoxFuture<'a, Result<FetchedChart, SourceError>> {
        Box::pin(async move {
            let (tags, warnings) = self.tags(chart).await?;
            let offline = !warnings.is_empty();
            let mut versions: Vec<ChartVersion> = tags
                .into_iter()
                .map(|t| ChartVersion {
                    name: chart.to_string(),
                    version: t.replace('_', "+"),
                    app_version: None,
                    description: None,
                    digest: None,
                    urls: Vec::new(),
                })
                .collect();
            sort_versions(&mut versions);
            let v = pick_version(&self.name, chart, &versions, constraint)?;
            let mut fetched = self.pull(chart, &v.version, offline, progress).await?;
            fetched.warnings = warnings;
            Ok(fetched)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed() {
        let (kind, p) = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:charts/web:pull""#,
        );
        assert_eq!(kind, "bearer");
        assert_eq!(p["realm"], "https://auth.example.com/token");
        assert_eq!(p["service"], "registry.example.com");
        assert_eq!(p["scope"], "repository:charts/web:pull");
        let (kind, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(
            (kind.as_str(), p["realm"].as_str()),
            ("basic", "Registry Realm")
        );
    }

    #[test]
    fn docker_config_credentials_match_the_host() {
        let text = r#"{"auths":{"https://127.0.0.1:5000":{"auth":"ZGVwbG95OnMzY3JldA=="},"other.io":{"username":"u","password":"p"}}}"#;
        assert_eq!(
            credentials_from_config(text, "127.0.0.1:5000"),
            Some(("deploy".into(), "s3cret".into()))
        );
        assert_eq!(
            credentials_from_config(text, "other.io"),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(credentials_from_config(text, "nowhere.io"), None);
    }
}
