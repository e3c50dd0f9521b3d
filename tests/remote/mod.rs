//! Real servers on loopback for the remote-source tests — docker-registry (OCI), moto (S3),
//! gcp-storage-emulator (GCS) — found through the variables scripts/provision-servers.sh
//! exports, started on free ports and killed on drop; plus the checks every source shares.
#![allow(dead_code)]

pub mod gcs;
pub mod oci;
pub mod s3;

use super::support;
use helmdeck::domain::manifest::{parse_stream, Object};
use helmdeck::engine::prepare::{prepare_adhoc, Overrides};
use helmdeck::render::{Helm, Renderer};
use helmdeck::sources::{no_progress, ChartSource};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's executable: `$var`, else where provisioning puts it. A missing server
/// fails the test, naming the step that installs it.
pub fn server_binary(var: &str, default: &Path, what: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{what} is not installed ({var}={} does not exist): run `source scripts/provision-tests.sh` \
             (scripts/provision-servers.sh installs it)",
            p.display()
        );
        return p;
    }
    assert!(
        default.is_file(),
        "{what} is not installed ({} missing): run `source scripts/provision-tests.sh` \
         (scripts/provision-servers.sh installs it), or set {var}",
        default.display()
    );
    default.to_path_buf()
}

pub fn registry_binary() -> PathBuf {
    server_binary(
        "HELMDECK_TEST_REGISTRY",
        Path::new("/usr/bin/docker-registry"),
        "docker-registry (Debian package)",
    )
}

pub fn moto_binary() -> PathBuf {
    server_binary(
        "HELMDECK_TEST_MOTO",
        &support::root().join(".venv-servers/bin/moto_server"),
        "moto[server] (PyPI)",
    )
}

pub fn gcs_emulator_binary() -> PathBuf {
    server_binary(
        "HELMDECK_TEST_GCS_EMULATOR",
        &support::root().join(".venv-servers/bin/gcp-storage-emulator"),
        "gcp-storage-emulator (PyPI)",
    )
}

