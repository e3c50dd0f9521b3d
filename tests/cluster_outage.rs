//! The API server going away: mid-run (the driver says so once, waits, and goes on where it
//! was when it answers again — re-taking its lapsed lease since nobody changed the run), and
//! an API server that accepts connections but never answers (every command gives up within
//! `cluster.timeout` with exit 3 and says so).

mod support;

use std::time::{Duration, Instant};
use support::proxy::{Mode, TcpProxy};
use support::{code, explain, image_of};

const SCENARIO: &str = "speed: 20\nseed: 5\npod_start: { min: 1s, max: 2s }\n";
const VALUES: &str = "replicaCount: 2\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

fn config(kubeconfig: &str, timeout: &str) -> String {
    format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary: {{ steps: [ {{ replicas: 1 }}, {{ pause: {{ duration: 6s }} }}, {{ percent: 50 }} ] }}
environments:
  - name: test
    cluster: {{ kubeconfig: {kubeconfig}, context: helmdeck-sim, namespace: away, timeout: {timeout} }}
    policy: {{ auto_rollback: true, progress_deadline: 90s }}
"#,
        charts = support::charts_dir().display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_rides_out_the_api_server_going_away_and_coming_back() {
    let env = support::SimProject::start(
        SCENARIO,
        &[
            ("helmdeck.yaml", &config("./kubeconfig.proxy", "5s")),
            ("web.yaml", VALUES),
        ],
        "away",
        &[("HELMDECK_LEASE_SECONDS", "4")],
    )
    .await;
    env.kubectl(&["create", "namespace", "away"]).await;
    let url = env.sim_url();
    let upstream = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let proxy = TcpProxy::start(upstream.to_string(), Mode::Pass).await;
    let kc = std::fs::read_to_string(&env.kubeconfig).expect("kubeconfig");
    std::fs::write(
        env.path().join("kubeconfig.proxy"),
        proxy.kubeconfig(&kc, &url),
    )
    .expect("write");

    let first = env.helmdeck(&["deploy", "web", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let a = env.spawn(
        &[
            "deploy",
            "web",
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
            "--wait",
        ],
        &[],
    );
    a.wait_for("pause: 6s left", Duration::from_secs(60)).await;
    // Down for longer than the lease term: the driver's writes wait, its lease lapses.
    proxy.set(Mode::Refuse);
    tokio::time::sleep(Duration::from_secs(10)).await;
    proxy.set(Mode::Pass);
    let (exit, err) = a.finish(Duration::from_secs(120)).await;
    assert_eq!(exit, 0, "the run goes on and ends healthy:\n{err}");
    let lines: Vec<&str> = err.lines().collect();
    let away: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("cluster unreachable, retrying"))
        .collect();
    assert_eq!(away.len(), 1, "one line for the outage:\n{err}");
    assert!(err.contains("cluster reachable again after"), "{err}");
    let dep = env.get_json(&["deployment", "web"]).await;
    assert!(image_of(&dep).ends_with(":1.2.1"), "{dep}");
    let found = helmdeck::sim::writelog::overlapping_terms(&env.writes(), "web", &|_| true);
    assert!(found.is_empty(), "{found:#?}");
}

/// A server that accepts connections and never answers.
async fn blackhole() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_api_server_fails_every_command_within_the_timeout_with_exit_3() {
    let (port, _server) = blackhole().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: helmdeck-sim\n  context:\n    cluster: silent\n    user: u\ncurrent-context: helmdeck-sim\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).expect("write");
    std::fs::write(
        dir.path().join("helmdeck.yaml"),
        config("./kubeconfig", "2s"),
    )
    .expect("write");
    std::fs::write(dir.path().join("web.yaml"), VALUES).expect("write");
    for args in [
        vec!["status", "web", "--env", "test"],
        vec!["history", "web", "--env", "test"],
        vec!["deploy", "web", "--env", "test"],
        vec!["abort", "web", "--env", "test"],
    ] {
        let started = Instant::now();
        let out = support::helmdeck_in(dir.path(), &args, &[]).await;
        let took = started.elapsed();
        assert_eq!(code(&out), 3, "{args:?}: {}", explain(&out));
        let err = support::stderr(&out);
        assert!(
            err.contains(&format!("no answer from http://127.0.0.1:{port}/ in 2 s")),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint:"), "{err}");
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }
}
