//! Secrets as teams keep them, end to end against the simulated cluster: a cluster Secret and
//! a command's output reach the release (render, values, diff, deploy), the live objects carry
//! the real values, and no form of any value (raw, base64, URL-encoded, JSON-escaped) shows in
//! any command's output, the logs, the audit, the cache or the release record's values part.

mod support;

use base64::Engine as _;
use serde_json::Value;
use std::path::Path;

const SCENARIO: &str = "speed: 20\nseed: 7\npod_start: { min: 1s, max: 2s }\n";
const DB_PASSWORD: &str = "Db-Pa55w0rd/9f3k1 x";
const API_TOKEN: &str = "tok-7Hq2+ZZp0&aa91";

/// Every form a secret value could take on its way out.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).expect("json");
    vec![
        secret.to_string(),
        base64::engine::general_purpose::STANDARD.encode(secret),
        urlencoding::encode(secret).into_owned(),
        json[1..json.len() - 1].to_string(),
    ]
}

/// Fails naming the place when any form of any secret is in `text`.
fn assert_clean(place: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        for f in forms(s) {
            assert!(
                !text.contains(&f),
                "{place} holds a form of a secret ({f:?}):\n{text}"
            );
        }
    }
}

/// Every file under `dir` (logs, audit, cache), read as text.
fn files_under(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// The release record of revision `n`, without the rendered objects it keeps for rollback.
async fn record_values_part(p: &support::SimProject, release: &str, n: u32) -> Value {
    let secret = p
        .get_json(&["secret", &format!("helmdeck.v1.{release}.r{n}")])
        .await;
    let rec = helmdeck::domain::record::ReleaseRecord::from_secret(&secret).expect("record");
    let mut v = serde_json::to_value(&rec).expect("json");
    if let Value::Object(m) = &mut v {
        m.remove("manifests");
    }
    v
}

fn config(charts: &Path, token_command: &str) -> String {
    format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: shop }}
    secrets:
      - {{ path: database.password, from: {{ secret: {{ name: db-creds, key: password }} }} }}
      - {{ path: api.token, from: {{ command: {token_command}, timeout: 5s }} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = charts.display()
    )
}

const WEB_VALUES: &str =
    "replicaCount: 1\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

