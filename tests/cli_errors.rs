//! Malformed input of every kind gets a one-screen error that says where and what to do,
//! and exit code 2 (DESIGN.md "Command line").

mod support;

use std::path::Path;

/// A workspace with a config, a local chart repository holding `app` (a tiny chart) and
/// `broken` (a template error) and `kindless` (an object without kind), and a values file.
fn workspace(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let chart = |name: &str, template: &str| {
        let d = root.join("charts").join(name);
        std::fs::create_dir_all(d.join("templates")).expect("mkdir");
        std::fs::write(
            d.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n"),
        )
        .expect("write");
        std::fs::write(d.join("values.yaml"), "replicas: 1\nimage: {tag: '1.0'}\n").expect("write");
        std::fs::write(d.join("templates/main.yaml"), template).expect("write");
    };
    chart("app", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  tag: {{ .Values.image.tag | quote }}\n");
    chart("broken", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.image.tag | quote }}\n  b: {{ .Values.missing.deeper }}\n");
    chart("kindless", "apiVersion: v1\nmetadata:\n  name: x\n");
    std::fs::write(root.join("values.yaml"), "replicas: 2\n").expect("write");
    std::fs::write(root.join("bad-values.yaml"), "replicas: [1, 2\nimage: x\n").expect("write");
    std::fs::write(root.join("list-values.yaml"), "- a\n- b\n").expect("write");
    std::fs::write(root.join("helmdeck.yaml"), config).expect("write");
    dir
}

const GOOD: &str = "repositories:\n  - { name: local, type: local, path: ./charts }\nservices:\n  - name: app\n    chart: { repository: local, name: app }\n    values: [ ./values.yaml ]\n  - name: broken\n    chart: { repository: local, name: broken }\n  - name: kindless\n    chart: { repository: local, name: kindless }\n  - name: ghost\n    chart: { repository: local, name: nope }\nenvironments:\n  - name: dev\n    cluster: { namespace: dev }\n  - name: sec\n    cluster: { namespace: sec }\n    secrets:\n      - { path: db.password, from: { env: HELMDECK_TEST_UNSET_SECRET } }\n";

struct Expect {
    args: &'static [&'static str],
    config: String,
    envs: Vec<(&'static str, String)>,
    /// Substrings the error must contain.
    says: &'static [&'static str],
}

fn check(name: &str, e: Expect) {
    let ws = workspace(&e.config);
    let envs: Vec<(&str, &str)> = e.envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = support::helmdeck(e.args, ws.path(), &envs);
    let err = support::stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: exit code; stderr:\n{err}"
    );
    assert!(err.starts_with("error: "), "{name}: {err}");
    assert!(err.contains("hint: "), "{name}: no hint:\n{err}");
    assert!(
        err.lines().count() <= 24,
        "{name}: more than a screen:\n{err}"
    );
    for s in e.says {
        assert!(err.contains(s), "{name}: expected {s:?} in:\n{err}");
    }
    assert!(
        support::stdout(&out).is_empty(),
        "{name}: printed to stdout on error"
    );
}

fn cfg(replace: &str, with: &str) -> String {
    assert!(GOOD.contains(replace), "{replace}");
    GOOD.replacen(replace, with, 1)
}

const RENDER_APP: &[&str] = &["render", "app", "--env", "dev"];

#[test]
fn config_syntax_error() {
    check(
        "syntax",
        Expect {
            args: RENDER_APP,
            config: cfg("services:\n", "services:\n - x: [\n"),
            envs: vec![],
            says: &["helmdeck.yaml:", "invalid YAML"],
        },
    );
}

#[test]
fn config_unknown_key_suggests() {
    check(
        "unknown key",
        Expect {
            args: RENDER_APP,
            config: cfg(
                "chart: { repository: local, name: app }",
                "chrat: { repository: local, name: app }",
            ),
            envs: vec![],
            says: &[
                "helmdeck.yaml:5:5: unknown key `chrat`",
                "did you mean `chart`?",
            ],
        },
    );
}

#[test]
fn config_wrong_type() {
    check(
        "wrong type",
        Expect {
            args: RENDER_APP,
            config: cfg("values: [ ./values.yaml ]", "values: 12"),
            envs: vec![],
            says: &["helmdeck.yaml:6:", "services[0].values", "invalid type"],
        },
    );
}

#[test]
fn config_dangling_repository() {
    check(
        "dangling",
        Expect {
            args: RENDER_APP,
            config: cfg(
                "{ repository: local, name: app }",
                "{ repository: locl, name: app }",
            ),
            envs: vec![],
            says: &[
                "helmdeck.yaml:5:",
                "unknown repository `locl`",
                "did you mean `local`?",
            ],
        },
    );
}

#[test]
fn config_environment_without_namespace() {
    check(
        "no namespace",
        Expect {
            args: RENDER_APP,
            config: cfg("cluster: { namespace: dev }", "cluster: { context: dev }"),
            envs: vec![],
            says: &["helmdeck.yaml:15:", "needs `namespace`"],
        },
    );
}

#[test]
fn config_missing_values_file() {
    check(
        "missing values",
        Expect {
            args: RENDER_APP,
            config: cfg("./values.yaml", "./nope.yaml"),
            envs: vec![],
            says: &["helmdeck.yaml:6:", "nope.yaml", "does not exist"],
        },
    );
}

