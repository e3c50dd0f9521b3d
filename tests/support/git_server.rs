//! Git repositories served on loopback for tests and benches: `git daemon` (git://), and
//! `git http-backend` behind a small axum server that demands a token over Basic auth the
//! way a forge does (401 otherwise). Both bind 127.0.0.1 on a free port and stop on drop.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("runs git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Bare repositories under `srv/`, written through work clones under `work/`.
pub struct GitRepos {
    pub root: tempfile::TempDir,
}

impl GitRepos {
    pub fn new() -> GitRepos {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("srv")).expect("srv");
        std::fs::create_dir_all(root.path().join("work")).expect("work");
        GitRepos { root }
    }

    pub fn srv(&self) -> PathBuf {
        self.root.path().join("srv")
    }

    pub fn bare(&self, name: &str) -> PathBuf {
        self.srv().join(format!("{name}.git"))
    }

    /// Writes `files` (path in repo → content) on `branch` of repository `name`, commits
    /// and pushes; returns the commit id.
    pub fn commit(&self, name: &str, branch: &str, files: &[(String, Vec<u8>)]) -> String {
        let work = self.root.path().join("work").join(name);
        let bare = self.bare(name);
        if !bare.exists() {
            git(
                &self.srv(),
                &["init", "-q", "--bare", &format!("{name}.git")],
            );
        }
        if !work.exists() {
            git(
                &self.root.path().join("work"),
                &["init", "-q", "-b", branch, name],
            );
        } else {
            git(&work, &["checkout", "-q", "-B", branch]);
        }
        for (p, bytes) in files {
            let path = work.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, bytes).expect("write");
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "update"]);
        git(
            &work,
            &[
                "push",
                "-q",
                "--force",
                bare.to_str().expect("utf8"),
                &format!("{branch}:refs/heads/{branch}"),
            ],
        );
        git(&work, &["rev-parse", "HEAD"])
    }

    /// Tags `commit` in the bare repository.
    pub fn tag(&self, name: &str, tag: &str, commit: &str) {
        git(&self.bare(name), &["tag", "-f", tag, commit]);
    }

    pub fn file_url(&self, name: &str) -> String {
        format!("file://{}", self.bare(name).display())
    }
}

/// Every file under `dir`, as (`prefix/relative path`, content).
pub fn files_of(dir: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, prefix, out);
            } else {
                let rel = p.strip_prefix(root).expect("prefix").to_string_lossy();
                let name = if prefix.is_empty() {
                    rel.into_owned()
                } else {
                    format!("{prefix}/{rel}")
                };
                out.push((name, std::fs::read(&p).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, prefix, &mut out);
    out
}

/// Chart `big` under `charts/big`: a ConfigMap template and `size` bytes of files that
/// compression cannot shrink (deterministic xorshift bytes, 64 KiB per file).
pub fn big_chart(size: usize) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "charts/big/Chart.yaml".to_string(),
            b"apiVersion: v2\nname: big\nversion: 1.0.0\n".to_vec(),
        ),
        (
            "charts/big/templates/cm.yaml".to_string(),
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n".to_vec(),
        ),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..size.div_ceil(64 * 1024) {
        let mut data = Vec::with_capacity(64 * 1024);
        for _ in 0..(64 * 1024 / 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        files.push((format!("charts/big/files/blob-{i:02}.bin"), data));
    }
    files
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_listening(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server on port {port} did not come up");
}

/// `git daemon` serving every repository under a folder over git://.
pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
}

impl Daemon {
    pub fn start(base: &Path) -> Daemon {
        let port = free_port();
        // `git daemon` runs `git-daemon` as a child: start that directly, so that killing
        // it stops the server.
        let exec_path = git(base, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts git daemon");
        wait_listening(port);
        Daemon {
            child: Some(child),
            port,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}.git", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Wait until the port refuses connections.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `git http-backend` behind axum, with an optional token every request must carry.
pub struct HttpGit {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct HttpState {
    base: PathBuf,
    token: Option<String>,
    requests: Arc<AtomicUsize>,
}

async fn cgi(
    axum::extract::State(st): axum::extract::State<HttpState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    st.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &st.token {
        use base64::Engine as _;
        let ok = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()))
            .is_some_and(|p| &p == token);
        if !ok {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Basic realm=\"git\"")],
                "authentication required\n",
            )
                .into_response();
        }
    }
    let header = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &st.base)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs git http-backend");
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    }
    let out = child.wait_with_output().await.expect("http-backend output");
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else {
        return (axum::http::StatusCode::BAD_GATEWAY, "bad CGI output").into_response();
    };
    let head = String::from_utf8_lossy(&raw[..at]).into_owned();
    let mut resp = axum::response::Response::new(axum::body::Body::from(raw[at + sep..].to_vec()));
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            let code = v
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .unwrap_or(500);
            *resp.status_mut() =
                axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK);
        } else if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(k.trim().as_bytes()),
            axum::http::HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}

impl HttpGit {
    pub fn start(base: &Path, token: Option<&str>) -> HttpGit {
        let requests = Arc::new(AtomicUsize::new(0));
        let state = HttpState {
            base: base.to_path_buf(),
            token: token.map(str::to_string),
            requests: requests.clone(),
        };
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use axum::serve::ListenerExt;
                // Like a real forge's server: no Nagle delay on responses.
                let listener = tokio::net::TcpListener::from_std(std_listener)
                    .expect("tokio listener")
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                let app = axum::Router::new().fallback(cgi).with_state(state);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        wait_listening(port);
        HttpGit {
            port,
            requests,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}.git", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HttpGit {
    fn drop(&mut self) {
        self.stop();
    }
}
