//! The simulated cluster's behaviour for Helm lifecycle objects, through kube-rs over
//! loopback: custom resources of a CRD it was given (list, watch, apply, the status
//! subresource), bare Pods that run to completion (Succeeded, or Failed under a fault),
//! Jobs past their backoff limit, claims bound by the default StorageClass, and
//! StatefulSet partitions.

use futures::StreamExt;
use helmdeck::sim::{start, Scenario, SimHandle, SimOptions};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::Client;
use serde_json::{json, Value};
use std::time::Duration;

const SCENARIO: &str = "speed: 20\nseed: 5\npod_start: { min: 1s, max: 1s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

async fn sim() -> (SimHandle, Client) {
    let sim = start(SimOptions {
        scenario: Some(Scenario::from_yaml(SCENARIO).expect("scenario")),
        ..Default::default()
    })
    .await
    .expect("sim starts");
    let kc = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    (sim, Client::try_from(cfg).expect("client"))
}

fn api(
    client: &Client,
    gvk: (&str, &str, &str),
    plural: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2), plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

async fn apply(a: &Api<DynamicObject>, body: Value) -> Value {
    let name = body["metadata"]["name"].as_str().expect("name").to_string();
    let obj: DynamicObject = serde_json::from_value(body).expect("object");
    let live = a
        .patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
    serde_json::to_value(live).expect("json")
}

