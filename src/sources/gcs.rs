//! A Helm repository layout in a Google Cloud Storage bucket (`gs://bucket/prefix`), read
//! through the JSON API (`/storage/v1/b/B/o/O?alt=media`) — the API gcp-storage-emulator
//! serves too. Credentials are Application Default Credentials: a service-account key
//! (signed JWT → token, RS256 over `ring`), a user's refresh token, or the GCE metadata
//! server; with none (or an emulator endpoint) requests go anonymous.

use super::fetch::env_value as env;
use super::http::{self, HttpSource, Transport};
use super::SourceError;
use crate::config::{RepoType, Repository};
use base64::Engine as _;
use futures::future::BoxFuture;
use serde_json::Value;
use std::path::PathBuf;

const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_only";

enum Credentials {
    Anonymous,
    /// A ready-made OAuth token (the repository's `auth.token_env`).
    Token(String),
    ServiceAccount {
        from: String,
        email: String,
        key_id: Option<String>,
        key: std::sync::Arc<ring::signature::RsaKeyPair>,
        token_uri: String,
    },
    AuthorizedUser {
        from: String,
        client_id: String,
        client_secret: String,
        refresh_token: String,
        token_uri: String,
    },
    /// The GCE metadata server, asked lazily; nothing there means anonymous.
    Metadata,
}

pub struct GcsTransport {
    repo: String,
    endpoint: String,
    creds: Credentials,
    /// (token, unix time it expires); None inside: anonymous after all.
    token: tokio::sync::Mutex<Option<(Option<String>, u64)>>,
    client: reqwest::Client,
}

/// `gs://bucket/prefix` → (bucket, prefix).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    super::fetch::split_bucket_url(url, "gs")
}

/// The source for a `gcs` repository.
pub fn source(repo: &Repository, cache_root: PathBuf) -> Result<HttpSource, SourceError> {
    http::bucket_source(
        repo,
        RepoType::Gcs,
        |r| Ok(Box::new(GcsTransport::new(r)?)),
        cache_root,
    )
}

fn bad(repo: &str, from: &str, message: impl Into<String>) -> SourceError {
    SourceError::BadCredentials {
        repo: repo.to_string(),
        from: from.to_string(),
        message: message.into(),
    }
}

/// Reads an ADC file: a service-account key or an `authorized_user` refresh token.
fn credentials_file(repo: &str, path: &str) -> Result<Credentials, SourceError> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(repo, path, e.to_string()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(repo, path, e.to_string()))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let need = |k: &str| s(k).ok_or_else(|| bad(repo, path, format!("no `{k}`")));
    let token_uri = s("token_uri").unwrap_or_else(|| "https://oauth2.googleapis.com/token".into());
    match s("type").as_deref() {
        Some("service_account") => {
            let pem = need("private_key")?;
            let der = pem_body(&pem).ok_or_else(|| bad(repo, path, "`private_key` is not PEM"))?;
            let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
                bad(
                    repo,
                    path,
                    format!("`private_key` is not a PKCS#8 RSA key ({e})"),
                )
            })?;
            Ok(Credentials::ServiceAccount {
                from: path.to_string(),
                email: need("client_email")?,
                key_id: s("private_key_id"),
                key: std::sync::Arc::new(key),
                token_uri,
            })
        }
        Some("authorized_user") => Ok(Credentials::AuthorizedUser {
            from: path.to_string(),
            client_id: need("client_id")?,
            client_secret: need("client_secret")?,
            refresh_token: need("refresh_token")?,
            token_uri,
        }),
        other => Err(bad(
            repo,
            path,
            format!(
                "credentials of type `{}` are not supported (service_account or authorized_user)",
                other.unwrap_or("?")
            ),
        )),
    }
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

impl GcsTransport {
    pub fn new(repo: &Repository) -> Result<Self, SourceError> {
        let emulator = env("STORAGE_EMULATOR_HOST");
        let custom = repo.endpoint.clone().or(emulator);
        let creds = if let Some(var) = repo.auth.as_ref().and_then(|a| a.token_env.as_ref()) {
            Credentials::Token(http::env_var(&repo.name, var)?)
        } else if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
            credentials_file(&repo.name, &path)?
        } else if custom.is_some() {
            // An emulator or a private endpoint: Google's credentials are not theirs.
            Credentials::Anonymous
        } else {
            let well_known = env("CLOUDSDK_CONFIG")
                .map(PathBuf::from)
                .or_else(|| {
                    directories::BaseDirs::new().map(|d| d.home_dir().join(".config/gcloud"))
                })
                .map(|d| d.join("application_default_credentials.json"));
            match well_known.filter(|p| p.is_file()) {
                Some(p) => credentials_file(&repo.name, &p.display().to_string())?,
                None => Credentials::Metadata,
            }
        };
        let endpoint = match custom {
            Some(e) if e.contains("://") => e,
            Some(e) => format!("http://{e}"),
            None => "https://storage.googleapis.com".into(),
        };
        let client = http::transport_client(repo)?;
        Ok(GcsTransport {
            repo: repo.name.clone(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            creds,
            token: tokio::sync::Mutex::new(None),
            client,
        })
    }

