//! Shared test helpers: where the Helm engine, the demo assets and the binary are.
#![allow(dead_code)]

pub mod proxy;

use helmdeck::sim::{self, Scenario, SimOptions};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn charts_dir() -> PathBuf {
    root().join("assets/charts")
}

pub fn demo_config() -> PathBuf {
    root().join("assets/demo/helmdeck.yaml")
}

/// The Helm the tests compare against: $HELMDECK_HELM, else `helm` on PATH, else the
/// project-local engine that `tools/install-helm-engine.sh` installs.
pub fn helm() -> PathBuf {
    if let Some(h) = std::env::var_os("HELMDECK_HELM").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&paths) {
            let c = d.join("helm");
            if c.is_file() {
                return c;
            }
        }
    }
    let local = root().join(".venv/bin/helm");
    assert!(
        local.is_file(),
        "no Helm for the tests: run tools/install-helm-engine.sh (or set HELMDECK_HELM)"
    );
    local
}

/// A program the tests need, from PATH or from where scripts/provision-tests.sh unpacks it
/// without root (`.helmdeck-tools/bin`). Missing, the test fails saying how to install it:
/// a test that needs a program never passes without it.
pub fn program(name: &str, package: &str) -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&paths) {
            let c = d.join(name);
            if c.is_file() {
                return c;
            }
        }
    }
    let local = root().join(".helmdeck-tools/bin").join(name);
    assert!(
        local.is_file(),
        "{name} is not installed: run `source scripts/provision-tests.sh` (it installs Debian's \
         {package}, or unpacks it into .helmdeck-tools without root), as scripts/test does"
    );
    local
}

pub fn kubectl_bin() -> PathBuf {
    program("kubectl", "kubernetes-client")
}

pub fn tmux_bin() -> PathBuf {
    program("tmux", "tmux")
}

/// The binary under test; `$HELMDECK_TEST_BIN` wins (a private copy, when several
/// worktrees share one target directory and overwrite each other's `helmdeck`).
pub fn bin() -> PathBuf {
    if let Some(b) = std::env::var_os("HELMDECK_TEST_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(b);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_helmdeck"))
}

