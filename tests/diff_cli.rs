//! `helmdeck diff --against FILE`: per-object changes with a unified diff, Secret values
//! never printed (only whether they changed).

mod support;

#[test]
fn diff_against_a_previous_render_shows_changes_and_masks_secrets() {
    let demo = support::root().join("assets/demo");
    let old_pw = "old-db-password-4711";
    let new_pw = "new-db-password-0815";
    let before = support::helmdeck(
        &["render", "web", "--env", "staging", "-o", "json"],
        &demo,
        &[("DEMO_DB_PASSWORD", old_pw)],
    );
    assert!(before.status.success(), "{}", support::stderr(&before));
    // The rendered file masks secrets, so build the "old" side from Helm directly with the
    // old password, as a live cluster would hold it.
    let dir = tempfile::tempdir().expect("tempdir");
    let against = dir.path().join("old.yaml");
    let chart = support::charts_dir().join("web");
    let old_stream = support::helm_template(&[
        "web",
        chart.to_str().expect("utf8"),
        "--namespace",
        "demo",
        "-f",
        demo.join("values/web.yaml").to_str().expect("utf8"),
        "--set-string",
        &format!("database.password={old_pw}"),
        "--set",
        "replicaCount=2",
    ]);
    std::fs::write(&against, &old_stream).expect("write");

    let out = support::helmdeck(
        &[
            "diff",
            "web",
            "--env",
            "staging",
            "--against",
            against.to_str().expect("utf8"),
        ],
        &demo,
        &[("DEMO_DB_PASSWORD", new_pw)],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(text.contains("~ apps/Deployment demo/web"), "{text}");
    assert!(text.contains("~ Secret demo/web"), "{text}");
    assert!(
        text.contains("-  replicas: 2") || text.contains("-  replicas:"),
        "{text}"
    );
    assert!(text.contains("(masked: changed"), "{text}");
    use base64::Engine as _;
    for raw in [old_pw, new_pw] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        assert!(
            !text.contains(raw) && !text.contains(&b64),
            "secret {raw} leaked:\n{text}"
        );
        assert!(!support::stderr(&out).contains(raw));
    }
    assert!(!text.contains("\u{1b}["), "NO_COLOR: no escape codes");

    let json = support::helmdeck(
        &[
            "diff",
            "web",
            "--env",
            "staging",
            "--against",
            against.to_str().expect("utf8"),
            "-o",
            "json",
        ],
        &demo,
        &[("DEMO_DB_PASSWORD", new_pw)],
    );
    let v: serde_json::Value = serde_json::from_str(&support::stdout(&json)).expect("json");
    assert!(v["changed"].as_u64().unwrap_or(0) >= 2, "{v}");
    assert!(!support::stdout(&json).contains(new_pw));
}

#[test]
fn diff_against_an_identical_render_is_empty() {
    let demo = support::root().join("assets/demo");
    let dir = tempfile::tempdir().expect("tempdir");
    let against = dir.path().join("same.yaml");
    let rendered = support::helmdeck(
        &["render", "worker", "--env", "staging"],
        &demo,
        &[("DEMO_DB_PASSWORD", "x-y-z")],
    );
    assert!(rendered.status.success(), "{}", support::stderr(&rendered));
    std::fs::write(&against, support::stdout(&rendered)).expect("write");
    let out = support::helmdeck(
        &[
            "diff",
            "worker",
            "--env",
            "staging",
            "--against",
            against.to_str().expect("utf8"),
        ],
        &demo,
        &[("DEMO_DB_PASSWORD", "x-y-z")],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(text.contains("0 added, 0 changed, 0 removed"), "{text}");
}
