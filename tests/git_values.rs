//! GitOps end to end through the real binary: a service whose values come from one git
//! repository (git://) and an environment whose values come from another (http with a
//! token), a chart from git, `values --explain` naming repository, commit, file and line,
//! a new commit picked up on the next run, `repo search|pull` and exit codes, and
//! `diff --revision N` naming the git values file that moved since revision N.

#[path = "support/git_server.rs"]
mod git_server;
mod support;

use git_server::{files_of, Daemon, GitRepos, HttpGit};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const SERVICE_VALUES: &str = "# web, every environment\nreplicaCount: 3\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";
const ENV_VALUES: &str = "# staging only\nminReadySeconds: 1\nimage:\n  tag: \"1.2.1\"\n";
const TOKEN: &str = "envs-t0ken-4242";

struct Setup {
    repos: GitRepos,
    daemon: Daemon,
    http: HttpGit,
    dir: tempfile::TempDir,
    platform_commit: String,
    envs_commit: String,
}

/// `platform` (charts + service values, main) over git://, `envs` (environment values,
/// branch staging) over http with a token; a helmdeck.yaml using both.
fn setup(cluster: &str) -> Setup {
    let repos = GitRepos::new();
    let mut files = files_of(&support::charts_dir().join("web"), "charts/web");
    files.push(("values/web.yaml".into(), SERVICE_VALUES.as_bytes().to_vec()));
    let platform_commit = repos.commit("platform", "main", &files);
    let envs_commit = repos.commit(
        "envs",
        "staging",
        &[("staging/web.yaml".into(), ENV_VALUES.as_bytes().to_vec())],
    );
    let daemon = Daemon::start(&repos.srv());
    let http = HttpGit::start(&repos.srv(), Some(TOKEN));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = format!(
        r#"repositories:
  - {{ name: platform, type: git, url: "{platform}", ref: main, path: charts }}
  - name: envs
    type: git
    url: "{envs}"
    ref: staging
    auth: {{ token_env: ENVS_TOKEN }}
  - {{ name: broken, type: git, url: "{platform}", ref: no-such-branch, path: charts }}
services:
  - name: web
    chart: {{ repository: platform, name: web, version: "^1.2" }}
    values:
      - git: {{ repository: platform, path: values/web.yaml }}
    strategy: rolling
environments:
  - name: staging
    cluster: {cluster}
    values:
      - git: {{ repository: envs, path: staging/web.yaml }}
"#,
        platform = daemon.url("platform"),
        envs = http.url("envs"),
    );
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("config");
    Setup {
        repos,
        daemon,
        http,
        dir,
        platform_commit,
        envs_commit,
    }
}

fn run(s: &Setup, args: &[&str]) -> Output {
    support::helmdeck(args, s.dir.path(), &[("ENVS_TOKEN", TOKEN)])
}

