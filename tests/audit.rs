//! The audit log has one writer: a promote past a paused gate from the console writes the
//! same line as `helmdeck promote --past-gate` does, but for the surface. Two simulated
//! clusters, the same project on each: one promoted from the CLI, one from the console.
//! (One test in this binary: the console writes to `$HELMDECK_DATA_DIR` of this process.)

mod support;

use helmdeck::app::{self, Executor};
use helmdeck::config::Config;
use helmdeck::tui::state::Popup;
use helmdeck::tui::{update, Key, Msg, State};
use serde_json::Value;
use std::time::Duration;
use support::{code, explain};
use tokio::sync::mpsc;

const SCENARIO: &str = "speed: 20\nseed: 5\npod_start: { min: 1s, max: 2s }\n";

/// A rolling service whose gate cannot measure (Prometheus is not there): the first deploy
/// pauses at the gate, inconclusive, and only a promote naming the check goes past it.
fn project() -> String {
    format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
    verify:
      - {{ name: errors, prometheus: {{ query: "up", condition: "result < 1" }}, interval: 100ms, count: 1 }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: audit }}
    prometheus: {{ address: "http://127.0.0.1:1" }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = support::charts_dir().display()
    )
}

const WEB_VALUES: &str =
    "replicaCount: 1\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

/// A project on a cluster of its own, its first revision paused at the gate.
async fn paused_at_gate() -> support::SimProject {
    let cfg = project();
    let p = support::SimProject::start(
        SCENARIO,
        &[("helmdeck.yaml", &cfg), ("web.yaml", WEB_VALUES)],
        "audit",
        &[],
    )
    .await;
    p.kubectl(&["create", "namespace", "audit"]).await;
    let out = p.helmdeck(&["deploy", "web", "--env", "test"]).await;
    assert_eq!(code(&out), 10, "paused at the gate: {}", explain(&out));
    p
}

/// The newest line of a project's audit log, without its time.
fn last_audit_line(p: &support::SimProject) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(p.path().join("data/audit.jsonl")).expect("audit log");
    let line = text.lines().last().expect("a line");
    let mut v: serde_json::Map<String, Value> = serde_json::from_str(line).expect("json");
    assert!(v.remove("time").is_some(), "{line}");
    v
}

async fn until(
    state: &mut State,
    exec: &mut Executor,
    rx: &mut mpsc::Receiver<Msg>,
    what: &str,
    cond: impl Fn(&State) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond(state) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => app::dispatch(state, exec, m),
            _ => panic!("timed out waiting for {what}: {:?}", state.shell.status),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_promote_past_a_gate_writes_the_clis_audit_line_but_for_the_surface() {
    let _env = support::env_lock().await;
    std::env::set_var("HELMDECK_HELM", support::helm());

    // From the CLI.
    let cli = paused_at_gate().await;
    let out = cli
        .helmdeck(&["promote", "web", "--env", "test", "--past-gate", "errors"])
        .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let mut from_cli = last_audit_line(&cli);

    // From the console, on another cluster with the same project.
    let console = paused_at_gate().await;
    std::env::set_var("HELMDECK_DATA_DIR", console.path().join("data"));
    let cfg = Config::load(&console.path().join("helmdeck.yaml")).expect("config");
    let (tx, mut rx) = mpsc::channel(app::CHANNEL);
    let mut state = helmdeck::tui::rows::console_state(&cfg);
    let mut exec = Executor::new(cfg, tx);
    for e in update::init(&mut state) {
        exec.run(e);
    }
    app::dispatch(&mut state, &mut exec, Msg::Key(Key::char('o')));
    until(&mut state, &mut exec, &mut rx, "the paused gate", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.snapshot.run.as_ref())
            .is_some_and(|r| r.paused_gate_check.as_deref() == Some("errors"))
    })
    .await;
    app::dispatch(&mut state, &mut exec, Msg::Key(Key::char('P')));
    assert!(
        matches!(&state.popup, Some(Popup::Confirm(c)) if c.act.past_gate() == Some("errors")),
        "{:?}",
        state.popup
    );
    app::dispatch(&mut state, &mut exec, Msg::Key(Key::char('y')));
    until(&mut state, &mut exec, &mut rx, "the drive's end", |s| {
        s.rollout
            .as_ref()
            .is_some_and(|r| !r.driving && r.last_end.is_some())
    })
    .await;
    let mut from_console = last_audit_line(&console);

    assert_eq!(from_cli.remove("surface"), Some(Value::from("cli")));
    assert_eq!(from_console.remove("surface"), Some(Value::from("console")));
    assert_eq!(from_cli["action"], "promote --past-gate errors");
    assert_eq!(from_cli["past_gate"], "errors");
    assert_eq!(from_cli["outcome"], "Healthy");
    assert_eq!(from_console, from_cli);
}
