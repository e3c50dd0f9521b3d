//! `helmdeck init` end to end: on the demo setup (the demo charts and the simulated
//! cluster, where Helm already installed a release) it writes a commented starter config
//! that `helmdeck render` accepts, names the Helm releases it found, and never overwrites.

mod support;

use base64::Engine as _;
use std::io::Write;

/// A release record as Helm's Secret storage driver writes it (`sh.helm.release.v1.NAME.vN`,
/// labels owner/name/status/version, `release` = base64(gzip(JSON))).
fn helm_release_secret(name: &str, revision: u32, chart: &str, version: &str) -> String {
    let release = serde_json::json!({
        "name": name, "namespace": "default", "version": revision,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"apiVersion": "v2", "name": chart, "version": version}},
        "manifest": "", "config": {}
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes()).expect("gzip");
    let b64 = base64::engine::general_purpose::STANDARD;
    let stored = b64.encode(gz.finish().expect("gzip"));
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{name}.v{revision}"),
            "namespace": "default",
            "labels": {"owner": "helm", "name": name, "status": "deployed", "version": revision.to_string()}
        },
        "data": {"release": b64.encode(stored)}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_on_the_demo_setup_writes_a_config_render_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sim, kubeconfig) = support::start_sim(dir.path(), "speed: 10\n").await;
    // Helm installed two releases: one of a demo chart, one of a chart from elsewhere.
    for (i, secret) in [
        helm_release_secret("legacy-web", 1, "web", "1.1.0"),
        helm_release_secret("legacy-web", 2, "web", "1.2.0"),
        helm_release_secret("cache", 1, "redis", "18.0.0"),
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("helm-{i}.json"));
        std::fs::write(&file, secret).expect("write");
        support::kubectl_ok(&kubeconfig, &["apply", "-f", file.to_str().expect("utf8")]);
    }
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    let charts = support::charts_dir();
    let kc = kubeconfig.to_str().expect("utf8");
    let envs = [("KUBECONFIG", kc)];
    let out = support::helmdeck_in(
        &project,
        &["init", "--chart", charts.to_str().expect("utf8")],
        &envs,
    )
    .await;
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    let text = std::fs::read_to_string(project.join("helmdeck.yaml")).expect("written");
    for want in [
        "name: web",
        "name: worker",
        "name: legacy-web",
        "context: helmdeck-sim",
        "# Helm release cache in helmdeck-sim/default runs chart redis 18.0.0",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }
    let next = support::stderr(&out);
    assert!(next.contains("wrote helmdeck.yaml"), "{next}");
    assert!(
        next.contains("helmdeck render web --env helmdeck-sim"),
        "{next}"
    );

    for service in ["web", "worker", "legacy-web"] {
        let out = support::helmdeck_in(
            &project,
            &["render", service, "--env", "helmdeck-sim"],
            &envs,
        )
        .await;
        assert_eq!(
            support::code(&out),
            0,
            "render {service}: {}\n{text}",
            support::stderr(&out)
        );
        assert!(support::stdout(&out).contains("kind: Deployment"));
    }

    // A second init leaves the file alone.
    let before = std::fs::read_to_string(project.join("helmdeck.yaml")).expect("read");
    let out = support::helmdeck_in(&project, &["init"], &envs).await;
    assert_eq!(support::code(&out), 2, "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("already exists"));
    assert!(support::stderr(&out).contains("hint:"));
    assert_eq!(
        std::fs::read_to_string(project.join("helmdeck.yaml")).expect("read"),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_takes_only_the_contexts_asked_for_and_names_an_unknown_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    // Two contexts, neither reachable: init still writes the file and says so.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: { server: \"https://127.0.0.1:9\" }\ncontexts:\n- name: dev\n  context: { cluster: a, user: u, namespace: shop }\n- name: prod\n  context: { cluster: a, user: u }\ncurrent-context: dev\nusers:\n- name: u\n  user: { token: t }\n",
    )
    .expect("kubeconfig");
    let kc = kubeconfig.to_str().expect("utf8");
    let out = support::helmdeck_in(
        dir.path(),
        &["init", "--context", "nope"],
        &[("KUBECONFIG", kc)],
    )
    .await;
    assert_eq!(support::code(&out), 2, "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("no context `nope`"));
    assert!(support::stderr(&out).contains("dev, prod"));
    assert!(!dir.path().join("helmdeck.yaml").exists());

    let out = support::helmdeck_in(
        dir.path(),
        &["init", "--context", "dev"],
        &[("KUBECONFIG", kc)],
    )
    .await;
    assert_eq!(support::code(&out), 0, "{}", support::stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("helmdeck.yaml")).expect("written");
    assert!(text.contains("context: dev, namespace: shop"), "{text}");
    assert!(!text.contains("context: prod"), "{text}");
    assert!(text.contains("# note: context dev:"), "{text}");
}
