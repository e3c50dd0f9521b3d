use criterion::{criterion_group, criterion_main, Criterion};
use helmdeck::domain::diff::{diff, DiffOptions};
use helmdeck::domain::manifest::Object;
use serde_json::{json, Value};
use std::hint::black_box;

fn deployment(i: usize, image_tag: &str, live: bool) -> Object {
    let name = format!("web-{i}");
    let env: Vec<Value> = (0..12)
        .map(|e| json!({"name": format!("SETTING_{e}"), "value": format!("value-{i}-{e}")}))
        .collect();
    let mut body = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name, "namespace": "demo",
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "demo", "helm.sh/chart": "web-1.2.3"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}, "annotations": {"checksum/config": "abc123"}},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": format!("registry.example.com/web:{image_tag}"),
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "env": env,
                        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}
                    }]
                }
            }
        }
    });
    if live {
        body["metadata"]["uid"] = json!(format!("uid-{i}"));
        body["metadata"]["resourceVersion"] = json!("12345");
        body["metadata"]["generation"] = json!(4);
        body["metadata"]["managedFields"] = json!([{"manager": "helm", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        body["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "4"});
        body["status"] = json!({"replicas": 3, "readyReplicas": 3, "observedGeneration": 4});
    }
    object(body)
}

fn config_map(i: usize, version: &str) -> Object {
    let data: serde_json::Map<String, Value> = (0..60)
        .map(|k| {
            (
                format!("key-{k}"),
                json!(format!("setting {k} of map {i}, version {version}")),
            )
        })
        .collect();
    object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cfg-{i}"), "namespace": "demo", "labels": {"app": "demo"}},
        "data": data
    }))
}

fn object(body: Value) -> Object {
    let s = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_string);
    Object {
        api_version: s("/apiVersion").unwrap_or_default(),
        kind: s("/kind").unwrap_or_default(),
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name").unwrap_or_default(),
        source: Some("demo/templates/all.yaml".into()),
        body,
    }
}

/// 250 Deployments + 250 ConfigMaps; objects with index < `changed` differ.
fn set(changed: usize, new: bool, live: bool) -> Vec<Object> {
    let mut out = Vec::new();
    for i in 0..250 {
        let bump = new && i < changed;
        out.push(deployment(i, if bump { "1.1" } else { "1.0" }, live));
        // ConfigMaps: change one key only, so most of the text is context.
        let mut cm = config_map(i, "v1");
        if bump {
            cm.body["data"]["key-30"] = json!("changed");
        }
        out.push(cm);
    }
    out
}

fn lines(set: &[Object]) -> usize {
    set.iter()
        .map(|o| helmdeck::domain::yaml::to_string(&o.body).lines().count())
        .sum()
}

fn bench(c: &mut Criterion) {
    let old = set(0, false, false);
    let same = set(0, true, false);
    let few = set(3, true, false);
    let all = set(250, true, false);
    let live_old = set(0, false, true);
    eprintln!(
        "lines per side: old {} / new {} (live old {}); objects {}",
        lines(&old),
        lines(&all),
        lines(&live_old),
        old.len()
    );
    let opts = DiffOptions::default();
    let live_opts = DiffOptions::ignoring_server_fields();
    assert!(diff(&old, &same, &opts).is_empty());
    assert_eq!(diff(&old, &few, &opts).counts.changed, 6);
    assert_eq!(diff(&old, &all, &opts).counts.changed, 500);
    assert_eq!(diff(&live_old, &few, &live_opts).counts.changed, 6);

    let mut g = c.benchmark_group("diff_500_objects");
    g.sample_size(20);
    g.bench_function("none_changed", |b| {
        b.iter(|| diff(black_box(&old), black_box(&same), &opts))
    });
    g.bench_function("few_changed", |b| {
        b.iter(|| diff(black_box(&old), black_box(&few), &opts))
    });
    g.bench_function("few_changed_live_ignoring_server_fields", |b| {
        b.iter(|| diff(black_box(&live_old), black_box(&few), &live_opts))
    });
    g.bench_function("all_changed", |b| {
        b.iter(|| diff(black_box(&old), black_box(&all), &opts))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