pub fn python() -> PathBuf {
    server_binary(
        "HELMDECK_TEST_PYTHON",
        &support::root().join(".venv-servers/bin/python"),
        "the servers' Python with bcrypt (PyPI)",
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process on 127.0.0.1:port; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd` (its output goes to a log in `dir`) and waits until the port accepts.
    pub fn start(mut cmd: Command, port: u16, dir: tempfile::TempDir) -> Server {
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).expect("log");
        let err = out.try_clone().expect("log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut server = Server {
            child: Some(child),
            port,
            dir,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(|c| c.try_wait()) {
                panic!("{cmd:?} exited ({status}):\n{}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{cmd:?} did not listen on {port}:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The port is closed once the process is gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The demo charts as published in every test: web 1.2.0 (as in assets/), 1.3.0 and
/// 2.0.0-rc.1, worker 0.4.0. (name, version, package).
pub fn demo_packages() -> Vec<(String, String, Vec<u8>)> {
    let charts = support::charts_dir();
    let mut out = Vec::new();
    for (name, versions) in [
        ("web", &["1.2.0", "1.3.0", "2.0.0-rc.1"][..]),
        ("worker", &["0.4.0"][..]),
    ] {
        for v in versions {
            out.push((
                name.to_string(),
                v.to_string(),
                support::package(&charts.join(name), name, v),
            ));
        }
    }
    out
}

/// A packaged chart of about `bytes` bytes: the web chart plus an incompressible file
/// (`files/blob.bin`), published as `name`.
pub fn big_package(name: &str, version: &str, bytes: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join(name);
    copy_dir(&support::charts_dir().join("web"), &root);
    std::fs::create_dir_all(root.join("files")).expect("mkdir");
    // xorshift: incompressible, so the package is as large as the file.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let blob: Vec<u8> = (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(root.join("files/blob.bin"), blob).expect("blob");
    support::package(&root, name, version)
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

/// A Helm `index.yaml` for `packages`; `url(name, version)` is each entry's URL.
pub fn helm_index(
    packages: &[(String, String, Vec<u8>)],
    url: impl Fn(&str, &str) -> String,
) -> String {
    let mut index = String::from("apiVersion: v1\nentries:\n");
    let mut last = "";
    for (name, version, bytes) in packages {
        if name != last {
            index.push_str(&format!("  {name}:\n"));
            last = name;
        }
        index.push_str(&format!(
            "  - apiVersion: v2\n    name: {name}\n    version: {version}\n    appVersion: \"{version}\"\n    description: demo chart {name}\n    digest: {}\n    urls:\n    - {}\n",
            sha256(bytes).trim_start_matches("sha256:"),
            url(name, version)
        ));
    }
    index.push_str("generated: \"2026-11-25T00:00:00Z\"\n");
    index
}

fn objects_of(text: &str) -> Vec<(String, Value)> {
    let m = parse_stream(text, "staging").expect("parses");
    let mut v: Vec<(String, Value)> = m
        .all()
        .map(|o: &Object| (o.key().to_string(), o.body.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The objects a chart renders to with its defaults.
pub async fn render(chart: &Path) -> Vec<(String, Value)> {
    let prepared = prepare_adhoc(chart, "demo", "staging", &Overrides::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", chart.display()));
    let out = Renderer::new(Helm {
        path: support::helm(),
    })
    .render(&prepared.render_request())
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", chart.display()));
    objects_of(&out.text)
}

/// What every source must do with the demo charts published on it: list them, resolve
/// constraints, pull web 1.2.0 with the published digest, render it exactly as the local
/// chart renders, and serve a second pull from the cache.
pub async fn lists_resolves_pulls_and_caches(src: &dyn ChartSource) {
    let index = src.index().await.expect("index");
    assert!(index.warnings.is_empty(), "{:?}", index.warnings);
    let web: Vec<&str> = index.charts["web"]
        .iter()
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(web, vec!["2.0.0-rc.1", "1.3.0", "1.2.0"]);
    assert!(
        index.charts.contains_key("worker"),
        "{:?}",
        index.charts.keys()
    );
    let stable = index.charts["web"]
        .iter()
        .find(|v| v.version == "1.3.0")
        .expect("1.3.0 listed");
    assert!(
        stable.description.as_deref().is_some_and(|d| !d.is_empty())
            && stable.app_version.as_deref() == Some("1.3.0"),
        "the version search shows is described: {stable:?}"
    );

    let latest = src.fetch("web", None, no_progress()).await.expect("latest");
    assert_eq!(latest.version, "1.3.0", "prereleases only when asked");
    let pre = src
        .fetch("web", Some(">=2.0.0-0"), no_progress())
        .await
        .expect("prerelease");
    assert_eq!(pre.version, "2.0.0-rc.1");
    let worker = src
        .fetch("worker", Some("^0.4"), no_progress())
        .await
        .expect("worker");
    assert_eq!(worker.version, "0.4.0");

    let published = demo_packages()
        .into_iter()
        .find(|(n, v, _)| n == "web" && v == "1.2.0")
        .map(|(_, _, b)| b)
        .expect("web 1.2.0");
    let seen = std::sync::atomic::AtomicU64::new(0);
    let progress =
        |done: u64, _: Option<u64>| seen.store(done, std::sync::atomic::Ordering::Relaxed);
    let first = src
        .fetch("web", Some("~1.2.0"), &progress)
        .await
        .expect("~1.2.0");
    assert_eq!(first.version, "1.2.0");
    assert!(!first.from_cache);
    assert_eq!(
        first.digest,
        sha256(&published),
        "the digest of what was published"
    );
    assert_eq!(
        std::fs::read(&first.path).expect("pulled file"),
        published,
        "the pulled package is byte for byte the published one"
    );
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::Relaxed),
        published.len() as u64,
        "progress reports every byte"
    );

    let local = render(&support::charts_dir().join("web")).await;
    let pulled = render(&first.path).await;
    assert!(!local.is_empty());
    assert_eq!(pulled, local, "the pulled chart renders as the local copy");

    let second = src
        .fetch("web", Some("~1.2.0"), no_progress())
        .await
        .expect("second pull");
    assert!(second.from_cache, "the second pull is a cache hit");
    assert_eq!(second.digest, first.digest);
    assert_eq!(second.path, first.path);

    let missing = src
        .fetch("wbe", None, no_progress())
        .await
        .expect_err("no such chart");
    assert!(
        matches!(
            missing,
            helmdeck::sources::SourceError::ChartNotFound { .. }
        ),
        "{missing:?}"
    );
}

/// With the server gone, the cached copy is served with a warning naming the repository
/// and the age of the copy; a cold cache fails as unreachable (exit 3).
pub async fn offline_uses_the_cache(src: &dyn ChartSource, cold: &dyn ChartSource) {
    let again = src
        .fetch("web", Some("~1.2.0"), no_progress())
        .await
        .expect("offline from cache");
    assert_eq!(again.version, "1.2.0");
    assert!(again.from_cache);
    let w = again.warnings.join("\n");
    assert!(
        w.contains(&format!("`{}`", src.name())) && w.contains("unreachable") && w.contains("ago"),
        "{w}"
    );
    let e = cold
        .fetch("web", None, no_progress())
        .await
        .expect_err("nothing cached");
    assert!(e.is_unreachable(), "{e:?}");
}

/// The three remote servers at once, without authentication, holding `packages`: what the
/// benchmark and the memory measurement pull from.
pub struct AllServers {
    pub registry: Server,
    pub moto: s3::Moto,
    pub emulator: Server,
}

impl AllServers {
    /// Starts and fills them; the cloud credentials of this machine are kept out (every
    /// source goes anonymous, as against public buckets).
    pub async fn start(
        _env: &support::EnvGuard,
        packages: &[(String, String, Vec<u8>)],
    ) -> AllServers {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
        std::env::remove_var("AWS_ACCESS_KEY_ID");
        std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
        std::env::set_var("CLOUDSDK_CONFIG", "/nonexistent");
        let all = AllServers {
            registry: oci::registry(false),
            moto: s3::moto(false).await,
            emulator: gcs::emulator(),
        };
        oci::publish(&all.registry, "charts", packages).await;
        s3::publish(&all.moto, packages).await;
        gcs::publish(&all.emulator, packages).await;
        all
    }

    /// One repository per server.
    pub fn repositories(&self) -> Vec<helmdeck::config::Repository> {
        use helmdeck::config::{RepoType, Repository};
        let repo = |kind: RepoType, url: String, endpoint: Option<String>| Repository {
            name: kind.as_str().into(),
            kind,
            path: None,
            url: Some(url),
            auth: None,
            region: None,
            endpoint,
            git_ref: None,
            plain_http: kind == RepoType::Oci,
        };
        vec![
            repo(
                RepoType::Oci,
                format!("oci://127.0.0.1:{}/charts", self.registry.port),
                None,
            ),
            repo(
                RepoType::S3,
                format!("s3://{}/stable", s3::BUCKET),
                Some(self.moto.server.url()),
            ),
            repo(
                RepoType::Gcs,
                format!("gs://{}/stable", gcs::BUCKET),
                Some(self.emulator.url()),
            ),
        ]
    }
}

/// The source of `r` with its cache in `cache`.
pub fn open(r: &helmdeck::config::Repository, cache: &Path) -> Box<dyn ChartSource> {
    use helmdeck::config::RepoType;
    let cache = cache.to_path_buf();
    match r.kind {
        RepoType::Oci => Box::new(helmdeck::sources::oci::OciSource::new(r, cache).expect("oci")),
        RepoType::S3 => Box::new(helmdeck::sources::s3::source(r, cache).expect("s3")),
        RepoType::Gcs => Box::new(helmdeck::sources::gcs::source(r, cache).expect("gcs")),
        other => panic!("not a remote source: {other:?}"),
    }
}
