//! A Helm repository layout in an S3 bucket (`s3://bucket/prefix`), read through the S3
//! REST API with AWS Signature V4 (hand-written over `ring`'s HMAC: two GETs do not
//! justify an SDK). Credentials are found the way AWS tools find them; with none, requests
//! go unsigned (public buckets, emulators). Index, cache and digest logic are `http.rs`'s.

use super::fetch::env_value as env;
use super::http::{self, HttpSource, Transport};
use super::SourceError;
use crate::config::{RepoType, Repository};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// An AWS access key. Never printed: it has no Debug.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

enum CredentialSource {
    Static(Credentials),
    /// EC2 instance metadata (IMDSv2), asked once; nothing there means unsigned requests.
    Instance,
    Anonymous,
}

pub struct S3Transport {
    repo: String,
    region: String,
    endpoint: Option<String>,
    source: CredentialSource,
    instance: tokio::sync::OnceCell<Option<Credentials>>,
    client: reqwest::Client,
}

/// `s3://bucket/prefix` → (bucket, prefix).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    super::fetch::split_bucket_url(url, "s3")
}

/// The source for a `s3` repository.
pub fn source(repo: &Repository, cache_root: PathBuf) -> Result<HttpSource, SourceError> {
    http::bucket_source(
        repo,
        RepoType::S3,
        |r| Ok(Box::new(S3Transport::new(r)?)),
        cache_root,
    )
}

fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
}

/// The sections of an AWS ini file (`~/.aws/credentials`, `~/.aws/config`).
fn ini_section(text: &str, wanted: &[String]) -> Option<Vec<(String, String)>> {
    let mut current: Option<String> = None;
    let mut found: Option<Vec<(String, String)>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            if wanted.iter().any(|w| w == name.trim()) && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if let (Some(c), Some(f), Some((k, v))) = (&current, found.as_mut(), line.split_once('=')) {
            if wanted.iter().any(|w| w == c) {
                f.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    found
}

fn profile() -> (String, bool) {
    match env("AWS_PROFILE") {
        Some(p) => (p, true),
        None => ("default".into(), false),
    }
}

fn credentials_file() -> Option<PathBuf> {
    env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws/credentials")))
}

fn config_file() -> Option<PathBuf> {
    env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws/config")))
}

fn profile_credentials(repo: &str) -> Result<Option<Credentials>, SourceError> {
    let (name, explicit) = profile();
    let read = |p: &Option<PathBuf>| p.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    let creds_text = read(&credentials_file());
    let config_text = read(&config_file());
    let from_creds = creds_text
        .as_deref()
        .and_then(|t| ini_section(t, std::slice::from_ref(&name)));
    let from_config = config_text
        .as_deref()
        .and_then(|t| ini_section(t, &[format!("profile {name}"), name.clone()]));
    let Some(section) = from_creds.or(from_config.clone()) else {
        if explicit {
            return Err(SourceError::BadCredentials {
                repo: repo.to_string(),
                from: "AWS_PROFILE".into(),
                message: format!(
                    "profile `{name}` is in neither ~/.aws/credentials nor ~/.aws/config"
                ),
            });
        }
        return Ok(None);
    };
    let get = |k: &str| {
        section
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(access_key), Some(secret_key)) => Ok(Some(Credentials {
            access_key,
            secret_key,
            session_token: get("aws_session_token"),
        })),
        _ => Ok(None),
    }
}

fn profile_region() -> Option<String> {
    let (name, _) = profile();
    let text = std::fs::read_to_string(config_file()?).ok()?;
    ini_section(&text, &[format!("profile {name}"), name])?
        .into_iter()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v)
}

