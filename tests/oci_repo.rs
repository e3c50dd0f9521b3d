//! Charts in an OCI registry, end to end against Debian's docker-registry on loopback
//! (htpasswd auth): charts pushed with Helm's media types are listed through `_catalog`,
//! resolved from tags, pulled, verified, rendered like the local copy and cached; the cache
//! serves when the registry is down; refused and missing credentials say so.

mod remote;
mod support;

use base64::Engine as _;
use helmdeck::config::{RepoAuth, RepoType, Repository};
use helmdeck::sources::oci::{OciSource, CONFIG_MEDIA_TYPE};
use helmdeck::sources::{no_progress, ChartSource, SourceError};
use remote::oci::{self, PASS, USER};
use remote::Server;

async fn publish(server: &Server) {
    for (name, version, bytes) in remote::demo_packages() {
        oci::push_chart(
            &server.url(),
            "charts",
            &name,
            &version,
            &bytes,
            CONFIG_MEDIA_TYPE,
        )
        .await;
    }
    // A build-metadata version: Helm tags it with `_` for `+`.
    let edge = support::package(
        &support::charts_dir().join("worker"),
        "edge",
        "0.1.0+build.7",
    );
    oci::push_chart(
        &server.url(),
        "charts",
        "edge",
        "0.1.0+build.7",
        &edge,
        CONFIG_MEDIA_TYPE,
    )
    .await;
    // Not a chart: an image-like artifact in the same path.
    oci::push_chart(
        &server.url(),
        "charts",
        "image",
        "1.0.0",
        b"not a chart",
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    // A chart outside the repository's path is not listed.
    let other = support::package(&support::charts_dir().join("worker"), "elsewhere", "1.0.0");
    oci::push_chart(
        &server.url(),
        "other",
        "elsewhere",
        "1.0.0",
        &other,
        CONFIG_MEDIA_TYPE,
    )
    .await;
}

fn repo_config(port: u16, auth: Option<RepoAuth>) -> Repository {
    Repository {
        name: "registry".into(),
        kind: RepoType::Oci,
        path: None,
        url: Some(format!("oci://127.0.0.1:{port}/charts")),
        auth,
        region: None,
        endpoint: None,
        git_ref: None,
        plain_http: true,
    }
}

fn env_auth(_env: &support::EnvGuard) -> Option<RepoAuth> {
    std::env::set_var("OCI_TEST_USER", USER);
    std::env::set_var("OCI_TEST_PASS", PASS);
    Some(RepoAuth {
        username_env: Some("OCI_TEST_USER".into()),
        password_env: Some("OCI_TEST_PASS".into()),
        token_env: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_chart_is_listed_resolved_pulled_verified_cached_and_served_offline() {
    let env = support::env_lock().await;
    let mut server = oci::registry(true);
    publish(&server).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let src = OciSource::new(
        &repo_config(server.port, env_auth(&env)),
        cache.path().to_path_buf(),
    )
    .expect("source");
    remote::lists_resolves_pulls_and_caches(&src).await;

    let index = src.index().await.expect("index");
    assert!(
        !index.charts.contains_key("elsewhere"),
        "{:?}",
        index.charts.keys()
    );
    assert!(
        !index.charts.contains_key("image"),
        "not a chart: {:?}",
        index.charts.keys()
    );
    let edge = src
        .fetch("edge", Some("0.1.0+build.7"), no_progress())
        .await
        .expect("build metadata");
    assert_eq!(edge.version, "0.1.0+build.7");
    let e = src
        .fetch("image", None, no_progress())
        .await
        .expect_err("not a chart");
    assert!(
        matches!(&e, SourceError::InvalidChart { message, .. } if message.contains(CONFIG_MEDIA_TYPE)),
        "{e:?}"
    );
    let e = src
        .fetch("web", Some("^7"), no_progress())
        .await
        .expect_err("no such version");
    assert!(matches!(e, SourceError::NoMatchingVersion { .. }), "{e:?}");

    server.stop();
    let empty = tempfile::tempdir().expect("tempdir");
    let cold = OciSource::new(
        &repo_config(server.port, env_auth(&env)),
        empty.path().to_path_buf(),
    )
    .expect("source");
    remote::offline_uses_the_cache(&src, &cold).await;
    let listed = src.index().await.expect("cached listing");
    assert!(listed.charts.contains_key("web"));
    assert!(
        listed.warnings.join(" ").contains("unreachable"),
        "{:?}",
        listed.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_refused_missing_or_found_in_docker_and_helm_config() {
    let _env = support::env_lock().await;
    let server = oci::registry(true);
    publish(&server).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    // No credentials anywhere: HOME and the config variables point at empty places.
    std::env::set_var("HOME", home.path());
    std::env::set_var("DOCKER_CONFIG", home.path().join("docker"));
    std::env::set_var("HELM_REGISTRY_CONFIG", home.path().join("helm.json"));
    std::env::set_var("XDG_CONFIG_HOME", home.path().join("xdg"));

    let anonymous = OciSource::new(&repo_config(server.port, None), cache.path().to_path_buf())
        .expect("source");
    let e = anonymous
        .fetch("web", None, no_progress())
        .await
        .expect_err("401");
    assert!(
        matches!(e, SourceError::AuthRefused { status: 401, .. }),
        "{e:?}"
    );
    assert!(e.hint().contains("helm registry login"), "{}", e.hint());
    // Listing without credentials: a warning that says why, not a failed search.
    let listed = anonymous.index().await.expect("a listing with a warning");
    assert!(listed.charts.is_empty());
    let w = listed.warnings.join(" ");
    assert!(w.contains("does not list") && w.contains("HTTP 401"), "{w}");

    std::env::set_var("OCI_TEST_USER", USER);
    std::env::set_var("OCI_TEST_WRONG", "not-the-password");
    let wrong = RepoAuth {
        username_env: Some("OCI_TEST_USER".into()),
        password_env: Some("OCI_TEST_WRONG".into()),
        token_env: None,
    };
    let e = OciSource::new(
        &repo_config(server.port, Some(wrong)),
        cache.path().to_path_buf(),
    )
    .expect("source")
    .fetch("web", None, no_progress())
    .await
    .expect_err("wrong password");
    assert!(matches!(e, SourceError::AuthRefused { .. }), "{e:?}");
    assert!(
        !format!("{e} {e:?}").contains("not-the-password"),
        "no secret in errors"
    );

    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
    let docker_dir = home.path().join("docker");
    std::fs::create_dir_all(&docker_dir).expect("dir");
    std::fs::write(
        docker_dir.join("config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#,
            server.port
        ),
    )
    .expect("docker config");
    let from_docker = OciSource::new(&repo_config(server.port, None), cache.path().to_path_buf())
        .expect("source")
        .fetch("worker", None, no_progress())
        .await
        .expect("credentials from the Docker config");
    assert_eq!(from_docker.version, "0.4.0");

    std::fs::remove_file(docker_dir.join("config.json")).expect("rm");
    std::fs::write(
        home.path().join("helm.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#,
            server.port
        ),
    )
    .expect("helm config");
    OciSource::new(&repo_config(server.port, None), cache.path().to_path_buf())
        .expect("source")
        .fetch("web", Some("1.3.0"), no_progress())
        .await
        .expect("credentials from Helm's registry config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_searches_pulls_and_exits_with_the_documented_codes() {
    let mut server = oci::registry(true);
    publish(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = format!(
        "repositories:\n  - name: registry\n    type: oci\n    url: oci://127.0.0.1:{}/charts\n    plain_http: true\n    auth: {{ username_env: OCI_USER, password_env: OCI_PASS }}\n",
        server.port
    );
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("write");
    let d = dir.path().to_path_buf();
    let good = [("OCI_USER", USER), ("OCI_PASS", PASS)];
    let search = support::helmdeck(&["repo", "search", "web"], &d, &good);
    assert!(search.status.success(), "{}", support::stderr(&search));
    let out = support::stdout(&search);
    assert!(
        out.contains("registry/web") && out.contains("1.3.0"),
        "{out}"
    );

    let pull = support::helmdeck(
        &["repo", "pull", "registry/web@~1.2.0", "-o", "json"],
        &d,
        &good,
    );
    assert!(pull.status.success(), "{}", support::stderr(&pull));
    let pulled: serde_json::Value = serde_json::from_str(&support::stdout(&pull)).expect("json");
    assert_eq!(pulled["version"], "1.2.0");
    assert!(pulled["digest"]
        .as_str()
        .is_some_and(|d| d.starts_with("sha256:")));

    let missing = support::helmdeck(&["repo", "pull", "registry/nope"], &d, &good);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        support::stderr(&missing)
    );
    let wrong = support::helmdeck(
        &["repo", "pull", "registry/web"],
        &d,
        &[("OCI_USER", USER), ("OCI_PASS", "wrong")],
    );
    assert_eq!(wrong.status.code(), Some(2), "{}", support::stderr(&wrong));
    assert!(
        support::stderr(&wrong).contains("refused"),
        "{}",
        support::stderr(&wrong)
    );

    server.stop();
    let down = support::helmdeck(&["repo", "pull", "registry/web"], &d, &good);
    assert_eq!(down.status.code(), Some(3), "{}", support::stderr(&down));
    assert!(
        support::stderr(&down).contains("unreachable"),
        "{}",
        support::stderr(&down)
    );
}

/// The registry token flow, as GHCR or Docker Hub run it: a gate on loopback in front of
/// the real registry answers 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
/// unless a token it issued is presented, and issues tokens at the realm for basic
/// credentials it accepts.
#[derive(Default)]
struct Gate {
    upstream: String,
    realm: String,
    token_requests: Vec<(String, bool)>,
    /// Flip a byte of every blob on the way (a broken proxy or a tampered mirror).
    corrupt_blobs: bool,
}

type SharedGate = std::sync::Arc<std::sync::Mutex<Gate>>;

async fn gate_token(
    axum::extract::State(gate): axum::extract::State<SharedGate>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let scope = q.get("scope").cloned().unwrap_or_default();
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(oci::basic().as_str())
        && q.get("service").map(String::as_str) == Some("test-registry");
    gate.lock()
        .expect("lock")
        .token_requests
        .push((scope.clone(), ok));
    if !ok {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(serde_json::json!({ "token": format!("tok:{scope}") })).into_response()
}

async fn gate_registry(
    axum::extract::State(gate): axum::extract::State<SharedGate>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path().to_string();
    let scope = if path.starts_with("/v2/_catalog") {
        "registry:catalog:*".to_string()
    } else {
        let repo = path
            .trim_start_matches("/v2/")
            .rsplitn(3, '/')
            .nth(2)
            .unwrap_or("")
            .to_string();
        format!("repository:{repo}:pull")
    };
    let (upstream, realm, corrupt) = {
        let g = gate.lock().expect("lock");
        (g.upstream.clone(), g.realm.clone(), g.corrupt_blobs)
    };
    let presented = headers.get("authorization").and_then(|v| v.to_str().ok());
    if presented != Some(format!("Bearer tok:{scope}").as_str()) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            [(
                "www-authenticate",
                format!(r#"Bearer realm="{realm}",service="test-registry",scope="{scope}""#),
            )],
        )
            .into_response();
    }
    let mut req = reqwest::Client::new().get(format!(
        "{upstream}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    ));
    if let Some(a) = headers.get("accept") {
        req = req.header("accept", a.as_bytes());
    }
    let resp = req.send().await.expect("upstream");
    let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).expect("status");
    let mut out = axum::http::HeaderMap::new();
    for h in ["content-type", "docker-content-digest", "link"] {
        if let Some(v) = resp.headers().get(h) {
            out.insert(h, v.as_bytes().try_into().expect("header"));
        }
    }
    let mut body = resp.bytes().await.expect("body").to_vec();
    if corrupt && path.contains("/blobs/") && !body.is_empty() {
        body[0] ^= 0xff;
    }
    (status, out, body).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_token_flow_is_answered_with_basic_credentials() {
    let env = support::env_lock().await;
    let registry = oci::registry(false);
    oci::publish(&registry, "charts", &remote::demo_packages()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gate: SharedGate = std::sync::Arc::new(std::sync::Mutex::new(Gate {
        upstream: registry.url(),
        realm: format!("http://{addr}/token"),
        token_requests: Vec::new(),
        corrupt_blobs: false,
    }));
    let app = axum::Router::new()
        .route("/token", axum::routing::get(gate_token))
        .route("/v2/{*rest}", axum::routing::get(gate_registry))
        .with_state(gate.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("HOME", home.path());
    std::env::set_var("DOCKER_CONFIG", home.path().join("docker"));
    std::env::set_var("HELM_REGISTRY_CONFIG", home.path().join("helm.json"));
    let cache = tempfile::tempdir().expect("tempdir");

    let src = OciSource::new(
        &repo_config(addr.port(), env_auth(&env)),
        cache.path().to_path_buf(),
    )
    .expect("source");
    let index = src.index().await.expect("listing through tokens");
    assert!(
        index.charts.contains_key("web"),
        "{:?}",
        index.charts.keys()
    );
    let pulled = src
        .fetch("web", Some("~1.2.0"), no_progress())
        .await
        .expect("pull through tokens");
    assert_eq!(pulled.version, "1.2.0");
    {
        let g = gate.lock().expect("lock");
        let scopes: Vec<&str> = g.token_requests.iter().map(|(s, _)| s.as_str()).collect();
        assert!(scopes.contains(&"registry:catalog:*"), "{scopes:?}");
        assert!(scopes.contains(&"repository:charts/web:pull"), "{scopes:?}");
        assert!(g.token_requests.iter().all(|(_, ok)| *ok));
        let web = scopes
            .iter()
            .filter(|s| **s == "repository:charts/web:pull")
            .count();
        assert_eq!(web, 1, "a token is reused for its scope: {scopes:?}");
    }

    // A blob altered on the way is refused, and not cached.
    gate.lock().expect("lock").corrupt_blobs = true;
    let e = src
        .fetch("web", Some("1.3.0"), no_progress())
        .await
        .expect_err("digest mismatch");
    assert!(
        matches!(&e, SourceError::DigestMismatch { version, .. } if version == "1.3.0"),
        "{e:?}"
    );
    let cached = std::fs::read_dir(cache.path().join("charts"))
        .expect("cache")
        .count();
    assert_eq!(cached, 1, "only web 1.2.0 is cached");
    gate.lock().expect("lock").corrupt_blobs = false;

    let anonymous = OciSource::new(&repo_config(addr.port(), None), cache.path().to_path_buf())
        .expect("source");
    let e = anonymous
        .fetch("web", None, no_progress())
        .await
        .expect_err("no token without credentials");
    assert!(matches!(e, SourceError::AuthRefused { .. }), "{e:?}");
    task.abort();
}