    /// The JSON API media URL of an object: its whole name is one path segment.
    pub fn object_url(&self, bucket: &str, object: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}?alt=media",
            self.endpoint,
            urlencoding::encode(bucket),
            urlencoding::encode(object)
        )
    }

    /// A bearer token, refreshed a minute before it expires.
    async fn token(&self) -> Result<Option<String>, SourceError> {
        match &self.creds {
            Credentials::Anonymous => return Ok(None),
            Credentials::Token(t) => return Ok(Some(t.clone())),
            _ => {}
        }
        let mut slot = self.token.lock().await;
        let now = super::fetch::now();
        if let Some((t, exp)) = slot.as_ref() {
            if *exp > now + 60 {
                return Ok(t.clone());
            }
        }
        let (token, lifetime) = self.new_token(now).await?;
        *slot = Some((token.clone(), now + lifetime));
        Ok(token)
    }

    async fn new_token(&self, now: u64) -> Result<(Option<String>, u64), SourceError> {
        let (from, token_uri, form): (&str, &str, Vec<(&str, String)>) = match &self.creds {
            Credentials::ServiceAccount {
                from,
                email,
                key_id,
                key,
                token_uri,
            } => {
                let jwt = service_account_jwt(
                    &self.repo,
                    from,
                    email,
                    key_id.as_deref(),
                    key,
                    token_uri,
                    now,
                )?;
                (
                    from,
                    token_uri,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                        ),
                        ("assertion", jwt),
                    ],
                )
            }
            Credentials::AuthorizedUser {
                from,
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => (
                from,
                token_uri,
                vec![
                    ("grant_type", "refresh_token".into()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.clone()),
                    ("refresh_token", refresh_token.clone()),
                ],
            ),
            Credentials::Metadata => return Ok(self.metadata_token().await),
            Credentials::Anonymous | Credentials::Token(_) => return Ok((None, u64::MAX / 2)),
        };
        let resp = self
            .client
            .post(token_uri)
            .form(&form)
            .send()
            .await
            .map_err(|e| super::fetch::unreachable(&self.repo, token_uri, e))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            // The OAuth error code ("invalid_grant") says why without echoing secrets.
            let why = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused");
            return Err(bad(
                &self.repo,
                from,
                format!("{token_uri} refused them (HTTP {}: {why})", status.as_u16()),
            ));
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(
                    &self.repo,
                    from,
                    format!("{token_uri} gave no access_token"),
                )
            })?;
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        Ok((Some(token.to_string()), lifetime))
    }

    /// The GCE metadata server's token for the VM's service account; off GCE nothing
    /// answers within a second and requests go anonymous (public buckets).
    async fn metadata_token(&self) -> (Option<String>, u64) {
        let host = env("GCE_METADATA_HOST").unwrap_or_else(|| "169.254.169.254".into());
        let url = format!(
            "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
            urlencoding::encode(SCOPE)
        );
        let answer = async {
            let v: Value =
                http::metadata_answer(self.client.get(url).header("Metadata-Flavor", "Google"))
                    .await?
                    .json()
                    .await
                    .ok()?;
            Some((
                v.get("access_token")?.as_str()?.to_string(),
                v.get("expires_in").and_then(Value::as_u64).unwrap_or(300),
            ))
        }
        .await;
        match answer {
            Some((t, life)) => (Some(t), life),
            // Ask again in ten minutes, not on every request.
            None => (None, 600),
        }
    }
}

fn service_account_jwt(
    repo: &str,
    from: &str,
    email: &str,
    key_id: Option<&str>,
    key: &ring::signature::RsaKeyPair,
    token_uri: &str,
    now: u64,
) -> Result<String, SourceError> {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(k) = key_id {
        header["kid"] = Value::String(k.to_string());
    }
    let claims = serde_json::json!({
        "iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600,
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| bad(repo, from, "signing the token request failed"))?;
    Ok(format!("{input}.{}", b64(&sig)))
}

impl Transport for GcsTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<reqwest::RequestBuilder, SourceError>> {
        Box::pin(async move {
            let Some((bucket, object)) = split_url(url) else {
                return Ok(self.client.get(url));
            };
            let mut req = self.client.get(self.object_url(bucket, object));
            if let Some(t) = self.token().await? {
                req = req.bearer_auth(t);
            }
            Ok(req)
        })
    }

    /// The JSON API answers a bare 404 for a missing bucket and a missing object alike
    /// (so does the emulator): asking for the bucket tells them apart.
    fn refusal<'a>(
        &'a self,
        repo: &'a str,
        url: &'a str,
        status: u16,
        body: String,
    ) -> BoxFuture<'a, SourceError> {
        Box::pin(async move {
            let _ = body;
            let Some((bucket, _)) = split_url(url).filter(|_| status == 404) else {
                return http::status_error(repo, url, status);
            };
            let mut req = self.client.get(format!(
                "{}/storage/v1/b/{}",
                self.endpoint,
                urlencoding::encode(bucket)
            ));
            if let Ok(Some(t)) = self.token().await {
                req = req.bearer_auth(t);
            }
            match req.send().await {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
                    SourceError::BucketNotFound {
                        repo: repo.to_string(),
                        bucket: bucket.to_string(),
                    }
                }
                _ => SourceError::ObjectNotFound {
                    repo: repo.to_string(),
                    url: url.to_string(),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_one_encoded_segment() {
        let t = GcsTransport {
            repo: "g".into(),
            endpoint: "http://127.0.0.1:9".into(),
            creds: Credentials::Anonymous,
            token: tokio::sync::Mutex::new(None),
            client: reqwest::Client::new(),
        };
        assert_eq!(
            t.object_url("charts", "stable/web-1.2.0+b1.tgz"),
            "http://127.0.0.1:9/storage/v1/b/charts/o/stable%2Fweb-1.2.0%2Bb1.tgz?alt=media"
        );
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_a_credentials_error() {
        let dir = std::env::temp_dir().join(format!("helmdeck-gcs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("sa.json");
        std::fs::write(
            &f,
            r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
        )
        .expect("write");
        let e = credentials_file("g", &f.display().to_string())
            .err()
            .expect("refused");
        assert!(matches!(e, SourceError::BadCredentials { .. }), "{e}");
        assert!(e.to_string().contains("PKCS#8"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