impl S3Transport {
    pub fn new(repo: &Repository) -> Result<Self, SourceError> {
        let from_auth = match &repo.auth {
            Some(a) => match (&a.username_env, &a.password_env) {
                (Some(u), Some(p)) => Some(Credentials {
                    access_key: http::env_var(&repo.name, u)?,
                    secret_key: http::env_var(&repo.name, p)?,
                    session_token: match &a.token_env {
                        Some(t) => Some(http::env_var(&repo.name, t)?),
                        None => None,
                    },
                }),
                _ => None,
            },
            None => None,
        };
        let from_env = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key), Some(secret_key)) => Some(Credentials {
                access_key,
                secret_key,
                session_token: env("AWS_SESSION_TOKEN"),
            }),
            _ => None,
        };
        let endpoint = repo
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .map(|e| e.trim_end_matches('/').to_string());
        let source = match from_auth.or(from_env) {
            Some(c) => CredentialSource::Static(c),
            None => match profile_credentials(&repo.name)? {
                Some(c) => CredentialSource::Static(c),
                // Instance credentials belong to AWS itself, not to S3-compatible stores.
                None if endpoint.is_none()
                    && !env("AWS_EC2_METADATA_DISABLED")
                        .is_some_and(|v| v.eq_ignore_ascii_case("true")) =>
                {
                    CredentialSource::Instance
                }
                None => CredentialSource::Anonymous,
            },
        };
        let region = repo
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(profile_region)
            .unwrap_or_else(|| "us-east-1".into());
        let client = http::transport_client(repo)?;
        Ok(S3Transport {
            repo: repo.name.clone(),
            region,
            endpoint,
            source,
            instance: tokio::sync::OnceCell::new(),
            client,
        })
    }

    /// The HTTPS (or endpoint) URL of `s3://bucket/key`: path-style on a custom endpoint,
    /// virtual-hosted on AWS (path-style for bucket names with dots, which TLS cannot name).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key: Vec<String> = key
            .split('/')
            .map(|s| urlencoding::encode(s).into_owned())
            .collect();
        let key = key.join("/");
        match &self.endpoint {
            Some(e) => format!("{e}/{bucket}/{key}"),
            None if bucket.contains('.') => {
                format!("https://s3.{}.amazonaws.com/{bucket}/{key}", self.region)
            }
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        }
    }

    async fn credentials(&self) -> Option<Credentials> {
        match &self.source {
            CredentialSource::Static(c) => Some(c.clone()),
            CredentialSource::Anonymous => None,
            CredentialSource::Instance => self
                .instance
                .get_or_init(|| instance_credentials(&self.client))
                .await
                .clone(),
        }
    }
}

/// IMDSv2: a session token, the role's name, then its temporary keys. Quick to give up:
/// off EC2 there is nothing listening.
async fn instance_credentials(client: &reqwest::Client) -> Option<Credentials> {
    let base =
        env("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| "http://169.254.169.254".into());
    let base = base.trim_end_matches('/');
    let token = http::metadata_answer(
        client
            .put(format!("{base}/latest/api/token"))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600"),
    )
    .await?
    .text()
    .await
    .ok()?;
    let get = |path: String| {
        http::metadata_answer(
            client
                .get(format!(
                    "{base}/latest/meta-data/iam/security-credentials/{path}"
                ))
                .header("x-aws-ec2-metadata-token", &token),
        )
    };
    let role = get(String::new()).await?.text().await.ok()?;
    let role = role.lines().next()?.trim().to_string();
    let body: serde_json::Value = get(role).await?.json().await.ok()?;
    Some(Credentials {
        access_key: body["AccessKeyId"].as_str()?.to_string(),
        secret_key: body["SecretAccessKey"].as_str()?.to_string(),
        session_token: body["Token"].as_str().map(str::to_string),
    })
}

impl Transport for S3Transport {
    fn get<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<reqwest::RequestBuilder, SourceError>> {
        Box::pin(async move {
            let Some((bucket, key)) = split_url(url) else {
                // An index may point at packages on plain HTTPS: fetched without credentials.
                return Ok(self.client.get(url));
            };
            let target = self.object_url(bucket, key);
            let parsed = reqwest::Url::parse(&target).map_err(|e| SourceError::InvalidIndex {
                repo: self.repo.clone(),
                message: format!("{url}: {e}"),
            })?;
            let mut req = self.client.get(parsed.clone());
            if let Some(creds) = self.credentials().await {
                for (k, v) in sign(
                    "GET",
                    &parsed,
                    &self.region,
                    &creds,
                    EMPTY_SHA256,
                    super::fetch::now(),
                ) {
                    req = req.header(k, v);
                }
            }
            Ok(req)
        })
    }

    fn refusal<'a>(
        &'a self,
        repo: &'a str,
        url: &'a str,
        status: u16,
        body: String,
    ) -> BoxFuture<'a, SourceError> {
        Box::pin(async move { s3_refusal(repo, url, status, &body) })
    }
}

fn s3_refusal(repo: &str, url: &str, status: u16, body: &str) -> SourceError {
    let tag = |t: &str| {
        body.split_once(&format!("<{t}>"))
            .and_then(|(_, rest)| rest.split_once(&format!("</{t}>")))
            .map(|(v, _)| v.to_string())
    };
    let code = tag("Code").unwrap_or_default();
    match (status, code.as_str()) {
        // The bucket lives elsewhere: S3 names the region (<Region>) or its endpoint
        // (`bucket.s3.eu-west-1.amazonaws.com`).
        (301, _) | (400, "AuthorizationHeaderMalformed") => SourceError::WrongRegion {
            repo: repo.to_string(),
            bucket: split_url(url).map(|(b, _)| b).unwrap_or("").to_string(),
            region: tag("Region").or_else(|| {
                tag("Endpoint").and_then(|e| {
                    e.split(".s3.")
                        .nth(1)
                        .and_then(|r| r.strip_suffix(".amazonaws.com"))
                        .map(str::to_string)
                })
            }),
        },
        (404, "NoSuchBucket") => SourceError::BucketNotFound {
            repo: repo.to_string(),
            bucket: split_url(url).map(|(b, _)| b).unwrap_or("").to_string(),
        },
        (404, _) => SourceError::ObjectNotFound {
            repo: repo.to_string(),
            url: url.to_string(),
        },
        _ => http::status_error(repo, url, status),
    }
}

