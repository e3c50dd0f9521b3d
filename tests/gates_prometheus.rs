//! Prometheus gates against a real Prometheus (Debian's `prometheus`, installed by
//! `scripts/provision-tests.sh`) bound to loopback, scraping a tiny exporter this test serves:
//! a passing threshold deploys, a failing one rolls back, an unreachable Prometheus is
//! inconclusive and pauses the run until the operator promotes past the gate.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{code, explain};

/// A Prometheus server for one test, stopped when dropped.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> PathBuf {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
    {
        let p = dir.join("prometheus");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the `prometheus` binary is missing: run `. scripts/provision-tests.sh` as root (it installs Debian's `prometheus` package), or `apt-get install prometheus`"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_prometheus(dir: &Path, exporter: u16) -> Prometheus {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n"
        ),
    )
    .expect("prometheus.yml");
    let child = Command::new(prometheus_binary())
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Serves `helmdeck_test_error_ratio` with the value in `ratio` (millionths).
async fn start_exporter(ratio: Arc<AtomicU64>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let v = ratio.load(Ordering::SeqCst) as f64 / 1e6;
            async move {
                format!(
                    "# TYPE helmdeck_test_error_ratio gauge\nhelmdeck_test_error_ratio{{release=\"webprom\",track=\"stable\"}} {v}\nhelmdeck_test_error_ratio{{release=\"webprom\",track=\"canary\"}} 0.9\n"
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Waits until Prometheus has scraped `want` for the stable series.
async fn wait_for_value(url: &str, want: f64) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let q = urlencoding::encode("helmdeck_test_error_ratio{track=\"stable\"}").into_owned();
    loop {
        let got = async {
            let bytes = client
                .get(format!("{url}/api/v1/query?query={q}"))
                .send()
                .await
                .ok()?
                .bytes()
                .await
                .ok()?;
            let v: Value = serde_json::from_slice(&bytes).ok()?;
            v.pointer("/data/result/0/value/1")?
                .as_str()?
                .parse::<f64>()
                .ok()
        }
        .await;
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus at {url} did not scrape {want} within 20s (last: {got:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_gate_passes_fails_and_pauses_when_prometheus_is_unreachable() {
    let prom_dir = tempfile::tempdir().expect("tempdir");
    let ratio = Arc::new(AtomicU64::new(4_000)); // 0.004
    let exporter = start_exporter(ratio.clone()).await;
    let prom = start_prometheus(prom_dir.path(), exporter);

    let check = r#"{ name: errors, prometheus: { query: 'max(helmdeck_test_error_ratio{release="{{release}}",track="{{track}}"})', condition: "result < 0.01" }, interval: 200ms, count: 3 }"#;
    let cfg = format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: webprom
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
    verify: [ {check} ]
  - name: webpromdown
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
    verify:
      - {{ name: errors, prometheus: {{ query: "vector(0)", condition: "result < 1", address: "http://127.0.0.1:1" }}, interval: 200ms, count: 2 }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: prom }}
    prometheus: {{ address: "{prom}", token_env: PROM_TOKEN }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = support::charts_dir().display(),
        prom = prom.url,
    );
    let env = support::SimProject::start(
        "speed: 20\nseed: 5\npod_start: { min: 1s, max: 2s }\n",
        &[
            ("helmdeck.yaml", &cfg),
            (
                "web.yaml",
                "replicaCount: 2\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\ndatabase:\n  password: pw-for-tests\n",
            ),
        ],
        "prom",
        &[("PROM_TOKEN", "prom-token-7781")],
    )
    .await;
    support::kubectl_ok(&env.kubeconfig, &["create", "namespace", "prom"]);
    wait_for_value(&prom.url, 0.004).await;

    // 0.004 < 0.01: passes.
    let out = env.helmdeck(&["deploy", "webprom", "--env", "test"]).await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let st = env
        .helmdeck(&["status", "webprom", "--env", "test", "-o", "json"])
        .await;
    let st: Value = serde_json::from_str(&support::stdout(&st)).expect("json");
    let m = &st["gates"][0]["checks"][0]["measurements"];
    assert_eq!(m.as_array().map(Vec::len), Some(3), "{st}");
    assert_eq!(m[0]["outcome"], "pass");
    assert_eq!(m[0]["value"], "0.004");
    assert!(
        m[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("release=\"webprom\",track=\"stable\""),
        "placeholders filled: {m}"
    );

    // 0.05 is over the threshold: the second revision rolls back.
    ratio.store(50_000, Ordering::SeqCst);
    wait_for_value(&prom.url, 0.05).await;
    let out = env
        .helmdeck(&[
            "deploy",
            "webprom",
            "--env",
            "test",
            "--set",
            "image.tag=2.0",
        ])
        .await;
    assert_eq!(code(&out), 1, "{}", explain(&out));
    assert!(
        support::stdout(&out).contains("check `errors` failed")
            && support::stdout(&out).contains("0.05"),
        "{}",
        explain(&out)
    );
    assert!(
        !format!("{}{}", support::stdout(&out), support::stderr(&out)).contains("prom-token-7781"),
        "the token never shows"
    );

    // Unreachable: inconclusive, paused (exit 10) — not failed.
    let out = env
        .helmdeck(&["deploy", "webpromdown", "--env", "test"])
        .await;
    assert_eq!(code(&out), 10, "{}", explain(&out));
    let text = support::stdout(&out);
    assert!(
        text.contains("Paused")
            && text.contains("inconclusive")
            && text.contains("--past-gate errors"),
        "{}",
        explain(&out)
    );
    let out = env
        .helmdeck(&["promote", "webpromdown", "--env", "test"])
        .await;
    assert_eq!(
        code(&out),
        2,
        "promote needs the check named: {}",
        explain(&out)
    );
    assert!(
        support::stderr(&out).contains("--past-gate errors"),
        "{}",
        explain(&out)
    );
    let out = env
        .helmdeck(&[
            "promote",
            "webpromdown",
            "--env",
            "test",
            "--past-gate",
            "errors",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    assert!(
        support::stdout(&out).contains("Healthy"),
        "{}",
        explain(&out)
    );
}