#[test]
fn config_bad_version_constraint() {
    check(
        "constraint",
        Expect {
            args: RENDER_APP,
            config: cfg("name: app }", "name: app, version: \"^^1\" }"),
            envs: vec![],
            says: &["helmdeck.yaml:5:", "invalid version constraint"],
        },
    );
}

#[test]
fn missing_chart_in_repository() {
    check(
        "missing chart",
        Expect {
            args: &["render", "ghost", "--env", "dev"],
            config: GOOD.into(),
            envs: vec![],
            says: &["no chart `nope`"],
        },
    );
}

#[test]
fn chart_template_error_names_template_and_line() {
    check(
        "template",
        Expect {
            args: &["render", "broken", "--env", "dev"],
            config: GOOD.into(),
            envs: vec![],
            says: &["broken/templates/main.yaml", "line 7"],
        },
    );
}

#[test]
fn object_without_kind() {
    check(
        "kindless",
        Expect {
            args: &["render", "kindless", "--env", "dev"],
            config: GOOD.into(),
            envs: vec![],
            says: &["kindless/templates/main.yaml", "without `kind`"],
        },
    );
}

#[test]
fn invalid_set_expression() {
    check(
        "set",
        Expect {
            args: &["render", "app", "--env", "dev", "--set", "replicas.x=1"],
            config: GOOD.into(),
            envs: vec![],
            says: &["invalid --set \"replicas.x=1\""],
        },
    );
}

#[test]
fn invalid_values_file_is_located() {
    check(
        "bad -f",
        Expect {
            args: &["render", "app", "--env", "dev", "-f", "bad-values.yaml"],
            config: GOOD.into(),
            envs: vec![],
            says: &["bad-values.yaml:", "invalid YAML"],
        },
    );
}

#[test]
fn values_file_that_is_not_a_map() {
    check(
        "list -f",
        Expect {
            args: &["values", "app", "--env", "dev", "-f", "list-values.yaml"],
            config: GOOD.into(),
            envs: vec![],
            says: &["list-values.yaml:1:1", "must be a map"],
        },
    );
}

#[test]
fn no_helm_says_how_to_get_one() {
    let empty = tempfile::tempdir().expect("tempdir");
    check(
        "no helm",
        Expect {
            args: RENDER_APP,
            config: GOOD.into(),
            envs: vec![
                ("HELMDECK_HELM", "/nonexistent/helm".into()),
                ("PATH", empty.path().display().to_string()),
            ],
            says: &["no Helm found", "install-helm-engine.sh"],
        },
    );
}

#[test]
fn unknown_service_and_environment_suggest() {
    check(
        "service",
        Expect {
            args: &["render", "ap", "--env", "dev"],
            config: GOOD.into(),
            envs: vec![],
            says: &["unknown service `ap`", "did you mean `app`?"],
        },
    );
    check(
        "env",
        Expect {
            args: &["render", "app", "--env", "deev"],
            config: GOOD.into(),
            envs: vec![],
            says: &["unknown environment `deev`", "did you mean `dev`?"],
        },
    );
}

#[test]
fn unset_secret_variable() {
    check(
        "secret",
        Expect {
            args: &["values", "app", "--env", "sec"],
            config: GOOD.into(),
            envs: vec![],
            says: &[
                "helmdeck.yaml:19:",
                "HELMDECK_TEST_UNSET_SECRET",
                "export HELMDECK_TEST_UNSET_SECRET",
            ],
        },
    );
}

#[test]
fn no_configuration_found() {
    let ws = workspace(GOOD);
    std::fs::remove_file(ws.path().join("helmdeck.yaml")).expect("rm");
    let out = support::helmdeck(
        RENDER_APP,
        ws.path(),
        &[("XDG_CONFIG_HOME", ws.path().display().to_string().as_str())],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = support::stderr(&out);
    assert!(
        err.contains("no configuration found") && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn chart_path_that_does_not_exist() {
    check(
        "--chart",
        Expect {
            args: &["render", "--chart", "./no-such-chart"],
            config: GOOD.into(),
            envs: vec![],
            says: &["no-such-chart"],
        },
    );
}

#[test]
fn invalid_strategy_value() {
    check(
        "strategy",
        Expect {
            args: RENDER_APP,
            config: cfg(
                "    values: [ ./values.yaml ]\n",
                "    values: [ ./values.yaml ]\n    strategy: blue-green\n",
            ),
            envs: vec![],
            says: &["`blue-green` is not a valid value", "bluegreen"],
        },
    );
}

#[test]
fn missing_arguments_name_the_choices() {
    check(
        "no env",
        Expect {
            args: &["render", "app"],
            config: GOOD.into(),
            envs: vec![],
            says: &["no environment given", "dev, sec"],
        },
    );
}

#[allow(dead_code)]
fn _unused(_: &Path) {}

#[test]
fn a_bad_keymap_stops_the_console_before_it_opens_naming_file_and_line() {
    let dir = workspace(GOOD);
    let keymap = dir.path().join("keymap.yaml");
    std::fs::write(
        &keymap,
        "rollout:\n  - { key: p, action: promote }\n  - { key: hyperspace, action: abort }\n",
    )
    .expect("write");
    let km = keymap.display().to_string();
    let out = support::helmdeck(&[], dir.path(), &[("HELMDECK_KEYMAP", km.as_str())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{km}:3:")) && err.contains("`hyperspace` is not a key"),
        "{err}"
    );
}
