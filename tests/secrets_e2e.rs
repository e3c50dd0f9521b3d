//! Secrets as teams keep them, end to end against the simulated cluster: a cluster Secret and
//! a command's output reach the release (render, values, diff, deploy), the live objects carry
//! the real values, and no form of any value (raw, base64, URL-encoded, JSON-escaped) shows in
//! any command's output, the logs, the audit, the cache or the release record's values part.

#[path = "support/git_server.rs"]
mod git_server;
mod support;

use base64::Engine as _;
use serde_json::Value;
use std::path::Path;

const SCENARIO: &str = "speed: 20\nseed: 7\npod_start: { min: 1s, max: 2s }\n";
const DB_PASSWORD: &str = "Db-Pa55w0rd/9f3k1 x";
const API_TOKEN: &str = "tok-7Hq2+ZZp0&aa91";
/// Set by the SOPS file from git: copied by the chart into its ConfigMap (an env literal
/// through envFrom) and into the Deployment's env.
const SOPS_API_KEY: &str = "sops-Api-Key-31337";
const SOPS_API_KEY_2: &str = "sops-Api-Key-rotated-4242";
const SOPS_SIGNING_KEY: &str = "sops-Sign-K3y=z9";

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

fn config(charts: &Path, token_command: &str, envs_url: &str) -> String {
    format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
  - {{ name: envs, type: git, url: "{envs_url}", ref: main }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: shop }}
    values:
      - git: {{ repository: envs, path: test/secrets.enc.yaml }}
    secrets:
      - {{ path: database.password, from: {{ secret: {{ name: db-creds, key: password }} }} }}
      - {{ path: api.token, from: {{ command: {token_command}, timeout: 5s }} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = charts.display()
    )
}