/// Polls `get` until `f` holds (20 s at most).
async fn until(
    a: &Api<DynamicObject>,
    name: &str,
    what: &str,
    f: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        if let Ok(o) = a.get(name).await {
            let v = serde_json::to_value(o).expect("json");
            if f(&v) {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = a
        .get(name)
        .await
        .map(|o| serde_json::to_value(o).unwrap_or_default());
    panic!("{name}: {what} never happened; last: {last:?}");
}

fn pods(c: &Client) -> Api<DynamicObject> {
    api(c, ("", "v1", "Pod"), "pods", Some("default"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_listed_watched_and_have_a_status_subresource() {
    let (_sim, c) = sim().await;
    let crds = api(
        &c,
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
        None,
    );
    apply(&crds, json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.acme.io"},
        "spec": {"group": "acme.io", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })).await;
    until(&crds, "widgets.acme.io", "Established", |v| {
        v["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
    })
    .await;
    let widgets = api(&c, ("acme.io", "v1", "Widget"), "widgets", Some("default"));
    let mut stream = widgets
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let live = apply(
        &widgets,
        json!({"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}, "status": {"ignored": true}}),
    )
    .await;
    assert_eq!(live["spec"]["size"], 3);
    assert!(
        live.get("status").is_none(),
        "status is the subresource's: {live}"
    );
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Ok(WatchEvent::Added(o)))) => assert_eq!(o.metadata.name.as_deref(), Some("w1")),
        other => panic!("no Added event: {other:?}"),
    }
    let status = json!({"apiVersion": "acme.io/v1", "kind": "Widget", "metadata": {"name": "w1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let patched = widgets
        .patch_status(
            "w1",
            &PatchParams::apply("controller").force(),
            &Patch::Apply(&status),
        )
        .await
        .expect("status patch");
    let patched = serde_json::to_value(patched).expect("json");
    assert_eq!(patched["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(patched["spec"]["size"], 3, "the status write kept the spec");
    let list = widgets.list(&Default::default()).await.expect("list");
    assert_eq!(list.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_pods_run_to_completion_or_fail_under_a_fault() {
    let (_sim, c) = sim().await;
    let pods = pods(&c);
    for (name, image, policy) in [
        ("ok-never", "busybox:1.36", "Never"),
        ("ok-onfailure", "busybox:1.36", "OnFailure"),
        ("bad-never", "busybox:1.36-crash", "Never"),
    ] {
        apply(
            &pods,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": policy, "containers": [{"name": "t", "image": image}]}}),
        )
        .await;
    }
    for name in ["ok-never", "ok-onfailure"] {
        let p = until(&pods, name, "Succeeded", |v| {
            v["status"]["phase"] == "Succeeded"
        })
        .await;
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            0
        );
    }
    let p = until(&pods, "bad-never", "Failed", |v| {
        v["status"]["phase"] == "Failed"
    })
    .await;
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_ne!(t["exitCode"], 0, "{p}");
    let log = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(c.clone(), "default")
        .logs("bad-never", &Default::default())
        .await
        .expect("the failed pod's log");
    assert!(
        !log.trim().is_empty(),
        "a failed container printed something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_pods_restart_in_place_fails_at_its_backoff_limit() {
    let (_sim, c) = sim().await;
    let jobs = api(&c, ("batch", "v1", "Job"), "jobs", Some("default"));
    apply(
        &jobs,
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "OnFailure",
            "containers": [{"name": "m", "image": "migrate:2-crash"}]}}}}),
    )
    .await;
    let j = until(&jobs, "migrate", "Failed", |v| {
        v["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Failed" && c["status"] == "True")
        })
    })
    .await;
    let failed = j["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Failed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_bind_through_the_default_storage_class_and_a_missing_class_stays_pending() {
    let (_sim, c) = sim().await;
    let pvcs = api(
        &c,
        ("", "v1", "PersistentVolumeClaim"),
        "persistentvolumeclaims",
        Some("default"),
    );
    for (name, class) in [("data", Value::Null), ("fast", json!("no-such-class"))] {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}});
        if !class.is_null() {
            spec["storageClassName"] = class;
        }
        apply(&pvcs, json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec})).await;
    }
    let bound = until(&pvcs, "data", "Bound", |v| v["status"]["phase"] == "Bound").await;
    assert_eq!(bound["spec"]["storageClassName"], "standard");
    assert_eq!(bound["status"]["capacity"]["storage"], "3Gi");
    let volume = bound["spec"]["volumeName"]
        .as_str()
        .expect("volume")
        .to_string();
    let pvs = api(
        &c,
        ("", "v1", "PersistentVolume"),
        "persistentvolumes",
        None,
    );
    let pv = serde_json::to_value(pvs.get(&volume).await.expect("pv")).expect("json");
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pending = serde_json::to_value(pvcs.get("fast").await.expect("claim")).expect("json");
    assert_ne!(pending["status"]["phase"], "Bound", "{pending}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statefulset_updates_from_the_top_down_to_its_partition() {
    let (_sim, c) = sim().await;
    let sts = api(
        &c,
        ("apps", "v1", "StatefulSet"),
        "statefulsets",
        Some("default"),
    );
    let body = |tag: &str, partition: i64| {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"replicas": 3, "serviceName": "db",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": format!("pg:{tag}")}]}}}})
    };
    apply(&sts, body("1", 0)).await;
    let first = until(&sts, "db", "3 ready", |v| v["status"]["readyReplicas"] == 3).await;
    let old = first["status"]["updateRevision"].clone();
    assert_eq!(first["status"]["currentRevision"], old);
    apply(&sts, body("2", 2)).await;
    let v = until(&sts, "db", "ordinal 2 updated", |v| {
        v["status"]["updatedReplicas"] == 1 && v["status"]["readyReplicas"] == 3
    })
    .await;
    assert_ne!(v["status"]["updateRevision"], old);
    assert_eq!(
        v["status"]["currentRevision"], old,
        "below the partition: the old revision"
    );
    let pods = pods(&c);
    let rev = |p: Value| p["metadata"]["labels"]["controller-revision-hash"].clone();
    let p0 = serde_json::to_value(pods.get("db-0").await.expect("db-0")).expect("json");
    let p2 = serde_json::to_value(pods.get("db-2").await.expect("db-2")).expect("json");
    assert_eq!(rev(p0), old);
    assert_eq!(rev(p2), v["status"]["updateRevision"]);
    // Dropping the partition finishes the rollout: the update revision becomes current.
    apply(&sts, body("2", 0)).await;
    let done = until(&sts, "db", "all updated", |v| {
        v["status"]["updatedReplicas"] == 3
            && v["status"]["readyReplicas"] == 3
            && v["status"]["currentRevision"] == v["status"]["updateRevision"]
    })
    .await;
    assert_eq!(done["status"]["currentReplicas"], 3);
}
