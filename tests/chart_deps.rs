//! Chart dependencies declared in Chart.yaml and missing from `charts/`, resolved like
//! `helm dependency build` through the real binary: one from a Helm repository on loopback,
//! one from docker-registry (OCI), one `file://`, each with an alias and a condition (one
//! disabled). `helmdeck render` equals `helm template` of the same chart with the
//! dependencies vendored by hand; Chart.lock is honoured (a lock Helm itself wrote passes,
//! one that disagrees with Chart.yaml is exit 2), an unknown repository is exit 2 naming it,
//! an unreachable one with nothing cached is exit 3; `repo pull` lists the dependencies;
//! the user's chart folder is never touched.

#[path = "remote/mod.rs"]
mod remote;
mod support;

use axum::extract::{Path as AxPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use helmdeck::domain::manifest::parse_stream;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A small dependency chart `name` at `version`: a ConfigMap and a Deployment that read
/// its own values (and the parent's global).
fn dependency_chart(root: &Path, name: &str, version: &str) -> PathBuf {
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.join("values.yaml"),
        "size: 1\nimage: busybox:1.36\nexports:\n  data:\n    exported: from-the-child\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}-{{ .Chart.Version }}\ndata:\n  size: {{ .Values.size | quote }}\n  global: {{ .Values.global.team | default \"none\" | quote }}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\nspec:\n  replicas: {{ .Values.size }}\n  selector:\n    matchLabels: {app: {{ .Chart.Name }}}\n  template:\n    metadata:\n      labels: {app: {{ .Chart.Name }}}\n    spec:\n      containers:\n        - name: main\n          image: {{ .Values.image }}\n",
    )
    .expect("write");
    dir
}

/// The parent chart `shop`: three dependencies (http, oci, file), each aliased and with a
/// condition; `mq` is disabled by default; import-values pulls the child's export up.
fn parent_chart(root: &Path, http: &str, oci: &str) -> PathBuf {
    let dir = root.join("charts/shop");
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: shop\nversion: 0.3.0\ndependencies:\n  - name: cache\n    version: \"^1.0\"\n    repository: \"{http}\"\n    alias: kv\n    condition: kv.enabled\n    import-values: [data]\n  - name: queue\n    version: \"~2.0.0\"\n    repository: \"{oci}\"\n    alias: mq\n    condition: mq.enabled\n    tags: [messaging]\n  - name: common\n    version: \">=0.1.0\"\n    repository: \"file://../../libs/common\"\n    alias: lib\n    condition: lib.enabled\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("values.yaml"),
        "global:\n  team: checkout\nkv:\n  enabled: true\n  size: 3\nmq:\n  enabled: false\nlib:\n  enabled: true\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-shop\ndata:\n  exported: {{ .Values.exported | default \"nothing\" | quote }}\n",
    )
    .expect("write");
    dir
}

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

async fn serve(AxPath(path): AxPath<String>, State(files): State<Files>) -> Response {
    let found = files.lock().expect("lock").get(&path).cloned();
    match found {
        Some(b) => (StatusCode::OK, b).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What the repository serves from now on: `packages` and their index.
fn publish(files: &Files, packages: &[(String, String, Vec<u8>)]) {
    let mut f = files.lock().expect("lock");
    f.clear();
    f.insert(
        "index.yaml".to_string(),
        remote::helm_index(packages, |n, v| format!("pkg/{n}-{v}.tgz")).into_bytes(),
    );
    for (n, v, b) in packages {
        f.insert(format!("pkg/{n}-{v}.tgz"), b.clone());
    }
}

/// A Helm repository on loopback serving `packages`.
async fn http_repo(
    packages: &[(String, String, Vec<u8>)],
) -> (String, tokio::task::JoinHandle<()>, Files) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let files: Files = Arc::new(Mutex::new(HashMap::new()));
    publish(&files, packages);
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::get(serve))
        .with_state(files.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task, files)
}

