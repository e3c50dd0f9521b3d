//! A Helm repository over HTTP, end to end against a loopback server serving a repository
//! built from the demo charts: constraint resolution, download, digest verification, the
//! cache (hit without a download, fallback when the server is down), authentication.

mod support;

use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use helmdeck::config::{RepoAuth, RepoType, Repository};
use helmdeck::sources::http::HttpSource;
use helmdeck::sources::{no_progress, ChartSource, SourceError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Repo {
    files: HashMap<String, Vec<u8>>,
    basic: Option<(String, String)>,
    bearer: Option<String>,
    log: Vec<String>,
}

type Shared = Arc<Mutex<Repo>>;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A repository with web 1.2.0, 1.3.0, 2.0.0-rc.1 and worker 0.4.0; `tamper` corrupts the
/// index digest of web 1.3.0.
fn build_repo(base_url: &str, tamper: bool) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let mut index = String::from("apiVersion: v1\nentries:\n");
    let charts = support::charts_dir();
    let mut entry = |name: &str, versions: &[&str], absolute: bool| {
        index.push_str(&format!("  {name}:\n"));
        for v in versions {
            let pkg = support::package(&charts.join(name), name, v);
            let file = format!("{name}-{v}.tgz");
            let mut digest = sha(&pkg);
            if tamper && *v == "1.3.0" {
                digest = sha(b"something else");
            }
            let url = if absolute {
                format!("{base_url}/pkg/{file}")
            } else {
                format!("pkg/{file}")
            };
            index.push_str(&format!(
                "  - apiVersion: v2\n    name: {name}\n    version: {v}\n    appVersion: \"{v}\"\n    description: demo chart {name}\n    digest: {digest}\n    urls:\n    - {url}\n"
            ));
            files.insert(format!("pkg/{file}"), pkg);
        }
    };
    entry("web", &["1.3.0", "1.2.0", "2.0.0-rc.1"], false);
    entry("worker", &["0.4.0"], true);
    index.push_str("generated: \"2026-11-25T00:00:00Z\"\n");
    files.insert("index.yaml".into(), index.into_bytes());
    files
}