fn sops() -> std::path::PathBuf {
    let p = std::env::var_os("HELMDECK_TEST_SOPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| support::root().join(".venv-secrets/bin/sops"));
    assert!(
        p.is_file(),
        "no sops for the tests: run scripts/provision-tests.sh (or set HELMDECK_TEST_SOPS)"
    );
    p
}

/// The environment's secret values file, encrypted by the real sops for `recipient`.
fn sops_file(dir: &Path, recipient: &str, api_key: &str) -> Vec<u8> {
    let plain = dir.join("secrets.yaml");
    std::fs::write(
        &plain,
        format!(
            "config:\n  API_KEY: {api_key}\nextraEnv:\n  - name: SIGNING_KEY\n    value: \"{SOPS_SIGNING_KEY}\"\nminReadySeconds: 1\nserviceAccount:\n  automount: true\n"
        ),
    )
    .expect("write");
    let out = std::process::Command::new(sops())
        .args(["encrypt", "--age", recipient])
        .arg(&plain)
        .env("HOME", dir)
        .output()
        .expect("sops runs");
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_file(&plain).expect("rm plain");
    out.stdout
}

const WEB_VALUES: &str =
    "replicaCount: 1\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

/// A project whose token comes from `./token.sh` (which counts its calls in calls.log), whose
/// database password is in the cluster Secret shop/db-creds, and whose environment values
/// come from a SOPS file in git (repository `envs`, served over git://).
struct Project {
    p: support::SimProject,
    repos: git_server::GitRepos,
    _daemon: git_server::Daemon,
    keys: tempfile::TempDir,
    recipient: String,
}

async fn project() -> Project {
    let keys = tempfile::tempdir().expect("tempdir");
    let key_file = keys.path().join("keys.txt");
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key_file)
        .output()
        .expect("age-keygen (Debian age) runs");
    assert!(out.status.success(), "{out:?}");
    let recipient = std::fs::read_to_string(&key_file)
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key")
        .to_string();
    let repos = git_server::GitRepos::new();
    repos.commit(
        "envs",
        "main",
        &[(
            "test/secrets.enc.yaml".into(),
            sops_file(keys.path(), &recipient, SOPS_API_KEY),
        )],
    );
    let daemon = git_server::Daemon::start(&repos.srv());
    let key = key_file.display().to_string();
    let p = support::SimProject::start(
        SCENARIO,
        &[
            (
                "helmdeck.yaml",
                &config(
                    &support::charts_dir(),
                    "[ ./token.sh ]",
                    &daemon.url("envs"),
                ),
            ),
            ("web.yaml", WEB_VALUES),
            (
                "token.sh",
                &format!("#!/bin/sh\necho call >> calls.log\nprintf '%s\\n' '{API_TOKEN}'\n"),
            ),
        ],
        "shop",
        // The cache is relative to the project folder, where every command runs: it is
        // scanned at the end.
        &[("HELMDECK_CACHE_DIR", "cache"), ("SOPS_AGE_KEY_FILE", &key)],
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
    Project {
        p,
        repos,
        _daemon: daemon,
        keys,
        recipient,
    }
}

fn calls(p: &support::SimProject) -> usize {
    std::fs::read_to_string(p.path().join("calls.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// The object of `kind` the chart made (under its content-hash name for config).
async fn live(p: &support::SimProject, kind: &str, has: &str) -> Value {
    let list = p.get_json(&[kind]).await;
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o.to_string().contains(has))
        .cloned()
        .unwrap_or_else(|| panic!("a {kind} holding {has}: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_command_and_sops_secrets_deploy_and_never_reach_any_output() {
    let project = project().await;
    let p = &project.p;
    let secrets = [
        DB_PASSWORD,
        API_TOKEN,
        SOPS_API_KEY,
        SOPS_SIGNING_KEY,
        SOPS_API_KEY_2,
    ];
    let mut outputs = Vec::new();

    let render = p.helmdeck(&["render", "web", "--env", "test"]).await;
    assert_eq!(support::code(&render), 0, "{}", support::explain(&render));
    let text = support::stdout(&render);
    assert!(
        text.lines()
            .any(|l| l.trim().starts_with("API_KEY:") && l.contains("********")),
        "a SOPS value the chart copies into a ConfigMap is masked: {text}"
    );
    assert!(
        text.contains("readOnlyRootFilesystem: true"),
        "a boolean a SOPS file sets is masked in values views, not hunted in text: {text}"
    );
    assert_eq!(calls(p), 1, "the command runs once per process");
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
    let api_key = row("config.API_KEY");
    assert_eq!(api_key["layer"], "environment");
    assert_eq!(api_key["value"], "********");
    assert_eq!(api_key["secret"], true);
    assert_eq!(api_key["line"], 2, "{api_key}");
    let source = api_key["source"].as_str().unwrap_or_default();
    assert!(
        source.starts_with("sops:git:envs@") && source.ends_with(":test/secrets.enc.yaml"),
        "{source}"
    );
    // Every key a SOPS file sets is a secret, even one that is not a password.
    assert_eq!(row("minReadySeconds")["value"], "********");
    outputs.push(("values --explain", explain));
    let text_explain = p
        .helmdeck(&["values", "web", "--env", "test", "--explain"])
        .await;
    assert!(
        support::stdout(&text_explain).contains(&format!("{source}:2")),
        "provenance sops:<file>:<line>: {}",
        support::stdout(&text_explain)
    );
    outputs.push(("values --explain (text)", text_explain));

    let deploy = p
        .helmdeck(&["deploy", "web", "--env", "test", "--yes"])
        .await;
    assert_eq!(support::code(&deploy), 0, "{}", support::explain(&deploy));
    outputs.push(("deploy", deploy));

    // The live objects carry the real values.
    let secret = live(p, "secrets", "DATABASE_PASSWORD").await;
    let decoded = |k: &str| {
        let b = secret["data"][k].as_str().unwrap_or_default();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("base64"),
        )
        .expect("utf8")
    };
    assert_eq!(decoded("DATABASE_PASSWORD"), DB_PASSWORD);
    assert_eq!(decoded("API_TOKEN"), API_TOKEN);
    let cm = live(p, "configmaps", "DATABASE_HOST").await;
    assert_eq!(cm["data"]["API_KEY"], SOPS_API_KEY);
    let dep = p.get_json(&["deployment", "web"]).await;
    let env = dep
        .pointer("/spec/template/spec/containers/0/env")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e["name"] == "SIGNING_KEY" && e["value"] == SOPS_SIGNING_KEY),
        "the live Deployment carries the decrypted value: {env:?}"
    );

    // The record keeps sources and fingerprints, never values.
    let rec = record_values_part(p, "web", 1).await;
    let recorded = rec["secrets"].as_array().cloned().unwrap_or_default();
    assert_eq!(recorded.len(), 7, "{rec}");
    assert!(recorded
        .iter()
        .all(|f| f["fingerprint"].as_str().is_some_and(|x| x.len() == 64)));

    // Rotate the SOPS value (a new commit) and the cluster Secret (same name and key).
    project.repos.commit(
        "envs",
        "main",
        &[(
            "test/secrets.enc.yaml".into(),
            sops_file(project.keys.path(), &project.recipient, SOPS_API_KEY_2),
        )],
    );
    support::kubectl_ok(
        &p.kubeconfig,
        &[
            "-n",
            "shop",
            "patch",
            "secret",
            "db-creds",
            "-p",
            &format!(
                "{{\"data\":{{\"password\":\"{}\"}}}}",
                base64::engine::general_purpose::STANDARD.encode("rotated-Db-pw-77")
            ),
        ],
    );
    let diff = p
        .helmdeck(&["diff", "web", "--env", "test", "--revision", "1"])
        .await;
    assert_eq!(support::code(&diff), 0, "{}", support::explain(&diff));
    let text = support::stdout(&diff);
    assert!(
        text.contains(
            "secret database.password (cluster Secret shop/db-creds key password): value changed"
        ),
        "{text}"
    );
    assert!(
        text.contains("secret config.API_KEY (sops:git:envs@")
            && text.contains(":test/secrets.enc.yaml): value changed"),
        "{text}"
    );
    assert!(
        !text.contains("secret api.token"),
        "unchanged secrets are not listed: {text}"
    );
    assert!(
        text.contains("API_KEY"),
        "the ConfigMap change shows, masked: {text}"
    );
    outputs.push(("diff --revision", diff));
    let json = p
        .helmdeck(&[
            "diff",
            "web",
            "--env",
            "test",
            "--revision",
            "1",
            "-o",
            "json",
        ])
        .await;
    let v: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["secrets"].as_array().map(Vec::len), Some(2), "{v}");
    outputs.push(("diff -o json", json));

    for args in [
        vec!["diff", "web", "--env", "test"],
        vec!["status", "web", "--env", "test", "-o", "json"],
        vec!["history", "web", "--env", "test"],
        vec!["deploy", "web", "--env", "test", "--yes"],
    ] {
        let o = p.helmdeck(&args).await;
        assert_eq!(support::code(&o), 0, "{args:?}: {}", support::explain(&o));
        outputs.push(("command", o));
    }
    // Revision 2 runs with the rotated value (in a Secret of its own content-hash name).
    live(
        p,
        "secrets",
        &base64::engine::general_purpose::STANDARD.encode("rotated-Db-pw-77"),
    )
    .await;

    let secrets = [&secrets[..], &["rotated-Db-pw-77"]].concat();
    for (what, o) in &outputs {
        assert_clean(what, &support::stdout(o), &secrets);
        assert_clean(what, &support::stderr(o), &secrets);
    }
    for n in [1, 2] {
        let rec = record_values_part(p, "web", n).await;
        assert_clean("release record", &rec.to_string(), &secrets);
    }
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
    let project = project().await;
    let p = &project.p;
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
        cfg.replace("[ ./token.sh ]", "[ ./fail.sh ]"),
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
        cfg.replace("[ ./token.sh ]", "[ sleep, \"30\" ]")
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