/// Runs the helmdeck binary with a private cache and the test Helm.
pub fn helmdeck(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Output {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .env("HELMDECK_HELM", helm())
        .env("HELMDECK_CACHE_DIR", cache.path())
        .env("NO_COLOR", "1")
        .env_remove("HELMDECK_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs helmdeck");
    drop(cache);
    out
}

/// The one lock of every test that changes the process environment (`set_var`,
/// `remove_var`): `cargo test` runs a binary's tests on threads of one process, where a
/// variable one test sets is what another reads (and libc's getenv races a concurrent
/// setenv). Take it first and keep the guard until the test ends; a helper that changes
/// the environment takes an `&EnvGuard` to show its caller holds it. (nextest runs each
/// test in its own process; the lock keeps `cargo test` honest too.)
static ENV_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub type EnvGuard = tokio::sync::MutexGuard<'static, ()>;

pub async fn env_lock() -> EnvGuard {
    ENV_LOCK.lock().await
}

/// [`env_lock`] for tests that are not async.
pub fn env_lock_blocking() -> EnvGuard {
    ENV_LOCK.blocking_lock()
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The Python of the Helm engine (helm-python-sdk) and the PYTHONPATH it needs: `.venv`,
/// or `.venv/pylib` where no venv could be made. Fails when the engine is not installed.
pub fn engine_python() -> (PathBuf, String) {
    let venv = root().join(".venv");
    let (py, path) = if venv.join("bin/python").is_file() {
        (venv.join("bin/python"), String::new())
    } else {
        ("python3".into(), venv.join("pylib").display().to_string())
    };
    let ok = Command::new(&py)
        .env("PYTHONPATH", &path)
        .args(["-c", "import helm_python"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the Helm engine's SDK is not installed in .venv: run tools/install-helm-engine.sh"
    );
    (py, path)
}

/// Runs `script` with the Helm engine's SDK importable (`sys.argv[1..]` = `args`); returns
/// its stdout and fails the test with its stderr when it fails.
pub fn engine_call(script: &str, args: &[&str]) -> String {
    let (py, path) = engine_python();
    let out = Command::new(py)
        .env("PYTHONPATH", path)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("runs the engine's python");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs Helm directly.
pub fn helm_template(args: &[&str]) -> String {
    let out = Command::new(helm())
        .arg("template")
        .args(args)
        .output()
        .expect("runs helm");
    assert!(
        out.status.success(),
        "helm template {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Packages a chart folder as Helm does: a gzipped tar with the chart under `<name>/`,
/// `version` replacing Chart.yaml's.
pub fn package(dir: &Path, name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    fn add(
        tar: &mut tar::Builder<flate2::write::GzEncoder<Vec<u8>>>,
        root: &Path,
        dir: &Path,
        name: &str,
        version: &str,
    ) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p
                .strip_prefix(root)
                .expect("prefix")
                .to_string_lossy()
                .to_string();
            if p.is_dir() {
                add(tar, root, &p, name, version);
                continue;
            }
            let mut bytes = std::fs::read(&p).expect("read");
            if rel == "Chart.yaml" {
                let text = String::from_utf8_lossy(&bytes).to_string();
                let text: Vec<String> = text
                    .lines()
                    .map(|l| {
                        if l.starts_with("version:") {
                            format!("version: {version}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
                bytes = (text.join("\n") + "\n").into_bytes();
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{name}/{rel}"), bytes.as_slice())
                .expect("append");
        }
    }
    add(&mut tar, dir, dir, name, version);
    let mut gz = tar.into_inner().expect("tar");
    gz.flush().expect("flush");
    gz.finish().expect("gzip")
}

/// Runs kubectl against `kubeconfig` off the async runtime; stdout then stderr.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let kc = kubeconfig.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(kubectl_bin())
            .args(&args)
            .env("KUBECONFIG", &kc)
            .output()
            .expect("kubectl");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    })
    .await
    .expect("join")
}

/// `kubectl -n NS get WHAT -o json`, parsed.
pub async fn kubectl_json(kubeconfig: &Path, namespace: &str, what: &[&str]) -> serde_json::Value {
    let mut args = vec!["-n", namespace, "get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    let text = kubectl(kubeconfig, &args).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl {what:?}: {e}: {text}"))
}

/// Runs the binary off the async runtime, in `dir`, with `envs` and its data directory
/// (audit log) at `dir/data` so that nothing lands in the user's directories.
pub async fn helmdeck_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data = dir.join("data");
    envs.push((
        "HELMDECK_DATA_DIR".into(),
        data.to_string_lossy().into_owned(),
    ));
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        helmdeck(&refs, &dir, &envs)
    })
    .await
    .expect("join")
}

/// Starts the simulated cluster on loopback with `scenario` (YAML), its kubeconfig written
/// to `dir/kubeconfig`; the cluster stops when the handle is dropped.
pub async fn start_sim(dir: &Path, scenario: &str) -> (sim::SimHandle, PathBuf) {
    let kubeconfig = dir.join("kubeconfig");
    let handle = sim::start(SimOptions {
        scenario: Some(Scenario::from_yaml(scenario).expect("scenario")),
        kubeconfig_path: Some(kubeconfig.clone()),
        ..Default::default()
    })
    .await
    .expect("sim starts");
    (handle, kubeconfig)
}

/// Runs kubectl against `kubeconfig` on this thread and asserts that it succeeded.
pub fn kubectl_ok(kubeconfig: &Path, args: &[&str]) {
    let out = Command::new(kubectl_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("kubectl");
    assert!(out.status.success(), "{out:?}");
}

/// A helmdeck project in a temp dir (its `helmdeck.yaml`, values files and kubeconfig) on a
/// simulated cluster of its own, run with the same environment variables every time.
pub struct SimProject {
    _sim: sim::SimHandle,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    namespace: String,
    envs: Vec<(String, String)>,
}

impl SimProject {
    /// Starts the cluster with `scenario` and writes `files` (name, text) into the project.
    /// `namespace` is where `get_json` looks; creating it is left to the caller.
    pub async fn start(
        scenario: &str,
        files: &[(&str, &str)],
        namespace: &str,
        envs: &[(&str, &str)],
    ) -> SimProject {
        let dir = tempfile::tempdir().expect("tempdir");
        let (handle, kubeconfig) = start_sim(dir.path(), scenario).await;
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect(name);
        }
        SimProject {
            _sim: handle,
            dir,
            kubeconfig,
            namespace: namespace.to_string(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The binary, run in the project with its environment variables.
    pub async fn helmdeck(&self, args: &[&str]) -> Output {
        let envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        helmdeck_in(self.dir.path(), args, &envs).await
    }

    pub async fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&self.kubeconfig, args).await
    }

    /// `kubectl get WHAT -o json` in the project's namespace.
    pub async fn get_json(&self, what: &[&str]) -> Value {
        kubectl_json(&self.kubeconfig, &self.namespace, what).await
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The simulated cluster's URL.
    pub fn sim_url(&self) -> String {
        self._sim.url()
    }

    /// The simulated cluster's write log so far (see `helmdeck::sim::writelog`).
    pub fn writes(&self) -> Vec<helmdeck::sim::writelog::WriteEntry> {
        self._sim.cluster().writes.entries()
    }

    /// The binary started in the background in the project, with its environment plus
    /// `extra`.
    pub fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> Running {
        let mut envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend_from_slice(extra);
        spawn_helmdeck(self.dir.path(), args, &envs)
    }

    /// The binary run in the project with its environment plus `extra`.
    pub async fn helmdeck_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend_from_slice(extra);
        helmdeck_in(self.dir.path(), args, &envs).await
    }
}

/// The exit code, -1 when killed by a signal.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Exit code, stdout and stderr, for an assertion's message.
pub fn explain(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// The image of a Deployment's first container.
pub fn image_of(dep: &Value) -> String {
    dep.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A helmdeck process running in the background, its stderr collected line by line.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _cache: tempfile::TempDir,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.lines.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits until a stderr line contains `text` (panics with what was printed after
    /// `within`).
    pub async fn wait_for(&self, text: &str, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            if self
                .lines
                .lock()
                .map(|l| l.iter().any(|x| x.contains(text)))
                .unwrap_or(false)
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no line with {text:?} within {within:?}; stderr so far:\n{}",
                self.stderr()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Sends a signal (`libc::SIGSTOP`, `SIGCONT`, `SIGKILL`…).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Whether the process is stopped (state `T` in /proc).
    pub fn stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('T'))
            })
            .unwrap_or(false)
    }

    /// Waits for it to exit (panics after `within`): its exit code and stderr.
    pub async fn finish(mut self, within: std::time::Duration) -> (i32, String) {
        let deadline = std::time::Instant::now() + within;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => {
                    if let Some(r) = self.reader.take() {
                        let _ = r.join();
                    }
                    return (status.code().unwrap_or(-1), self.stderr());
                }
                None => {
                    if std::time::Instant::now() > deadline {
                        let _ = self.child.kill();
                        panic!(
                            "helmdeck still running after {within:?}; stderr:\n{}",
                            self.stderr()
                        );
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `dir` (data directory `dir/data`, a private cache) without waiting.
pub fn spawn_helmdeck(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Running {
    use std::io::BufRead;
    let cache = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("HELMDECK_HELM", helm())
        .env("HELMDECK_CACHE_DIR", cache.path())
        .env("HELMDECK_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1")
        .env_remove("HELMDECK_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawns helmdeck");
    let err = child.stderr.take().expect("stderr");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    Running {
        child,
        lines,
        reader: Some(reader),
        _cache: cache,
    }
}
