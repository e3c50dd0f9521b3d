use super::*;
use crate::domain::duration::HumanDuration;
use std::path::Path;

fn load(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("charts")).expect("mkdir");
    std::fs::write(dir.path().join("svc.yaml"), "a: 1\n").expect("write");
    let path = dir.path().join("helmdeck.yaml");
    std::fs::write(&path, text).expect("write");
    Config::load(&path).map(|mut c| {
        // Keep the tempdir alive only as long as the test needs the file: positions are
        // already in memory.
        c.path = Path::new("helmdeck.yaml").to_path_buf();
        c
    })
}

const GOOD: &str = r#"
helm:
  binary: helm
repositories:
  - name: demo
    type: local
    path: ./charts
  - name: stable
    type: http
    url: https://charts.example.com
    auth: { username_env: REPO_USER, password_env: REPO_PASS }
  - { name: registry, type: oci, url: "oci://ghcr.io/acme/charts" }
  - name: platform
    type: git
    url: https://git.example.com/platform/charts.git
    ref: main
    path: charts
services:
  - name: podinfo
    chart: { repository: demo, name: podinfo, version: "^6.5" }
    values:
      - ./svc.yaml
      - git: { repository: platform, ref: main, path: values/podinfo.yaml }
    strategy: canary
    canary:
      steps:
        - { replicas: 1 }
        - verify:
            - { name: smoke, http: { path: /healthz, port: http, expect: { status: 200 } }, interval: 10s, count: 3, failure_limit: 1 }
            - { name: e2e, command: ["./e2e.sh"], timeout: 2m }
        - { pause: {} }
        - { percent: 50 }
        - { pause: { duration: 30s } }
    bluegreen: { auto_promote: false, scale_down_delay: 10m }
    workloads: []
environments:
  - name: staging
    cluster: { kubeconfig: ~/.kube/config, context: staging, namespace: podinfo }
    values: [ ./svc.yaml ]
    secrets:
      - { path: database.password, from: { env: DB_PASSWORD } }
      - { path: api.token, from: { secret: { name: api-token, key: token } } }
    policy: { protected: false, auto_rollback: true, progress_deadline: 10m, keep_revisions: 10 }
"#;

#[test]
fn the_design_example_loads() {
    let c = load(GOOD).expect("loads");
    assert_eq!(c.file.repositories.len(), 4);
    let s = &c.file.services[0];
    assert_eq!(s.strategy, StrategyKind::Canary);
    let steps = &s.canary.as_ref().expect("canary").steps;
    assert_eq!(steps.len(), 5);
    assert!(matches!(
        steps[2],
        CanaryStep::Pause(Pause { duration: None })
    ));
    assert_eq!(
        c.file.environments[0]
            .policy
            .progress_deadline
            .as_duration()
            .as_secs(),
        600
    );
}

fn err(text: &str) -> String {
    load(text).expect_err("must fail").to_string()
}

