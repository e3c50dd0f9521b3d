//! moto on loopback, optionally with IAM authentication enforced, and publishing a Helm
//! repository layout into a bucket with signed requests.

use super::Server;
use helmdeck::sources::s3::{self, Credentials};
use sha2::{Digest, Sha256};
use std::process::Command;

pub const BUCKET: &str = "acme-charts";

pub struct Moto {
    pub server: Server,
    pub public: bool,
    pub keys: Credentials,
}

/// moto with authentication enforced after the first three requests, which create an
/// IAM user allowed everything and its access key.
pub async fn moto(auth: bool) -> Moto {
    let port = super::free_port();
    let mut cmd = Command::new(super::moto_binary());
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if auth {
        cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    }
    let server = Server::start(cmd, port, tempfile::tempdir().expect("tempdir"));
    let setup = Credentials {
        access_key: "AKIASETUP".into(),
        secret_key: "setup".into(),
        session_token: None,
    };
    let mut keys = setup.clone();
    if auth {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        iam(
            &server,
            &setup,
            "Action=CreateUser&UserName=ci&Version=2010-05-08",
        )
        .await;
        let created = iam(
            &server,
            &setup,
            "Action=CreateAccessKey&UserName=ci&Version=2010-05-08",
        )
        .await;
        let field = |tag: &str| {
            created
                .split_once(&format!("<{tag}>"))
                .and_then(|(_, r)| r.split_once(&format!("</{tag}>")))
                .map(|(v, _)| v.to_string())
                .unwrap_or_else(|| panic!("no {tag} in {created}"))
        };
        keys = Credentials {
            access_key: field("AccessKeyId"),
            secret_key: field("SecretAccessKey"),
            session_token: None,
        };
        iam(
            &server,
            &setup,
            &format!(
                "Action=PutUserPolicy&UserName=ci&PolicyName=all&PolicyDocument={}&Version=2010-05-08",
                urlencoding::encode(policy)
            ),
        )
        .await;
    }
    Moto {
        server,
        keys,
        public: !auth,
    }
}

pub async fn signed(
    service: &str,
    method: reqwest::Method,
    url: &str,
    creds: &Credentials,
    body: Vec<u8>,
    content_type: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let parsed = reqwest::Url::parse(url).expect("url");
    let hash = hex::encode(Sha256::digest(&body));
    let mut req = reqwest::Client::new()
        .request(method.clone(), parsed.clone())
        .header("content-type", content_type)
        .body(body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    for (k, v) in s3::sign_for(
        service,
        method.as_str(),
        &parsed,
        "us-east-1",
        creds,
        &hash,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    ) {
        req = req.header(k, v);
    }
    req.send().await.expect("moto answers")
}

pub async fn iam(server: &Server, creds: &Credentials, form: &str) -> String {
    let resp = signed(
        "iam",
        reqwest::Method::POST,
        &format!("{}/", server.url()),
        creds,
        form.as_bytes().to_vec(),
        "application/x-www-form-urlencoded",
        &[],
    )
    .await;
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert!(status.is_success(), "IAM {form}: {status} {text}");
    text
}

pub async fn put(moto: &Moto, path: &str, body: Vec<u8>) {
    let resp = signed(
        "s3",
        reqwest::Method::PUT,
        &format!("{}/{path}", moto.server.url()),
        &moto.keys,
        body,
        "application/octet-stream",
        // On the emulator without authentication, everything is published public-read so
        // that anonymous requests may read it (as a public bucket would allow).
        &[(
            "x-amz-acl",
            if moto.public {
                "public-read"
            } else {
                "private"
            },
        )],
    )
    .await;
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT {path}: {status} {:?}",
        resp.text().await
    );
}

/// `packages` under `s3://BUCKET/stable` with an index.yaml: worker by an absolute `s3://`
/// URL, the others by relative ones.
pub async fn publish(moto: &Moto, packages: &[(String, String, Vec<u8>)]) {
    put(moto, BUCKET, Vec::new()).await;
    for (name, version, bytes) in packages {
        put(
            moto,
            &format!("{BUCKET}/stable/{name}-{version}.tgz"),
            bytes.clone(),
        )
        .await;
    }
    let index = super::helm_index(packages, |name, version| {
        if name == "worker" {
            format!("s3://{BUCKET}/stable/{name}-{version}.tgz")
        } else {
            format!("{name}-{version}.tgz")
        }
    });
    put(
        moto,
        &format!("{BUCKET}/stable/index.yaml"),
        index.into_bytes(),
    )
    .await;
}

/// A front to `moto` that, like S3 for a key it does not know, refuses every signed request
/// (`403 InvalidAccessKeyId`) and passes unsigned ones through; it records each request as
/// (path, signed).
pub struct AnonymousOnly {
    pub port: u16,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AnonymousOnly {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn anonymous_only(upstream: &Moto) -> AnonymousOnly {
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let base = upstream.server.url();
    let log = seen.clone();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (log, client, base) = (log.clone(), client.clone(), base.clone());
        async move {
            let query = uri.query().unwrap_or("");
            let signed = headers.contains_key("authorization")
                || headers.contains_key("x-amz-security-token")
                || query.contains("X-Amz-Signature");
            log.lock().expect("log").push((uri.path().to_string(), signed));
            if signed {
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
                return (StatusCode::FORBIDDEN, body).into_response();
            }
            let target = format!("{base}{}", uri.path_and_query().map_or("/", |p| p.as_str()));
            match client.get(&target).send().await {
                Ok(resp) => {
                    let status = StatusCode::from_u16(resp.status().as_u16())
                        .unwrap_or(StatusCode::BAD_GATEWAY);
                    (status, resp.bytes().await.unwrap_or_default()).into_response()
                }
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    AnonymousOnly { port, seen, task }
}