async fn serve(
    AxPath(path): AxPath<String>,
    State(repo): State<Shared>,
    headers: HeaderMap,
) -> Response {
    let mut r = repo.lock().expect("lock");
    r.log.push(path.clone());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some((u, p)) = &r.basic {
        use base64::Engine as _;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        );
        if auth != want {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    if let Some(t) = &r.bearer {
        if auth != format!("Bearer {t}") {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    let Some(bytes) = r.files.get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", &sha(&bytes)[..16]);
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    (StatusCode::OK, [("etag", etag)], bytes).into_response()
}

struct Server {
    url: String,
    repo: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(tamper: bool) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let repo: Shared = Arc::new(Mutex::new(Repo {
            files: build_repo(&url, tamper),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(serve))
            .with_state(repo.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Server {
            url,
            repo,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }

    fn requests(&self, prefix: &str) -> usize {
        self.repo
            .lock()
            .expect("lock")
            .log
            .iter()
            .filter(|p| p.starts_with(prefix))
            .count()
    }
}

fn repo_config(url: &str, auth: Option<RepoAuth>) -> Repository {
    Repository {
        name: "acme".into(),
        kind: RepoType::Http,
        path: None,
        url: Some(url.to_string()),
        auth,
        region: None,
        endpoint: None,
        git_ref: None,
        plain_http: false,
    }
}

#[tokio::test]
async fn resolves_constraints_like_helm_and_verifies_the_download() {
    let server = Server::start(false).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let src = HttpSource::new(&repo_config(&server.url, None), cache.path().to_path_buf())
        .expect("source");
    let index = src.index().await.expect("index");
    assert_eq!(index.charts["web"].len(), 3);

    let latest = src
        .fetch("web", None, no_progress())
        .await
        .expect("latest stable");
    assert_eq!(latest.version, "1.3.0", "prereleases only when asked");
    assert!(latest.path.is_file());
    assert!(latest.digest.starts_with("sha256:"));
    let pinned = src
        .fetch("web", Some("~1.2.0"), no_progress())
        .await
        .expect("tilde");
    assert_eq!(pinned.version, "1.2.0");
    let pre = src
        .fetch("web", Some(">=2.0.0-0"), no_progress())
        .await
        .expect("prerelease");
    assert_eq!(pre.version, "2.0.0-rc.1");
    // An absolute chart URL in the index works too.
    let worker = src
        .fetch("worker", Some("0.4.0"), no_progress())
        .await
        .expect("absolute url");
    assert_eq!(worker.version, "0.4.0");
    // The package is a real chart: its Chart.yaml says the version the index says.
    let (name, version, _, _) = helmdeck::sources::chart::read_meta(&latest.path).expect("chart");
    assert_eq!((name.as_str(), version.as_str()), ("web", "1.3.0"));

    let none = src
        .fetch("web", Some("^3"), no_progress())
        .await
        .expect_err("no match");
    assert!(
        matches!(none, SourceError::NoMatchingVersion { .. }),
        "{none:?}"
    );
    let missing = src
        .fetch("wbe", None, no_progress())
        .await
        .expect_err("no chart");
    assert!(
        missing.hint().contains("did you mean `web`?"),
        "{}",
        missing.hint()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_second_pull_is_a_cache_hit_and_the_index_is_revalidated() {
    let server = Server::start(false).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let src = HttpSource::new(&repo_config(&server.url, None), cache.path().to_path_buf())
        .expect("source");
    let first = src
        .fetch("web", Some("^1.2"), no_progress())
        .await
        .expect("first");
    assert!(!first.from_cache);
    let second = src
        .fetch("web", Some("^1.2"), no_progress())
        .await
        .expect("second");
    assert!(second.from_cache);
    assert_eq!(first.digest, second.digest);
    assert_eq!(server.requests("pkg/"), 1, "the package is downloaded once");
    assert_eq!(
        server.requests("index.yaml"),
        2,
        "the index is revalidated (304) each time"
    );
    server.stop().await;
}

#[tokio::test]
async fn with_the_server_down_the_cached_copy_is_used_with_a_warning() {
    let server = Server::start(false).await;
    let url = server.url.clone();
    let cache = tempfile::tempdir().expect("tempdir");
    let src =
        HttpSource::new(&repo_config(&url, None), cache.path().to_path_buf()).expect("source");
    src.fetch("web", None, no_progress()).await.expect("online");
    server.stop().await;

    let again = src
        .fetch("web", None, no_progress())
        .await
        .expect("offline from cache");
    assert_eq!(again.version, "1.3.0");
    assert!(again.from_cache);
    let w = again.warnings.join("\n");
    assert!(
        w.contains("unreachable") && w.contains("cached index"),
        "{w}"
    );

    // Nothing cached yet: the failure says the repository is unreachable (exit 3).
    let empty = tempfile::tempdir().expect("tempdir");
    let cold =
        HttpSource::new(&repo_config(&url, None), empty.path().to_path_buf()).expect("source");
    let e = cold
        .fetch("web", None, no_progress())
        .await
        .expect_err("unreachable");
    assert!(e.is_unreachable(), "{e:?}");
}

#[tokio::test]
async fn a_digest_mismatch_is_refused_and_nothing_is_cached() {
    let server = Server::start(true).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let src = HttpSource::new(&repo_config(&server.url, None), cache.path().to_path_buf())
        .expect("source");
    let e = src
        .fetch("web", Some("1.3.0"), no_progress())
        .await
        .expect_err("mismatch");
    match &e {
        SourceError::DigestMismatch { chart, version, .. } => {
            assert_eq!((chart.as_str(), version.as_str()), ("web", "1.3.0"))
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("digest mismatch"), "{e}");
    let charts = cache.path().join("charts");
    let cached = std::fs::read_dir(&charts).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        cached, 0,
        "a package that failed verification is not cached"
    );
    // The untampered version still works.
    src.fetch("web", Some("1.2.0"), no_progress())
        .await
        .expect("1.2.0 verifies");
    server.stop().await;
}

#[tokio::test]
async fn basic_and_bearer_authentication_from_environment_variables() {
    let _env = support::env_lock().await;
    let server = Server::start(false).await;
    server.repo.lock().expect("lock").basic = Some(("deploy".into(), "s3cret".into()));
    let cache = tempfile::tempdir().expect("tempdir");
    let anonymous = HttpSource::new(&repo_config(&server.url, None), cache.path().to_path_buf())
        .expect("source");
    let e = anonymous
        .fetch("web", None, no_progress())
        .await
        .expect_err("401");
    assert!(
        matches!(e, SourceError::AuthRefused { status: 401, .. }),
        "{e:?}"
    );

    std::env::set_var("HTTP_REPO_TEST_USER", "deploy");
    std::env::set_var("HTTP_REPO_TEST_PASS", "s3cret");
    let auth = RepoAuth {
        username_env: Some("HTTP_REPO_TEST_USER".into()),
        password_env: Some("HTTP_REPO_TEST_PASS".into()),
        token_env: None,
    };
    let src = HttpSource::new(
        &repo_config(&server.url, Some(auth)),
        cache.path().to_path_buf(),
    )
    .expect("source");
    src.fetch("web", None, no_progress())
        .await
        .expect("authenticated");

    {
        let mut r = server.repo.lock().expect("lock");
        r.basic = None;
        r.bearer = Some("tok-123".into());
    }
    std::env::set_var("HTTP_REPO_TEST_TOKEN", "tok-123");
    let bearer = RepoAuth {
        username_env: None,
        password_env: None,
        token_env: Some("HTTP_REPO_TEST_TOKEN".into()),
    };
    let src = HttpSource::new(
        &repo_config(&server.url, Some(bearer)),
        cache.path().to_path_buf(),
    )
    .expect("source");
    src.fetch("worker", None, no_progress())
        .await
        .expect("bearer");

    let unset = RepoAuth {
        username_env: None,
        password_env: None,
        token_env: Some("HTTP_REPO_TEST_UNSET_VAR".into()),
    };
    let e = HttpSource::new(
        &repo_config(&server.url, Some(unset)),
        cache.path().to_path_buf(),
    )
    .err()
    .expect("missing var");
    assert!(
        e.hint().contains("export HTTP_REPO_TEST_UNSET_VAR"),
        "{}",
        e.hint()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_renders_a_service_from_an_http_repository() {
    let server = Server::start(false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = format!(
        "repositories:\n  - {{ name: acme, type: http, url: \"{}\" }}\nservices:\n  - name: web\n    chart: {{ repository: acme, name: web, version: \"^1.2\" }}\nenvironments:\n  - name: dev\n    cluster: {{ namespace: dev }}\n",
        server.url
    );
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("write");
    let url = server.url.clone();
    let out = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || {
            let search = support::helmdeck(&["repo", "search", "web"], &d, &[]);
            let pull =
                support::helmdeck(&["repo", "pull", "acme/web@~1.2.0", "-o", "json"], &d, &[]);
            let render =
                support::helmdeck(&["render", "web", "--env", "dev", "-o", "json"], &d, &[]);
            (search, pull, render)
        }
    })
    .await
    .expect("join");
    let (search, pull, render) = out;
    assert!(search.status.success(), "{}", support::stderr(&search));
    assert!(
        support::stdout(&search).contains("acme/web") && support::stdout(&search).contains("1.3.0")
    );
    assert!(pull.status.success(), "{}", support::stderr(&pull));
    let pulled: serde_json::Value = serde_json::from_str(&support::stdout(&pull)).expect("json");
    assert_eq!(pulled["version"], "1.2.0");
    assert!(render.status.success(), "{}", support::stderr(&render));
    let list: serde_json::Value = serde_json::from_str(&support::stdout(&render)).expect("json");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"Deployment"), "{kinds:?}");
    assert!(url.starts_with("http://127.0.0.1:"));
    server.stop().await;
}