#[test]
fn syntax_error_is_located() {
    let e = err("repositories:\n  - name: demo\n   type: local\n");
    assert!(
        e.starts_with("helmdeck.yaml:") || e.contains("helmdeck.yaml:"),
        "{e}"
    );
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn misspelt_key_is_located_with_a_suggestion() {
    let e = err("repositories:\n  - name: demo\n    type: local\n    pth: ./charts\n");
    assert!(e.contains(":4:5: unknown key `pth`"), "{e}");
    assert!(e.contains("did you mean `path`?"), "{e}");
}

#[test]
fn misspelt_strategy_suggests_the_right_one() {
    let text = GOOD.replace("strategy: canary", "strategy: canari");
    let e = err(&text);
    assert!(e.contains("`canari` is not a valid value"), "{e}");
    assert!(e.contains("did you mean `canary`?"), "{e}");
}

#[test]
fn wrong_type_names_the_key() {
    let text = GOOD.replace("keep_revisions: 10", "keep_revisions: many");
    let e = err(&text);
    assert!(e.contains("environments[0].policy.keep_revisions"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
}

#[test]
fn dangling_repository_reference_suggests_a_known_one() {
    let text = GOOD.replace(
        "repository: demo, name: podinfo",
        "repository: dmeo, name: podinfo",
    );
    let e = err(&text);
    assert!(e.contains("unknown repository `dmeo`"), "{e}");
    assert!(e.contains("did you mean `demo`?"), "{e}");
    let line = GOOD
        .lines()
        .position(|l| l.contains("repository: demo, name: podinfo"))
        .expect("line")
        + 1;
    assert!(e.contains(&format!("helmdeck.yaml:{line}:")), "{e}");
}

#[test]
fn environment_without_namespace_is_refused() {
    let text = GOOD.replace("context: staging, namespace: podinfo", "context: staging");
    let e = err(&text);
    assert!(e.contains("needs `namespace`"), "{e}");
}

#[test]
fn missing_values_file_is_located() {
    let text = GOOD.replace("values: [ ./svc.yaml ]", "values: [ ./nope.yaml ]");
    let e = err(&text);
    assert!(
        e.contains("values file") && e.contains("nope.yaml") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn duplicate_names_and_keys_are_refused() {
    let e = err("repositories:\n  - {name: a, type: local, path: ./charts}\n  - {name: a, type: local, path: ./charts}\n");
    assert!(e.contains("`a` is defined twice"), "{e}");
    let e = err("helm: {}\nhelm: {}\n");
    assert!(e.contains(":2:1: `helm` is given twice"), "{e}");
}

#[test]
fn repository_types_need_their_fields() {
    let e = err("repositories:\n  - {name: a, type: http}\n");
    assert!(e.contains("needs `url`"), "{e}");
    let e = err("repositories:\n  - {name: a, type: s3, url: https://x}\n");
    assert!(e.contains("is not a s3 URL"), "{e}");
    let e = err("repositories:\n  - {name: a, type: local, path: ./missing}\n");
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn remote_repositories_are_checked_beyond_their_scheme() {
    let e = err("repositories:\n  - {name: a, type: oci, url: \"oci://\"}\n");
    assert!(e.contains("names no registry"), "{e}");
    let e = err("repositories:\n  - {name: a, type: oci, url: \"oci://ghcr.io/acme/web:1.2.0\"}\n");
    assert!(e.contains("names a chart version"), "{e}");
    let e = err("repositories:\n  - {name: a, type: s3, url: \"s3://\"}\n");
    assert!(e.contains("names no bucket"), "{e}");
    let e = err("repositories:\n  - {name: a, type: gcs, url: \"gs://\"}\n");
    assert!(e.contains("names no bucket"), "{e}");
    let e = err("repositories:\n  - {name: a, type: http, url: \"https://x\", plain_http: true}\n");
    assert!(
        e.contains(":2:") && e.contains("`plain_http` applies to oci"),
        "{e}"
    );
    let e = err("repositories:\n  - {name: a, type: gcs, url: \"gs://b\", region: eu}\n");
    assert!(e.contains("`region` applies to s3"), "{e}");
    let e = err(
        "repositories:\n  - {name: a, type: oci, url: \"oci://r/c\", endpoint: \"http://x\"}\n",
    );
    assert!(e.contains("`endpoint` applies to s3 and gcs"), "{e}");
    let e = err(
        "repositories:\n  - {name: a, type: s3, url: \"s3://b\", endpoint: \"127.0.0.1:9000\"}\n",
    );
    assert!(e.contains("not an http(s) URL"), "{e}");
    load("repositories:\n  - {name: a, type: s3, url: \"s3://b/p\", region: eu-west-1, endpoint: \"http://127.0.0.1:9000\"}\n  - {name: b, type: oci, url: \"oci://127.0.0.1:5000/charts\", plain_http: true}\n  - {name: c, type: gcs, url: \"gs://b\"}\n")
        .expect("valid remote repositories");
}

#[test]
fn git_repositories_need_a_url_and_a_valid_ref() {
    let e = err("repositories:\n  - {name: a, type: git, ref: main}\n");
    assert!(e.contains("needs `url`"), "{e}");
    let e = err("repositories:\n  - {name: a, type: git, url: \"https://x/a.git\"}\n");
    assert!(e.contains("needs `ref`"), "{e}");
    let e =
        err("repositories:\n  - {name: a, type: git, url: \"https://x/a.git\", ref: \"a b\"}\n");
    assert!(e.contains("not a valid git ref"), "{e}");
    let e = err("repositories:\n  - {name: a, type: git, url: \"https://x/a.git\", ref: main, path: ../up}\n");
    assert!(e.contains("inside the repository"), "{e}");
    let e = err("repositories:\n  - {name: a, type: git, url: \"s3://x\", ref: main}\n");
    assert!(e.contains("is not a git URL"), "{e}");
    load("repositories:\n  - {name: a, type: git, url: \"deploy@git.example.com:acme/charts.git\", ref: v1.2.0}\n")
        .expect("scp-like ssh URL");
    let text = GOOD.replace("path: values/podinfo.yaml", "path: \"values/\"");
    let e = load(&text).expect_err("bad git values path").to_string();
    assert!(e.contains("not a file path inside the repository"), "{e}");
}

#[test]
fn bad_version_constraint_and_duration_are_refused() {
    let text = GOOD.replace("version: \"^6.5\"", "version: \">>6\"");
    assert!(
        err(&text).contains("invalid version constraint"),
        "{}",
        err(&text)
    );
    let text = GOOD.replace("progress_deadline: 10m", "progress_deadline: 10 minutes");
    assert!(err(&text).contains("invalid duration"), "{}", err(&text));
}

#[test]
fn check_needs_exactly_one_kind() {
    let text = GOOD.replace("command: [\"./e2e.sh\"], timeout: 2m", "timeout: 2m");
    assert!(
        err(&text).contains("exactly one of http, prometheus, command"),
        "{}",
        err(&text)
    );
}

#[test]
fn gate_conditions_and_commands_are_checked_when_loading() {
    let text = GOOD.replace(
        "- { name: e2e, command",
        "- { name: errors, prometheus: { query: up, condition: \"errors are low\" } }\n            - { name: e2e, command",
    );
    let e = err(&text);
    assert!(
        e.contains("check `errors`") && e.contains("result < 0.01"),
        "{e}"
    );
    let text = GOOD.replace("command: [\"./e2e.sh\"]", "command: []");
    let e = err(&text);
    assert!(e.contains("empty command"), "{e}");
}

#[test]
fn suggestions_only_when_close() {
    assert_eq!(
        suggest("stagin", &["staging", "production"]),
        Some("staging")
    );
    assert_eq!(suggest("xyz", &["staging", "production"]), None);
}

#[test]
fn secrets_come_from_env_file_cluster_secret_or_a_command() {
    let text = GOOD.replace(
        "      - { path: api.token, from: { secret: { name: api-token, key: token } } }\n",
        "      - { path: api.token, from: { secret: { name: api-token, key: token, namespace: shared } } }\n      - { path: vault.pw, from: { command: [vault, kv, get, -field=pw, secret/db], timeout: 3s } }\n      - { path: cli.pw, from: { command: [\"./get.sh\"] } }\n",
    );
    let cfg = load(&text).expect("loads");
    let s = &cfg.file.environments[0].secrets;
    assert_eq!(
        s[1].from,
        SecretSource::Secret(ClusterSecretRef {
            name: "api-token".into(),
            key: "token".into(),
            namespace: Some("shared".into()),
        })
    );
    let SecretSource::Command(c) = &s[2].from else {
        panic!("a command: {:?}", s[2].from)
    };
    assert_eq!(c.argv, ["vault", "kv", "get", "-field=pw", "secret/db"]);
    assert_eq!(c.timeout, HumanDuration::from_secs(3));
    let SecretSource::Command(c) = &s[3].from else {
        panic!("a command: {:?}", s[3].from)
    };
    assert_eq!(c.timeout, HumanDuration::from_secs(DEFAULT_COMMAND_TIMEOUT));
}

#[test]
fn a_secret_source_must_be_exactly_one_thing() {
    let two = GOOD.replace(
        "from: { env: DB_PASSWORD }",
        "from: { env: DB_PASSWORD, file: ./pw }",
    );
    let e = err(&two);
    assert!(
        e.contains("exactly one of env, file, secret or command"),
        "{e}"
    );
    assert!(e.contains("helmdeck.yaml:"), "{e}");
    let empty = GOOD.replace("from: { env: DB_PASSWORD }", "from: { command: [] }");
    assert!(err(&empty).contains("`command` needs a program"));
    let stray = GOOD.replace(
        "from: { env: DB_PASSWORD }",
        "from: { env: DB_PASSWORD, timeout: 5s }",
    );
    assert!(err(&stray).contains("`timeout` goes with `command`"));
    let typo = GOOD.replace("from: { env: DB_PASSWORD }", "from: { comand: [x] }");
    let e = err(&typo);
    assert!(e.contains("unknown key `comand`"), "{e}");
}
