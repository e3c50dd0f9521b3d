//! `helmdeck render` produces exactly the objects `helm template` produces from the same
//! inputs (compared as parsed objects), for every demo chart and several values
//! combinations, and for every service × environment of the demo configuration.

mod support;

use helmdeck::domain::manifest::{parse_stream, Object};
use helmdeck::domain::values::{SetKind, SetOverride};
use helmdeck::engine::prepare::{prepare, prepare_adhoc, Overrides};
use helmdeck::render::{Helm, Renderer};
use serde_json::Value;
use std::path::PathBuf;

fn objects_of(text: &str, ns: &str) -> Vec<(String, Value)> {
    let m = parse_stream(text, ns).expect("parses");
    let mut v: Vec<(String, Value)> = m
        .all()
        .map(|o: &Object| (o.key().to_string(), o.body.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn compare(label: &str, ours: &[(String, Value)], helms: &[(String, Value)]) {
    let ok: Vec<&String> = ours.iter().map(|(k, _)| k).collect();
    let hk: Vec<&String> = helms.iter().map(|(k, _)| k).collect();
    assert_eq!(ok, hk, "{label}: different objects");
    for ((k, a), (_, b)) in ours.iter().zip(helms) {
        assert_eq!(a, b, "{label}: object {k} differs");
    }
    assert!(!ours.is_empty(), "{label}: rendered nothing");
}

fn demo_charts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(support::charts_dir())
        .expect("assets/charts")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_chart_renders_as_helm_renders_it() {
    let renderer = Renderer::new(Helm {
        path: support::helm(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let override_file = dir.path().join("override.yaml");
    std::fs::write(
        &override_file,
        "image:\n  tag: 9.9.9\nreplicaCount: 4\npodAnnotations:\n  team: payments\nredis:\n  enabled: false\n",
    )
    .expect("write");
    let combos: Vec<(Vec<PathBuf>, Vec<&str>)> = vec![
        (vec![], vec![]),
        (vec![], vec!["replicaCount=3"]),
        (
            vec![],
            vec!["ingress.enabled=true,autoscaling.enabled=true"],
        ),
        (vec![override_file.clone()], vec![]),
        (
            vec![override_file.clone()],
            vec!["image.tag=1.0.1-crash,service.port=8080"],
        ),
    ];
    let charts = demo_charts();
    assert!(charts.len() >= 2, "demo charts: {charts:?}");
    for chart in &charts {
        for (files, sets) in &combos {
            let label = format!("{} files={files:?} sets={sets:?}", chart.display());
            let overrides = Overrides {
                files: files.clone(),
                sets: sets
                    .iter()
                    .map(|s| SetOverride::new(SetKind::Typed, *s))
                    .collect(),
            };
            let prepared = prepare_adhoc(chart, "demo", "staging", &overrides)
                .await
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let ours = renderer
                .render(&prepared.render_request())
                .await
                .unwrap_or_else(|e| panic!("{label}: {e}"));

            let mut args = vec![
                "demo".to_string(),
                chart.display().to_string(),
                "--namespace".into(),
                "staging".into(),
                "--include-crds".into(),
            ];
            for f in files {
                args.push("-f".into());
                args.push(f.display().to_string());
            }
            for s in sets {
                args.push("--set".into());
                args.push(s.to_string());
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let helms = support::helm_template(&refs);
            compare(
                &label,
                &objects_of(&ours.text, "staging"),
                &objects_of(&helms, "staging"),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_service_and_environment_renders_as_helm_with_the_same_layers() {
    let _env = support::env_lock().await;
    std::env::set_var("DEMO_DB_PASSWORD", "demo-db-pass-123");
    let cfg = helmdeck::config::Config::load(&support::demo_config()).expect("demo config");
    let renderer = Renderer::new(Helm {
        path: support::helm(),
    });
    for svc in &cfg.file.services {
        for env in &cfg.file.environments {
            let label = format!("{} in {}", svc.name, env.name);
            let prepared = prepare(
                &cfg,
                &svc.name,
                &env.name,
                &Overrides::default(),
                helmdeck::sources::no_progress(),
            )
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            let ours = renderer
                .render(&prepared.render_request())
                .await
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let mut args = vec![
                svc.release_name().to_string(),
                prepared.chart.path.display().to_string(),
                "--namespace".into(),
                env.cluster.namespace.clone(),
                "--include-crds".into(),
            ];
            for f in svc.values.iter().chain(env.values.iter()) {
                if let helmdeck::config::ValuesFile::Local(p) = f {
                    args.push("-f".into());
                    args.push(cfg.resolve_path(p).display().to_string());
                }
            }
            for s in &env.secrets {
                let value = match &s.from {
                    helmdeck::config::SecretSource::Env(var) => {
                        std::env::var(var).unwrap_or_default()
                    }
                    helmdeck::config::SecretSource::File(f) => {
                        let text =
                            std::fs::read_to_string(cfg.resolve_path(f)).expect("secret file");
                        text.trim_end_matches('\n').to_string()
                    }
                    helmdeck::config::SecretSource::Secret(_)
                    | helmdeck::config::SecretSource::Command(_) => {
                        panic!("{label}: the demo has no cluster or command secrets")
                    }
                };
                args.push("--set-string".into());
                args.push(format!("{}={value}", s.path));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let helms = support::helm_template(&refs);
            let ns = env.cluster.namespace.clone();
            compare(
                &label,
                &objects_of(&ours.text, &ns),
                &objects_of(&helms, &ns),
            );
        }
    }
}