/// SHA-256 of an empty payload: a GET's body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// AWS Signature V4 headers (`x-amz-date`, `x-amz-content-sha256`, optional
/// `x-amz-security-token`, `authorization`) for a request to `url`; the Host header
/// reqwest sends is signed as `host[:port]` from the same URL.
pub fn sign(
    method: &str,
    url: &reqwest::Url,
    region: &str,
    creds: &Credentials,
    payload_sha256: &str,
    unix_time: u64,
) -> Vec<(String, String)> {
    sign_for("s3", method, url, region, creds, payload_sha256, unix_time)
}

/// [`sign`] for another AWS service (tests set up IAM users on the emulator with it).
pub fn sign_for(
    service: &str,
    method: &str,
    url: &reqwest::Url,
    region: &str,
    creds: &Credentials,
    payload_sha256: &str,
    unix_time: u64,
) -> Vec<(String, String)> {
    let (date, amz_date) = amz_dates(unix_time);
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    };
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host),
        ("x-amz-content-sha256".into(), payload_sha256.into()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    if let Some(t) = &creds.session_token {
        headers.push(("x-amz-security-token".into(), t.clone()));
    }
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (aws_encode(&k), aws_encode(&v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let canonical = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload_sha256}",
        url.path(),
        query.join("&")
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mac = |key: &[u8], data: &str| {
        ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
            data.as_bytes(),
        )
        .as_ref()
        .to_vec()
    };
    let k = mac(format!("AWS4{}", creds.secret_key).as_bytes(), &date);
    let k = mac(&k, region);
    let k = mac(&k, service);
    let k = mac(&k, "aws4_request");
    let signature = hex::encode(mac(&k, &to_sign));
    let mut out: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key
        ),
    ));
    out
}

/// RFC 3986 unreserved characters stay, everything else is %XX (what SigV4 wants).
fn aws_encode(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

/// (`YYYYMMDD`, `YYYYMMDDTHHMMSSZ`) in UTC.
fn amz_dates(unix: u64) -> (String, String) {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let date = format!("{y:04}{m:02}{d:02}");
    let time = format!(
        "{date}T{:02}{:02}{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    );
    (date, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(amz_dates(0).1, "19700101T000000Z");
        assert_eq!(amz_dates(1_440_938_160).1, "20150830T123600Z");
        assert_eq!(amz_dates(951_782_400).0, "20000229");
    }

    /// "Example: GET Bucket Lifecycle" from AWS's S3 documentation
    /// (sig-v4-header-based-auth.html), with its documented key, date and signature.
    #[test]
    fn signature_matches_the_aws_documentation_example() {
        let creds = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let url =
            reqwest::Url::parse("https://examplebucket.s3.amazonaws.com/?lifecycle").expect("url");
        // 20130524T000000Z
        let headers = sign(
            "GET",
            &url,
            "us-east-1",
            &creds,
            EMPTY_SHA256,
            1_369_353_600,
        );
        let auth = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .expect("auth")
            .1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn a_bucket_in_another_region_names_that_region() {
        let e = s3_refusal(
            "r",
            "s3://b/index.yaml",
            400,
            "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>",
        );
        assert!(e.hint().contains("region: eu-west-1"), "{}", e.hint());
        let e = s3_refusal(
            "r",
            "s3://b/index.yaml",
            301,
            "<Error><Code>PermanentRedirect</Code><Endpoint>b.s3.ap-south-1.amazonaws.com</Endpoint></Error>",
        );
        assert!(
            matches!(&e, SourceError::WrongRegion { region: Some(r), .. } if r == "ap-south-1"),
            "{e:?}"
        );
        let e = s3_refusal(
            "r",
            "s3://b/x.tgz",
            404,
            "<Error><Code>NoSuchKey</Code></Error>",
        );
        assert!(matches!(e, SourceError::ObjectNotFound { .. }), "{e:?}");
    }

    #[test]
    fn profiles_are_read_from_ini_sections() {
        let text = "[default]\naws_access_key_id = A\n\n[profile ci]\nregion = eu-west-1\n[ci]\naws_access_key_id=B\n";
        let s = ini_section(text, &["ci".into()]).expect("section");
        assert_eq!(s, vec![("aws_access_key_id".into(), "B".into())]);
        assert!(ini_section(text, &["nope".into()]).is_none());
    }
}
