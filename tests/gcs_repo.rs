//! A Helm repository in a GCS bucket, end to end against gcp-storage-emulator on loopback
//! (JSON API): listed, resolved, pulled, verified, rendered like the local copy, cached,
//! served offline; missing buckets and objects have their own errors. The emulator checks
//! no credentials, so the service-account flow is exercised against a loopback token
//! endpoint that checks the signed JWT's claims and can refuse it.

mod remote;
mod support;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use helmdeck::config::{RepoType, Repository};
use helmdeck::sources::gcs;
use helmdeck::sources::{no_progress, ChartSource, SourceError};
use remote::gcs::{emulator, publish, BUCKET};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn repo_config(url: &str, endpoint: Option<String>) -> Repository {
    Repository {
        name: "gcs".into(),
        kind: RepoType::Gcs,
        path: None,
        url: Some(url.to_string()),
        auth: None,
        region: None,
        endpoint,
        git_ref: None,
        plain_http: false,
    }
}

/// Takes the environment lock, then points Google's credential lookup at `home` only.
async fn isolate_google(home: &std::path::Path) -> support::EnvGuard {
    let guard = support::env_lock().await;
    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    std::env::remove_var("STORAGE_EMULATOR_HOST");
    std::env::set_var("CLOUDSDK_CONFIG", home);
    std::env::set_var("GCE_METADATA_HOST", "127.0.0.1:9");
    guard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_repository_is_listed_resolved_pulled_verified_cached_and_served_offline() {
    let mut server = emulator();
    publish(&server, &remote::demo_packages()).await;
    let home = tempfile::tempdir().expect("tempdir");
    let _env: support::EnvGuard = isolate_google(home.path()).await;
    // The emulator found the way Google's tools find it.
    std::env::set_var(
        "STORAGE_EMULATOR_HOST",
        format!("127.0.0.1:{}", server.port),
    );
    let url = format!("gs://{BUCKET}/stable");
    let cache = tempfile::tempdir().expect("tempdir");
    let src = gcs::source(&repo_config(&url, None), cache.path().to_path_buf()).expect("source");
    assert_eq!(src.kind(), RepoType::Gcs);
    remote::lists_resolves_pulls_and_caches(&src).await;

    server.stop();
    let empty = tempfile::tempdir().expect("tempdir");
    let cold = gcs::source(&repo_config(&url, None), empty.path().to_path_buf()).expect("source");
    remote::offline_uses_the_cache(&src, &cold).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_buckets_indexes_and_packages_have_their_own_errors() {
    let server = emulator();
    publish(&server, &remote::demo_packages()).await;
    let home = tempfile::tempdir().expect("tempdir");
    let _env: support::EnvGuard = isolate_google(home.path()).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let open = |url: &str| {
        gcs::source(
            &repo_config(url, Some(server.url())),
            cache.path().to_path_buf(),
        )
        .expect("source")
    };
    let e = open("gs://no-such-bucket/stable")
        .index()
        .await
        .expect_err("no bucket");
    assert!(
        matches!(&e, SourceError::BucketNotFound { bucket, .. } if bucket == "no-such-bucket"),
        "{e:?}"
    );
    let e = open(&format!("gs://{BUCKET}/nothing-here"))
        .index()
        .await
        .expect_err("no index");
    assert!(matches!(e, SourceError::ObjectNotFound { .. }), "{e:?}");
    let e = open(&format!("gs://{BUCKET}/broken"))
        .fetch("web", None, no_progress())
        .await
        .expect_err("package gone");
    assert!(
        matches!(&e, SourceError::ObjectNotFound { url, .. } if url.ends_with("gone/web-1.3.0.tgz")),
        "{e:?}"
    );
}

#[derive(Default)]
struct TokenEndpoint {
    refuse: bool,
    assertions: Vec<serde_json::Value>,
}

async fn token(
    State(state): State<Arc<Mutex<TokenEndpoint>>>,
    body: String,
) -> axum::response::Response {
    let form: Vec<(String, String)> = url_form(&body);
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut s = state.lock().expect("lock");
    let jwt = get("assertion");
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
        })
        .and_then(|c| serde_json::from_slice::<serde_json::Value>(&c).ok())
        .unwrap_or_default();
    s.assertions.push(serde_json::json!({
        "grant_type": get("grant_type"), "claims": claims, "parts": jwt.split('.').count(),
        "refresh_token": get("refresh_token"), "client_id": get("client_id"),
    }));
    if s.refuse {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"}))
        .into_response()
}

fn url_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let dec = |s: &str| {
                urlencoding::decode(&s.replace('+', " "))
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// A service-account key file whose token_uri is `token_uri`, with a fresh RSA key.
fn service_account(dir: &std::path::Path, token_uri: &str) -> std::path::PathBuf {
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", support::stderr(&out));
    let pem = std::fs::read_to_string(&key).expect("pem");
    let file = dir.join("sa.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "type": "service_account", "project_id": "acme", "private_key_id": "k1",
            "private_key": pem, "client_email": "helmdeck@acme.iam.gserviceaccount.com",
            "token_uri": token_uri,
        })
        .to_string(),
    )
    .expect("write");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_credentials_are_exchanged_for_a_token_or_refused() {
    let server = emulator();
    publish(&server, &remote::demo_packages()).await;
    let home = tempfile::tempdir().expect("tempdir");
    let _env: support::EnvGuard = isolate_google(home.path()).await;
    let state = Arc::new(Mutex::new(TokenEndpoint::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let token_uri = format!("http://{}/token", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token))
        .with_state(state.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let file = service_account(home.path(), &token_uri);
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &file);
    let cache = tempfile::tempdir().expect("tempdir");
    let url = format!("gs://{BUCKET}/stable");

    let src = gcs::source(
        &repo_config(&url, Some(server.url())),
        cache.path().to_path_buf(),
    )
    .expect("source");
    src.fetch("web", Some("1.2.0"), no_progress())
        .await
        .expect("with a token");
    {
        let s = state.lock().expect("lock");
        assert_eq!(
            s.assertions.len(),
            1,
            "one token for the index and the package"
        );
        let a = &s.assertions[0];
        assert_eq!(
            a["grant_type"],
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        assert_eq!(a["parts"], 3);
        assert_eq!(a["claims"]["iss"], "helmdeck@acme.iam.gserviceaccount.com");
        assert_eq!(a["claims"]["aud"], token_uri.as_str());
        assert!(a["claims"]["scope"]
            .as_str()
            .is_some_and(|s| s.contains("devstorage.read_only")));
    }

    // A user's application-default credentials: the refresh token is exchanged.
    let user = home.path().join("adc.json");
    std::fs::write(
        &user,
        serde_json::json!({
            "type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
            "client_secret": "csecret", "refresh_token": "1//refresh", "token_uri": token_uri,
        })
        .to_string(),
    )
    .expect("write");
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &user);
    let as_user = gcs::source(
        &repo_config(&url, Some(server.url())),
        cache.path().to_path_buf(),
    )
    .expect("source");
    as_user
        .fetch("worker", None, no_progress())
        .await
        .expect("with a refreshed user token");
    {
        let s = state.lock().expect("lock");
        let a = s.assertions.last().expect("a token request");
        assert_eq!(a["grant_type"], "refresh_token");
        assert_eq!(a["refresh_token"], "1//refresh");
        assert_eq!(a["client_id"], "cid.apps.googleusercontent.com");
    }
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &file);

    state.lock().expect("lock").refuse = true;
    let refused = gcs::source(
        &repo_config(&url, Some(server.url())),
        cache.path().to_path_buf(),
    )
    .expect("source");
    let e = refused
        .fetch("web", None, no_progress())
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, SourceError::BadCredentials { message, .. } if message.contains("invalid_grant")),
        "{e:?}"
    );
    assert!(e.to_string().contains(&file.display().to_string()), "{e}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_searches_pulls_and_exits_with_the_documented_codes() {
    let mut server = emulator();
    publish(&server, &remote::demo_packages()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let cfg = format!(
        "repositories:\n  - {{ name: gcs, type: gcs, url: \"gs://{BUCKET}/stable\", endpoint: \"{}\" }}\n",
        server.url()
    );
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("write");
    let d = dir.path().to_path_buf();
    let h = home.path().display().to_string();
    let env = [
        ("CLOUDSDK_CONFIG", h.as_str()),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ];
    let search = support::helmdeck(&["repo", "search", "demo"], &d, &env);
    assert!(search.status.success(), "{}", support::stderr(&search));
    assert!(
        support::stdout(&search).contains("gcs/web"),
        "{}",
        support::stdout(&search)
    );
    let pull = support::helmdeck(&["repo", "pull", "gcs/web@~1.2.0", "-o", "json"], &d, &env);
    assert!(pull.status.success(), "{}", support::stderr(&pull));
    let pulled: serde_json::Value = serde_json::from_str(&support::stdout(&pull)).expect("json");
    assert_eq!(pulled["version"], "1.2.0");
    let missing = support::helmdeck(&["repo", "pull", "gcs/nope"], &d, &env);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        support::stderr(&missing)
    );

    server.stop();
    let down = support::helmdeck(&["repo", "pull", "gcs/web"], &d, &env);
    assert_eq!(down.status.code(), Some(3), "{}", support::stderr(&down));
}