fn objects(text: &str) -> Vec<(String, Value)> {
    let m = parse_stream(text, "default").expect("parses");
    let mut v: Vec<(String, Value)> = m
        .all()
        .map(|o| {
            let mut body = o.body.clone();
            if o.kind == "Secret" {
                body["data"] = Value::Null;
            }
            (o.key().to_string(), body)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

struct Setup {
    dir: tempfile::TempDir,
    chart: PathBuf,
    http_url: String,
    http: tokio::task::JoinHandle<()>,
    served: Files,
    registry: remote::Server,
    packages: Vec<(String, String, Vec<u8>)>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("build");
    let mut packages = Vec::new();
    for (name, version) in [
        ("cache", "1.0.0"),
        ("cache", "1.2.0"),
        ("queue", "2.0.1"),
        ("queue", "3.0.0"),
    ] {
        let c = dependency_chart(&work, name, version);
        packages.push((
            name.to_string(),
            version.to_string(),
            support::package(&c, name, version),
        ));
    }
    let common = dependency_chart(&dir.path().join("libs-build"), "common", "0.2.0");
    copy_dir(&common, &dir.path().join("libs/common"));
    let (http_url, http, served) = http_repo(&packages[..2]).await;
    let registry = remote::oci::registry(false);
    remote::oci::publish(&registry, "charts", &packages[2..]).await;
    let oci = format!("oci://127.0.0.1:{}/charts", registry.port);
    let chart = parent_chart(dir.path(), &http_url, &oci);
    std::fs::write(
        dir.path().join("helmdeck.yaml"),
        format!(
            "repositories:\n  - {{ name: local, type: local, path: ./charts }}\n  - {{ name: registry, type: oci, url: \"{oci}\", plain_http: true }}\nservices:\n  - {{ name: shop, chart: {{ repository: local, name: shop }} }}\nenvironments:\n  - {{ name: dev, cluster: {{ kubeconfig: ./kubeconfig, context: dev, namespace: shop }} }}\n"
        ),
    )
    .expect("config");
    Setup {
        dir,
        chart,
        http_url,
        http,
        served,
        registry,
        packages,
    }
}

/// The same chart with its dependencies copied into charts/ by hand: what helmdeck must
/// render like.
fn vendored_by_hand(s: &Setup) -> PathBuf {
    let copy = s.dir.path().join("by-hand/shop");
    copy_dir(&s.chart, &copy);
    let charts = copy.join("charts");
    std::fs::create_dir_all(&charts).expect("mkdir");
    for (name, version) in [("cache", "1.2.0"), ("queue", "2.0.1")] {
        let (_, _, bytes) = s
            .packages
            .iter()
            .find(|p| p.0 == name && p.1 == version)
            .expect("package");
        std::fs::write(charts.join(format!("{name}-{version}.tgz")), bytes).expect("write");
    }
    copy_dir(&s.dir.path().join("libs/common"), &charts.join("common"));
    copy
}

fn run(s: &Setup, cache: &Path, args: &[&str]) -> std::process::Output {
    let cache = cache.to_str().expect("utf8");
    let mut cmd = std::process::Command::new(support::bin());
    cmd.args(args)
        .current_dir(s.dir.path())
        .env("HELMDECK_HELM", support::helm())
        .env("HELMDECK_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env_remove("HELMDECK_CONFIG");
    cmd.output().expect("runs helmdeck")
}

fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).expect("prefix").display().to_string());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_from_http_oci_and_file_render_like_helm_with_them_vendored() {
    let s = setup().await;
    let before = tree(&s.chart);
    let cache = tempfile::tempdir().expect("cache");
    let expected = support::helm_template(&[
        "shop",
        vendored_by_hand(&s).to_str().expect("utf8"),
        "--namespace",
        "shop",
    ]);
    assert!(expected.contains("shop-kv-1.2.0"), "{expected}");
    assert!(!expected.contains("shop-mq"), "mq is disabled: {expected}");
    assert!(
        expected.contains("from-the-child"),
        "import-values: {expected}"
    );

    // A configured service, and the same chart given by path.
    let by_service = run(&s, cache.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(
        support::code(&by_service),
        0,
        "{}",
        support::stderr(&by_service)
    );
    assert_eq!(objects(&support::stdout(&by_service)), objects(&expected));
    let chart = s.chart.to_str().expect("utf8");
    let by_path = run(
        &s,
        cache.path(),
        &[
            "render",
            "--chart",
            chart,
            "--release",
            "shop",
            "--namespace",
            "shop",
        ],
    );
    assert_eq!(support::code(&by_path), 0, "{}", support::stderr(&by_path));
    assert_eq!(objects(&support::stdout(&by_path)), objects(&expected));

    // Enabling the disabled one through the values renders it too (it was vendored).
    let on = run(
        &s,
        cache.path(),
        &["render", "shop", "--env", "dev", "--set", "mq.enabled=true"],
    );
    assert_eq!(support::code(&on), 0, "{}", support::stderr(&on));
    assert!(support::stdout(&on).contains("shop-mq-2.0.1"));

    // The user's folder is untouched: no charts/, no Chart.lock.
    assert_eq!(tree(&s.chart), before);

    // `repo pull` names every dependency, its version, digest and where it came from.
    let pulled = run(
        &s,
        cache.path(),
        &["repo", "pull", "local/shop", "-o", "json"],
    );
    assert_eq!(support::code(&pulled), 0, "{}", support::stderr(&pulled));
    let v: Value = serde_json::from_str(&support::stdout(&pulled)).expect("json");
    let deps = v["dependencies"].as_array().expect("dependencies");
    let summary: Vec<(String, String, String, String)> = deps
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["alias"].as_str().unwrap_or_default().to_string(),
                d["version"].as_str().unwrap_or_default().to_string(),
                d["repository"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "cache".into(),
                "kv".into(),
                "1.2.0".into(),
                s.http_url.clone()
            ),
            (
                "queue".into(),
                "mq".into(),
                "2.0.1".into(),
                format!("oci://127.0.0.1:{}/charts", s.registry.port)
            ),
            (
                "common".into(),
                "lib".into(),
                "0.2.0".into(),
                "file://../../libs/common".into()
            ),
        ]
    );
    let cache_pkg = &s
        .packages
        .iter()
        .find(|p| p.0 == "cache" && p.1 == "1.2.0")
        .expect("pkg")
        .2;
    assert_eq!(deps[0]["digest"], Value::String(remote::sha256(cache_pkg)));
    let text = run(&s, cache.path(), &["repo", "pull", "local/shop"]);
    assert!(
        support::stdout(&text).contains("dependency queue (as mq) 2.0.1 from oci://"),
        "{}",
        support::stdout(&text)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_lock_pins_versions_and_a_stale_lock_or_unknown_repository_is_exit_2() {
    let s = setup().await;
    let cache = tempfile::tempdir().expect("cache");
    // A Chart.lock Helm itself wrote (the SDK's dependency update) when the repository had
    // only cache 1.0.0; 1.2.0 is published since, and Chart.yaml's ^1.0 would pick it.
    let old = s.packages[0].clone();
    assert_eq!((old.0.as_str(), old.1.as_str()), ("cache", "1.0.0"));
    publish(&s.served, &[old]);
    let locked = s.dir.path().join("locked/shop");
    copy_dir(&s.chart, &locked);
    support::engine_call(
        "import sys, helm_python as h; h.dependency_update(sys.argv[1], plain_http=True)",
        &[locked.to_str().expect("utf8")],
    );
    let lock = std::fs::read_to_string(locked.join("Chart.lock")).expect("Helm wrote Chart.lock");
    assert!(lock.contains("version: 1.0.0"), "{lock}");
    std::fs::write(s.chart.join("Chart.lock"), &lock).expect("lock");
    publish(&s.served, &s.packages[..2]);
    let out = run(&s, cache.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    assert!(
        support::stdout(&out).contains("shop-kv-1.0.0"),
        "the lock's version"
    );

    // Chart.yaml changed after the lock was written: exit 2, naming the chart.
    let yaml = std::fs::read_to_string(s.chart.join("Chart.yaml")).expect("read");
    std::fs::write(s.chart.join("Chart.yaml"), yaml.replace("~2.0.0", "~2.0.1")).expect("write");
    let out = run(&s, cache.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 2, "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(
        err.contains("Chart.lock of chart `shop` is out of sync"),
        "{err}"
    );
    assert!(err.contains("helm dependency update"), "{err}");
    std::fs::remove_file(s.chart.join("Chart.lock")).expect("rm");

    // A repository helmdeck.yaml does not define: exit 2 naming dependency and repository.
    std::fs::write(
        s.chart.join("Chart.yaml"),
        yaml.replace(&s.http_url, "@nope"),
    )
    .expect("write");
    let out = run(&s, cache.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 2, "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(
        err.contains("dependency `cache`") && err.contains("`@nope`"),
        "{err}"
    );
    assert!(err.contains("local, registry"), "{err}");

    // `@registry` names the configured OCI repository (its plain_http applies).
    let oci = format!("oci://127.0.0.1:{}/charts", s.registry.port);
    std::fs::write(s.chart.join("Chart.yaml"), yaml.replace(&oci, "@registry")).expect("write");
    let out = run(
        &s,
        cache.path(),
        &["render", "shop", "--env", "dev", "--set", "mq.enabled=true"],
    );
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    assert!(support::stdout(&out).contains("shop-mq-2.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_repository_is_exit_3_unless_a_copy_is_cached() {
    let s = setup().await;
    let warm = tempfile::tempdir().expect("cache");
    let out = run(&s, warm.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    s.http.abort();
    while !s.http.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let cold = tempfile::tempdir().expect("cache");
    let out = run(&s, cold.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 3, "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(err.contains("dependency `cache` of chart `shop`"), "{err}");
    assert!(err.contains(&s.http_url), "{err}");
    let out = run(&s, warm.path(), &["render", "shop", "--env", "dev"]);
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("unreachable"),
        "{}",
        support::stderr(&out)
    );
}