/// A project whose token comes from `./token.sh` (which counts its calls in calls.log) and
/// whose database password is in the cluster Secret shop/db-creds.
async fn project() -> support::SimProject {
    let p = support::SimProject::start(
        SCENARIO,
        &[
            (
                "helmdeck.yaml",
                &config(&support::charts_dir(), "[ ./token.sh ]"),
            ),
            ("web.yaml", WEB_VALUES),
            (
                "token.sh",
                &format!("#!/bin/sh\necho call >> calls.log\nprintf '%s\\n' '{API_TOKEN}'\n"),
            ),
        ],
        "shop",
        // Relative to the project folder, where every command runs: scanned at the end.
        &[("HELMDECK_CACHE_DIR", "cache")],
    )
    .await;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        p.path().join("token.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    support::kubectl_ok(&p.kubeconfig, &["create", "namespace", "shop"]);
    support::kubectl_ok(
        &p.kubeconfig,
        &[
            "-n",
            "shop",
            "create",
            "secret",
            "generic",
            "db-creds",
            &format!("--from-literal=password={DB_PASSWORD}"),
        ],
    );
    p
}

fn calls(p: &support::SimProject) -> usize {
    std::fs::read_to_string(p.path().join("calls.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_and_command_secrets_reach_the_release_and_never_the_output() {
    let p = project().await;
    let secrets = [DB_PASSWORD, API_TOKEN];
    let mut outputs = Vec::new();

    let render = p.helmdeck(&["render", "web", "--env", "test"]).await;
    assert_eq!(support::code(&render), 0, "{}", support::explain(&render));
    assert!(
        support::stdout(&render).contains("DATABASE_PASSWORD: '********'")
            || support::stdout(&render).contains("DATABASE_PASSWORD: \"********\""),
        "{}",
        support::stdout(&render)
    );
    assert_eq!(calls(&p), 1, "the command runs once per process");
    outputs.push(("render", render));

    let explain = p
        .helmdeck(&["values", "web", "--env", "test", "--explain", "-o", "json"])
        .await;
    assert_eq!(support::code(&explain), 0, "{}", support::explain(&explain));
    let rows: Vec<Value> = serde_json::from_slice(&explain.stdout).expect("json");
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {rows:?}"))
            .clone()
    };
    let db = row("database.password");
    assert_eq!(db["layer"], "secret");
    assert_eq!(db["value"], "********");
    assert_eq!(db["source"], "cluster Secret shop/db-creds key password");
    assert_eq!(row("api.token")["source"], "command ./token.sh");
    outputs.push(("values --explain", explain));

    let deploy = p
        .helmdeck(&["deploy", "web", "--env", "test", "--yes"])
        .await;
    assert_eq!(support::code(&deploy), 0, "{}", support::explain(&deploy));
    outputs.push(("deploy", deploy));

    // The live objects carry the real values.
    // The chart's Secret, under its content-hash name (web-1a2b3c4d).
    let list = p.get_json(&["secrets"]).await;
    let live = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["data"].get("DATABASE_PASSWORD").is_some())
        .cloned()
        .unwrap_or_else(|| panic!("the chart's Secret: {list}"));
    let decoded = |k: &str| {
        let b = live["data"][k].as_str().unwrap_or_default();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("base64"),
        )
        .expect("utf8")
    };
    assert_eq!(decoded("DATABASE_PASSWORD"), DB_PASSWORD);
    assert_eq!(decoded("API_TOKEN"), API_TOKEN);

    for args in [
        vec!["diff", "web", "--env", "test"],
        vec![
            "diff",
            "web",
            "--env",
            "test",
            "--revision",
            "1",
            "-o",
            "json",
        ],
        vec!["status", "web", "--env", "test", "-o", "json"],
        vec!["history", "web", "--env", "test"],
    ] {
        let o = p.helmdeck(&args).await;
        assert_eq!(support::code(&o), 0, "{args:?}: {}", support::explain(&o));
        outputs.push(("command", o));
    }

    for (what, o) in &outputs {
        assert_clean(what, &support::stdout(o), &secrets);
        assert_clean(what, &support::stderr(o), &secrets);
    }
    let rec = record_values_part(&p, "web", 1).await;
    assert_clean("release record", &rec.to_string(), &secrets);
    let mut files = Vec::new();
    files_under(&p.path().join("data"), &mut files);
    files_under(&p.path().join("cache"), &mut files);
    assert!(
        files.iter().any(|(n, _)| n.contains("audit")),
        "an audit log: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, text) in &files {
        assert_clean(name, text, &secrets);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_or_key_and_a_failing_command_are_bad_input_naming_them() {
    let p = project().await;
    let cfg = std::fs::read_to_string(p.path().join("helmdeck.yaml")).expect("read");

    std::fs::write(
        p.path().join("helmdeck.yaml"),
        cfg.replace("key: password", "key: passwd"),
    )
    .expect("write");
    let o = p.helmdeck(&["render", "web", "--env", "test"]).await;
    assert_eq!(support::code(&o), 2, "{}", support::explain(&o));
    let e = support::stderr(&o);
    assert!(
        e.contains("Secret shop/db-creds has no key `passwd`") && e.contains("its keys: password"),
        "{e}"
    );
    assert!(e.contains("helmdeck.yaml:"), "located in the config: {e}");

    std::fs::write(
        p.path().join("helmdeck.yaml"),
        cfg.replace("name: db-creds", "name: db-gone"),
    )
    .expect("write");
    let o = p.helmdeck(&["values", "web", "--env", "test"]).await;
    assert_eq!(support::code(&o), 2, "{}", support::explain(&o));
    assert!(
        support::stderr(&o).contains("Secret shop/db-gone (key `password`) does not exist"),
        "{}",
        support::stderr(&o)
    );

    // A failing command: exit 2 with its stderr tail, the value it half-printed blanked.
    std::fs::write(
        p.path().join("fail.sh"),
        format!("#!/bin/sh\nprintf '{API_TOKEN}'\necho \"permission denied for {API_TOKEN}\" >&2\nexit 3\n"),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        p.path().join("fail.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(
        p.path().join("helmdeck.yaml"),
        config(&support::charts_dir(), "[ ./fail.sh ]"),
    )
    .expect("write");
    let o = p.helmdeck(&["render", "web", "--env", "test"]).await;
    assert_eq!(support::code(&o), 2, "{}", support::explain(&o));
    let e = support::stderr(&o);
    assert!(
        e.contains("`./fail.sh` exited with 3: permission denied for ********"),
        "{e}"
    );
    assert_clean("a failing command's error", &e, &[API_TOKEN]);

    // A command past its timeout.
    std::fs::write(
        p.path().join("helmdeck.yaml"),
        config(&support::charts_dir(), "[ sleep, \"30\" ]")
            .replace("timeout: 5s", "timeout: 300ms"),
    )
    .expect("write");
    let started = std::time::Instant::now();
    let o = p.helmdeck(&["render", "web", "--env", "test"]).await;
    assert_eq!(support::code(&o), 2, "{}", support::explain(&o));
    assert!(
        support::stderr(&o).contains("`sleep 30` did not finish within 300ms"),
        "{}",
        support::stderr(&o)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