fn explain(s: &Setup) -> Vec<Value> {
    let out = run(
        s,
        &[
            "values",
            "web",
            "--env",
            "staging",
            "--explain",
            "-o",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_str(&support::stdout(&out)).expect("json")
}

fn row<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no key {key}"))
}

#[test]
fn values_from_two_git_repositories_are_attributed_to_repository_commit_file_and_line() {
    let s = setup("{ namespace: demo }");
    let rows = explain(&s);
    let p = &s.platform_commit[..7];
    let e = &s.envs_commit[..7];

    let r = row(&rows, "replicaCount");
    assert_eq!(r["layer"], "service");
    assert_eq!(r["source"], format!("git:platform@{p}:values/web.yaml"));
    assert_eq!(r["line"], 2);
    assert_eq!(r["value"], 3);

    let r = row(&rows, "minReadySeconds");
    assert_eq!(r["layer"], "environment");
    assert_eq!(r["source"], format!("git:envs@{e}:staging/web.yaml"));
    assert_eq!(r["line"], 2);
    let r = row(&rows, "image.tag");
    assert_eq!(r["source"], format!("git:envs@{e}:staging/web.yaml"));
    assert_eq!(r["line"], 4);

    // Chart defaults come from the chart pulled from git.
    assert_eq!(row(&rows, "image.repository")["layer"], "chart-defaults");

    // The text table shows the layer as git:<repository>@<short commit>:<path>:<line>.
    let out = run(&s, &["values", "web", "--env", "staging", "--explain"]);
    let text = support::stdout(&out);
    assert!(
        text.contains(&format!("git:platform@{p}:values/web.yaml:2")),
        "{text}"
    );
    assert!(
        text.contains(&format!("git:envs@{e}:staging/web.yaml:4")),
        "{text}"
    );
    assert!(!format!("{text}{}", support::stderr(&out)).contains(TOKEN));

    // A new commit on the values branch is picked up on the next run.
    let next = s.repos.commit(
        "envs",
        "staging",
        &[(
            "staging/web.yaml".into(),
            b"# staging only\n\nminReadySeconds: 9\n".to_vec(),
        )],
    );
    let rows = explain(&s);
    let r = row(&rows, "minReadySeconds");
    assert_eq!(r["value"], 9);
    assert_eq!(r["line"], 3);
    assert_eq!(
        r["source"],
        format!("git:envs@{}:staging/web.yaml", &next[..7])
    );
    // image.tag is gone from the environment file: the chart's default shows again.
    assert_eq!(row(&rows, "image.tag")["layer"], "chart-defaults");
}

#[test]
fn git_values_errors_say_what_is_missing_with_exit_codes() {
    let s = setup("{ namespace: demo }");
    // A file that is not in the repository: exit 2, naming repository, file and commit.
    let cfg = std::fs::read_to_string(s.dir.path().join("helmdeck.yaml")).expect("cfg");
    std::fs::write(
        s.dir.path().join("helmdeck.yaml"),
        cfg.replace("path: staging/web.yaml", "path: staging/api.yaml"),
    )
    .expect("write");
    let out = run(&s, &["values", "web", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(
        err.contains("git repository `envs` has no file `staging/api.yaml` at commit"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");

    // A wrong token: exit 2, auth refused, the token never printed.
    std::fs::write(s.dir.path().join("helmdeck.yaml"), &cfg).expect("write");
    let out = support::helmdeck(
        &["values", "web", "--env", "staging"],
        s.dir.path(),
        &[("ENVS_TOKEN", "wrong-t0ken-1")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(err.contains("refused access"), "{err}");
    assert!(!err.contains("wrong-t0ken-1"), "{err}");

    // The token variable not set at all.
    let out = support::helmdeck(&["values", "web", "--env", "staging"], s.dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(support::stderr(&out).contains("ENVS_TOKEN"));
}

#[test]
fn repo_search_and_pull_read_charts_from_git_with_exit_codes() {
    let mut s = setup("{ namespace: demo }");
    let out = run(&s, &["repo", "search", "web"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(text.contains("platform/web"), "{text}");
    // The broken repository is reported, not fatal.
    assert!(
        support::stderr(&out).contains("no branch, tag or commit `no-such-branch`"),
        "{}",
        support::stderr(&out)
    );

    let out = run(&s, &["repo", "pull", "platform/web@^1.2", "-o", "json"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let v: Value = serde_json::from_str(&support::stdout(&out)).expect("json");
    assert_eq!(v["revision"], s.platform_commit.as_str());
    assert_eq!(v["name"], "web");
    // Extracted from the commit into the mirror's folder (the run's cache is gone by now).
    let path = Path::new(v["path"].as_str().expect("path"));
    assert!(path.ends_with("web"), "{}", path.display());
    assert!(
        path.display().to_string().contains(&s.platform_commit),
        "{}",
        path.display()
    );

    let out = run(&s, &["repo", "pull", "broken/web"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("hint:"));

    let out = run(&s, &["repo", "list"]);
    assert!(
        support::stdout(&out).contains("git"),
        "{}",
        support::stdout(&out)
    );

    s.daemon.stop();
    let out = run(&s, &["repo", "pull", "platform/web"]);
    assert_eq!(out.status.code(), Some(3), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("unreachable"));
    drop(s.http);
}

mod cluster {
    use super::*;
    use helmdeck::sim::{self, SimOptions};

    async fn blocking(s: &Setup, args: &[&str]) -> Output {
        support::helmdeck_in(s.dir.path(), args, &[("ENVS_TOKEN", TOKEN)]).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn diff_against_a_revision_names_the_git_values_file_that_changed() {
        let s = setup("{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: gitops }");
        let scenario = sim::Scenario::from_yaml("speed: 20\npod_start: { min: 1s, max: 1s }\n")
            .expect("scenario");
        let _sim = sim::start(SimOptions {
            scenario: Some(scenario),
            kubeconfig_path: Some(s.dir.path().join("kubeconfig")),
            ..Default::default()
        })
        .await
        .expect("sim");
        let kc = s.dir.path().join("kubeconfig");
        let ns = tokio::task::spawn_blocking(move || {
            std::process::Command::new(support::kubectl_bin())
                .args(["create", "namespace", "gitops"])
                .env("KUBECONFIG", &kc)
                .output()
                .expect("kubectl")
        })
        .await
        .expect("join");
        assert!(
            ns.status.success(),
            "{}",
            String::from_utf8_lossy(&ns.stderr)
        );

        let out = blocking(&s, &["deploy", "web", "--env", "staging", "--yes"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            support::stdout(&out),
            support::stderr(&out)
        );

        // The record keeps the chart's commit and each git layer's repository/ref/commit/path.
        let kc = s.dir.path().join("kubeconfig");
        let secret = tokio::task::spawn_blocking(move || {
            std::process::Command::new(support::kubectl_bin())
                .args([
                    "-n",
                    "gitops",
                    "get",
                    "secret",
                    "helmdeck.v1.web.r1",
                    "-o",
                    "json",
                ])
                .env("KUBECONFIG", &kc)
                .output()
                .expect("kubectl")
        })
        .await
        .expect("join");
        let secret: Value = serde_json::from_slice(&secret.stdout).expect("secret json");
        let rec = helmdeck::domain::record::ReleaseRecord::from_secret(&secret).expect("record");
        assert_eq!(
            rec.chart.revision.as_deref(),
            Some(s.platform_commit.as_str())
        );
        let git: Vec<_> = rec
            .values_layers
            .iter()
            .filter_map(|l| l.git.clone())
            .collect();
        assert_eq!(git.len(), 2, "{:?}", rec.values_layers);
        assert_eq!(git[0].repository, "platform");
        assert_eq!(git[0].git_ref, "main");
        assert_eq!(git[0].commit, s.platform_commit);
        assert_eq!(git[0].path, "values/web.yaml");
        assert_eq!(git[1].repository, "envs");
        assert_eq!(git[1].commit, s.envs_commit);

        // Nothing moved yet: no git values line.
        let out = blocking(&s, &["diff", "web", "--env", "staging", "--revision", "1"]).await;
        assert!(out.status.success(), "{}", support::stderr(&out));
        assert!(!support::stdout(&out).contains("values git:"));

        let next = s.repos.commit(
            "platform",
            "main",
            &[(
                "values/web.yaml".into(),
                SERVICE_VALUES
                    .replace("replicaCount: 3", "replicaCount: 4")
                    .into_bytes(),
            )],
        );
        let out = blocking(&s, &["diff", "web", "--env", "staging", "--revision", "1"]).await;
        assert!(out.status.success(), "{}", support::stderr(&out));
        let text = support::stdout(&out);
        assert!(
            text.contains(&format!(
                "values git:platform values/web.yaml: {} → {}",
                &s.platform_commit[..7],
                &next[..7]
            )),
            "{text}"
        );
        assert!(!text.contains("values git:envs"), "{text}");
        assert!(text.contains("apps/Deployment gitops/web"), "{text}");

        let out = blocking(
            &s,
            &[
                "diff",
                "web",
                "--env",
                "staging",
                "--revision",
                "1",
                "-o",
                "json",
            ],
        )
        .await;
        let v: Value = serde_json::from_str(&support::stdout(&out)).expect("json");
        assert_eq!(v["values_git"][0]["repository"], "platform");
        assert_eq!(v["values_git"][0]["new_commit"], next.as_str());
    }
}
