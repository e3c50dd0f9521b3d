//! Delivery-engine measurements (issue #4 targets), run on demand in release mode:
//! `cargo test --release --test engine_bench -- --ignored --nocapture`. Figures are printed,
//! never asserted: these machines are shared and noisy.

mod support;

use futures::StreamExt;
use helmdeck::engine::release::{self, DeployOptions};
use helmdeck::engine::Session;
use helmdeck::render::{Helm, Renderer};
use helmdeck::sim::{self, Scenario, SimOptions};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};

async fn setup(
    scenario: &str,
    chart_templates: &str,
    values: &str,
) -> (sim::SimHandle, tempfile::TempDir, helmdeck::config::Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let handle = sim::start(SimOptions {
        scenario: Some(Scenario::from_yaml(scenario).expect("scenario")),
        kubeconfig_path: Some(kubeconfig),
        ..Default::default()
    })
    .await
    .expect("sim");
    let chart = dir.path().join("charts/bench");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: bench\nversion: 1.0.0\n",
    )
    .expect("write");
    std::fs::write(chart.join("values.yaml"), values).expect("write");
    std::fs::write(chart.join("templates/objects.yaml"), chart_templates).expect("write");
    let cfg = "repositories:\n  - { name: local, type: local, path: ./charts }\nservices:\n  - { name: bench, chart: { repository: local, name: bench }, strategy: rolling }\nenvironments:\n  - { name: b, cluster: { kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: bench }, policy: { progress_deadline: 5m } }\n";
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("write");
    let config = helmdeck::config::Config::load(&dir.path().join("helmdeck.yaml")).expect("config");
    let kc = dir.path().join("kubeconfig");
    let out = std::process::Command::new(support::kubectl_bin())
        .args(["create", "namespace", "bench"])
        .env("KUBECONFIG", &kc)
        .output()
        .expect("kubectl");
    assert!(out.status.success());
    (handle, dir, config)
}

fn renderer() -> Renderer {
    Renderer::new(Helm {
        path: support::helm(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn apply_a_500_object_release() {
    let templates = "{{- range $i := until 500 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ $i }}\ndata:\n  index: \"{{ $i }}\"\n  payload: {{ $.Values.payload | quote }}\n{{- end }}\n";
    let (_sim, _dir, cfg) = setup("speed: 50\n", templates, "payload: hello\n").await;
    let s = Session::open(&cfg, "bench", "b").await.expect("session");
    let (rec, _) = release::deploy(&s, &renderer(), &DeployOptions::default(), &|_| {})
        .await
        .expect("deploy");
    let apply = rec
        .run
        .phases
        .iter()
        .find(|p| matches!(p.step, helmdeck::domain::run::Step::ApplyAll { .. }))
        .expect("apply phase");
    println!(
        "BENCH apply 500 objects: {} ms (target ≤ 2000 ms)",
        apply.ended_ms.unwrap_or(0) - apply.started_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn from_last_pod_ready_to_the_next_phase() {
    let templates = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: 5\n  selector: { matchLabels: { app: app } }\n  template:\n    metadata: { labels: { app: app } }\n    spec: { containers: [ { name: app, image: \"app:{{ .Values.tag }}\" } ] }\n";
    let (sim, _dir, cfg) = setup(
        "speed: 5\npod_start: { min: 1s, max: 3s }\n",
        templates,
        "tag: \"1\"\n",
    )
    .await;
    let s = Session::open(&cfg, "bench", "b").await.expect("session");
    // Watch pods ourselves, noting when the last of them turns Ready.
    let client = s.cluster.client.clone();
    let last_ready = std::sync::Arc::new(std::sync::Mutex::new(0u64));
    let lr = last_ready.clone();
    let watch = tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(client, "bench");
        let mut ready = std::collections::BTreeSet::new();
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
        while let Some(Ok(p)) = stream.next().await {
            let name = p.metadata.name.clone().unwrap_or_default();
            let is_ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if is_ready && ready.insert(name) {
                *lr.lock().expect("lock") = helmdeck::engine::now_ms();
            }
        }
    });
    let (rec, _) = release::deploy(&s, &renderer(), &DeployOptions::default(), &|_| {})
        .await
        .expect("deploy");
    watch.abort();
    let wait = rec
        .run
        .phases
        .iter()
        .find(|p| matches!(p.step, helmdeck::domain::run::Step::WaitHealthy { .. }))
        .expect("wait phase");
    let ended = wait.ended_ms.unwrap_or(0);
    let ready = *last_ready.lock().expect("lock");
    println!("BENCH last pod ready → next phase: {} ms (target ≤ 100 ms; includes the Deployment controller's status update)", ended.saturating_sub(ready));
    drop(sim);
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn memory_of_deploy_wait_watching_10k_pods() {
    let templates = "{{- range $i := until 1000 }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d{{ $i }}\nspec:\n  replicas: 10\n  selector: { matchLabels: { app: d{{ $i }} } }\n  template:\n    metadata: { labels: { app: d{{ $i }} } }\n    spec: { containers: [ { name: app, image: \"app:1\" } ] }\n{{- end }}\n";
    let (_sim, dir, cfg) = setup(
        "speed: 100\npod_start: { min: 1s, max: 1s }\n",
        templates,
        "x: 1\n",
    )
    .await;
    let s = Session::open(&cfg, "bench", "b").await.expect("session");
    // First revision, in-process: 1000 Deployments, 10k pods.
    let started = std::time::Instant::now();
    release::deploy(&s, &renderer(), &DeployOptions::default(), &|_| {})
        .await
        .expect("deploy");
    println!("BENCH 10k pods ready in {:?}", started.elapsed());
    // Then the real binary redeploys and watches them all; sample its peak RSS.
    let mut child = std::process::Command::new(support::bin())
        .args(["deploy", "bench", "--env", "b", "--wait", "--set", "x=2"])
        .current_dir(dir.path())
        .env("HELMDECK_HELM", support::helm())
        .env("HELMDECK_DATA_DIR", dir.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().ok().flatten().is_none() {
        peak = peak.max(rss_kb(pid));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!(
        "BENCH RSS of deploy --wait watching 10k pods: {} MB (target ≤ 60 MB)",
        peak / 1024
    );
}
