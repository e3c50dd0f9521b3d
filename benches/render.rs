//! Render and values benchmarks (targets in issue #2): render overhead over a direct
//! `helm template` ≤ 10 %; a repeated render with unchanged inputs from the cache ≤ 5 ms;
//! values merge of a 10k-key tree ≤ 5 ms.
//! Needs a Helm: $HELMDECK_HELM, `helm` on PATH, or tools/install-helm-engine.sh's.

use criterion::{criterion_group, criterion_main, Criterion};
use helmdeck::domain::values::{merge, Layer, LayerKind, SetKind, SetOverride};
use helmdeck::engine::prepare::{prepare_adhoc, Overrides};
use helmdeck::render::{Helm, Renderer};
use serde_json::{Map, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn helm() -> PathBuf {
    if let Some(h) = std::env::var_os("HELMDECK_HELM") {
        return h.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/helm");
    if local.is_file() {
        return local;
    }
    PathBuf::from("helm")
}

fn chart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/charts/web")
}

fn render_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let helm = helm();
    let chart = chart();
    let mut g = c.benchmark_group("render");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("direct_helm_template", |b| {
        b.iter(|| {
            let out = std::process::Command::new(&helm)
                .args(["template", "demo"])
                .arg(&chart)
                .args([
                    "--namespace",
                    "staging",
                    "--include-crds",
                    "--set",
                    "replicaCount=3",
                ])
                .output()
                .expect("helm");
            assert!(out.status.success());
            black_box(out.stdout.len())
        })
    });
    let overrides = Overrides {
        files: vec![],
        sets: vec![SetOverride::new(SetKind::Typed, "replicaCount=3")],
    };
    g.bench_function("helmdeck_prepare_render_parse", |b| {
        b.iter(|| {
            rt.block_on(async {
                let renderer = Renderer::new(Helm { path: helm.clone() });
                let p = prepare_adhoc(&chart, "demo", "staging", &overrides)
                    .await
                    .expect("prepare");
                let r = renderer.render(&p.render_request()).await.expect("render");
                black_box(r.manifests.len())
            })
        })
    });
    let renderer = Renderer::new(Helm { path: helm.clone() });
    g.bench_function("helmdeck_repeated_render_cached", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = prepare_adhoc(&chart, "demo", "staging", &overrides)
                    .await
                    .expect("prepare");
                let r = renderer.render(&p.render_request()).await.expect("render");
                assert!(!r.manifests.is_empty());
                black_box(r.manifests.len())
            })
        })
    });
    g.finish();
}

/// A tree of `n` leaves: 100 top-level maps of 10 maps of n/1000 leaves.
fn tree(n: usize, salt: &str) -> Map<String, Value> {
    let mut root = Map::new();
    let per = (n / 1000).max(1);
    for i in 0..100 {
        let mut mid = Map::new();
        for j in 0..10 {
            let mut leaf = Map::new();
            for k in 0..per {
                leaf.insert(
                    format!("key{k}"),
                    Value::String(format!("{salt}-{i}-{j}-{k}")),
                );
            }
            mid.insert(format!("group{j}"), Value::Object(leaf));
        }
        root.insert(format!("section{i}"), Value::Object(mid));
    }
    root
}

fn values_benches(c: &mut Criterion) {
    let layers = vec![
        Layer::new(
            LayerKind::ChartDefaults,
            "values.yaml",
            tree(10_000, "default"),
        ),
        Layer::new(LayerKind::Service, "svc.yaml", tree(2_000, "svc")),
        Layer::new(LayerKind::Environment, "env.yaml", tree(1_000, "env")),
    ];
    c.bench_function("values/merge_10k_keys", |b| {
        b.iter(|| {
            black_box(
                merge(&layers, &[])
                    .expect("merge")
                    .values
                    .as_object()
                    .map(|m| m.len()),
            )
        })
    });
}

criterion_group!(benches, render_benches, values_benches);
criterion_main!(benches);
