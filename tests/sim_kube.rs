//! The simulated cluster through kube-rs, over real HTTP on loopback: list/watch/apply/
//! delete round trips, a watch that crosses a 410 re-lists and continues, server-side
//! apply conflicts and force, Deployment rollouts, and every pod fault as a client sees it.

use futures::{StreamExt, TryStreamExt};
use helmdeck::sim::{start, Scenario, SimHandle, SimLimits, SimOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event as CoreEvent, Namespace, Pod, Service,
};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::await_condition;
use kube::runtime::watcher;
use kube::Client;
use serde_json::json;
use std::time::Duration;

async fn sim_with(scenario: Option<&str>, speed: f64, limits: SimLimits) -> (SimHandle, Client) {
    let opts = SimOptions {
        port: 0,
        speed,
        scenario: scenario.map(|s| Scenario::from_yaml(s).expect("scenario")),
        kubeconfig_path: None,
        limits,
    };
    let sim = start(opts).await.expect("sim starts");
    let kc =
        kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml()).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    assert_eq!(cfg.default_namespace, "default");
    let client = Client::try_from(cfg).expect("client");
    (sim, client)
}

async fn sim(scenario: Option<&str>, speed: f64) -> (SimHandle, Client) {
    sim_with(scenario, speed, SimLimits::default()).await
}

fn deployment(name: &str, image: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 30,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080, "name": "http"}]}]}},
        },
    })
}

fn is_complete(d: &Deployment) -> bool {
    let (Some(spec), Some(st)) = (&d.spec, &d.status) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    st.observed_generation >= d.metadata.generation
        && st.updated_replicas.unwrap_or(0) == want
        && st.replicas.unwrap_or(0) == want
        && st.available_replicas.unwrap_or(0) == want
}

async fn wait_deploy<F: Fn(&Deployment) -> bool>(
    api: &Api<Deployment>,
    name: &str,
    f: F,
) -> Deployment {
    let cond = move |d: Option<&Deployment>| d.is_some_and(&f);
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(api.clone(), name, cond),
    )
    .await
    .expect("deployment condition in time")
    .expect("watch ok")
    .expect("deployment exists")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_list_watch_delete_round_trip() {
    let (sim, client) = sim(None, 50.0).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck").force();
    let d = deploys
        .patch(
            "web",
            &pp,
            &Patch::Apply(deployment("web", "nginx:1.25", 3)),
        )
        .await
        .expect("apply");
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(
        d.spec.as_ref().and_then(|s| s.progress_deadline_seconds),
        Some(30)
    );
    let d = wait_deploy(&deploys, "web", is_complete).await;
    let st = d.status.expect("status");
    assert_eq!(st.ready_replicas, Some(3));
    let conds = st.conditions.unwrap_or_default();
    let prog = conds
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing");
    assert_eq!(prog.reason.as_deref(), Some("NewReplicaSetAvailable"));
    assert!(conds
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True"));
    assert_eq!(
        d.metadata
            .annotations
            .unwrap_or_default()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );

    // Pods: owned by the ReplicaSet, named <rs>-<5>, Ready with the kubelet's conditions.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let list = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list pods");
    assert_eq!(list.items.len(), 3);
    for p in &list.items {
        let name = p.metadata.name.clone().unwrap_or_default();
        let owner = &p.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(owner.kind, "ReplicaSet");
        assert!(
            name.starts_with(&format!("{}-", owner.name)) && name.len() == owner.name.len() + 6,
            "{name}"
        );
        let st = p.status.as_ref().expect("pod status");
        assert_eq!(st.phase.as_deref(), Some("Running"));
        let types: Vec<&str> = st
            .conditions
            .as_ref()
            .expect("conds")
            .iter()
            .filter(|c| c.status == "True")
            .map(|c| c.type_.as_str())
            .collect();
        for t in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            assert!(types.contains(&t), "{t} in {types:?}");
        }
        assert!(st.pod_ip.is_some());
    }
    // Pagination.
    let page = pods
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    let rest = pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(rest.items.len(), 1);
    assert!(rest.metadata.continue_.as_deref().is_none_or(str::is_empty));
    // Field selector.
    let one = pods
        .list(&ListParams::default().fields(&format!(
            "metadata.name={}",
            list.items[0].metadata.name.clone().unwrap_or_default()
        )))
        .await
        .expect("by name");
    assert_eq!(one.items.len(), 1);

    // Service endpoints follow the ready pods.
    let svcs: Api<Service> = Api::default_namespaced(client.clone());
    svcs.patch("web", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}))).await.expect("svc");
    let eps: Api<Endpoints> = Api::default_namespaced(client.clone());
    let mut n = 0;
    for _ in 0..50 {
        if let Ok(e) = eps.get("web").await {
            let subsets = e.subsets.unwrap_or_default();
            n = subsets
                .first()
                .and_then(|s| s.addresses.as_ref())
                .map(|a| a.len())
                .unwrap_or(0);
            if n == 3 {
                assert_eq!(subsets[0].ports.as_ref().expect("ports")[0].port, 8080);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(n, 3);

    // Watch sees the deletion cascade: Deployment → ReplicaSet → pods (background GC).
    let mut w = pods
        .watch(
            &WatchParams::default().labels("app=web"),
            &list.metadata.resource_version.clone().unwrap_or_default(),
        )
        .await
        .expect("watch")
        .boxed();
    deploys
        .delete("web", &DeleteParams::background())
        .await
        .expect("delete");
    let mut deleted = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while deleted < 3 && tokio::time::Instant::now() < until {
        if let Ok(Some(Ok(WatchEvent::Deleted(_)))) =
            tokio::time::timeout(Duration::from_secs(5), w.next()).await
        {
            deleted += 1;
        }
    }
    assert_eq!(deleted, 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_and_force() {
    let (sim, client) = sim(None, 50.0).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let cm = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"team": "a"}}, "data": {"key": v, "other": "x"}});
    cms.patch("cfg", &PatchParams::apply("alice"), &Patch::Apply(cm("1")))
        .await
        .expect("alice applies");
    // Same value: shared ownership, no conflict.
    cms.patch("cfg", &PatchParams::apply("bob"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"key": "1"}}))).await.expect("bob shares");
    let err = cms
        .patch("cfg", &PatchParams::apply("bob"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"key": "2"}})))
        .await
        .expect_err("conflict");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert_eq!(s.reason, "Conflict");
            assert_eq!(
                s.message,
                "Apply failed with 1 conflict: conflict with \"alice\": .data.key"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let forced = cms
        .patch("cfg", &PatchParams::apply("bob").force(), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"key": "2"}})))
        .await
        .expect("force");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("key"))
            .map(String::as_str),
        Some("2")
    );
    let mf = forced.metadata.managed_fields.clone().unwrap_or_default();
    let alice = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("alice"))
        .expect("alice still manages something");
    let alice_fields = serde_json::to_string(&alice.fields_v1).unwrap_or_default();
    assert!(
        !alice_fields.contains("f:key") && alice_fields.contains("f:other"),
        "{alice_fields}"
    );
    // Alice drops a field she alone owns: it is removed.
    let shrunk = cms
        .patch("cfg", &PatchParams::apply("alice"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"team": "a"}}, "data": {}})))
        .await
        .expect("alice re-applies");
    let data = shrunk.data.unwrap_or_default();
    assert!(!data.contains_key("other"));
    assert_eq!(data.get("key").map(String::as_str), Some("2"));
    // A PUT with a stale resourceVersion conflicts.
    let mut stale = cms.get("cfg").await.expect("get");
    stale.metadata.resource_version = Some("1".into());
    let err = cms
        .replace("cfg", &PostParams::default(), &stale)
        .await
        .expect_err("stale PUT");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
    // Invalid objects get 422 with the field path.
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let mut bad = deployment("bad", "", 1);
    bad["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("image");
    let err = deploys
        .create(
            &PostParams::default(),
            &serde_json::from_value(bad).expect("typed"),
        )
        .await
        .expect_err("invalid");
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(
                s.message
                    .contains("spec.template.spec.containers[0].image: Required value"),
                "{}",
                s.message
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // Missing objects: 404 Status.
    let err = cms.get("nope").await.expect_err("404");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404 && s.message == "configmaps \"nope\" not found"),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_across_410_relists_and_continues() {
    let limits = SimLimits {
        watch_window: 16,
        ..SimLimits::default()
    };
    let (sim, client) = sim_with(None, 10.0, limits).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    // An old resourceVersion gets an ERROR event carrying 410 Expired.
    for i in 0..40 {
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": format!("c{i}")}})).expect("cm"),
        )
        .await
        .expect("create");
    }
    let mut w = cms
        .watch(&WatchParams::default(), "2")
        .await
        .expect("watch")
        .boxed();
    match w.next().await {
        Some(Ok(WatchEvent::Error(e))) => {
            assert_eq!(e.code, 410);
            assert!(
                e.message.starts_with("too old resource version: 2"),
                "{}",
                e.message
            );
        }
        other => panic!("expected 410, got {other:?}"),
    }
    // A kube-rs watcher that falls behind the window re-lists and carries on.
    let stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut stream = stream;
    let mut inits = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
            Ok(Ok(Some(watcher::Event::InitDone))) => {
                inits += 1;
                break;
            }
            Ok(Ok(Some(_))) => {}
            other => panic!("watcher failed: {other:?}"),
        }
    }
    // Big objects fill the socket buffers while the watcher does not read: the server
    // side falls behind the 16-event window and expires the watch.
    let blob = "x".repeat(200_000);
    for i in 0..60 {
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": format!("big{i}")}, "data": {"blob": blob}}),
            )
            .expect("cm"),
        )
        .await
        .expect("create big");
    }
    let mut saw_last = false;
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < until && !(inits >= 2 && saw_last) {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
            Ok(Ok(Some(watcher::Event::InitDone))) => inits += 1,
            Ok(Ok(Some(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)))) => {
                if cm.metadata.name.as_deref() == Some("big59") {
                    saw_last = true;
                }
            }
            Ok(Ok(Some(_))) => {}
            // kube-rs surfaces the 410 once, then re-lists on the next poll.
            Ok(Err(e)) => assert!(
                e.to_string().contains("too old resource version"),
                "watcher error: {e}"
            ),
            Ok(Ok(None)) | Err(_) => break,
        }
    }
    assert!(
        inits >= 2,
        "the watcher re-listed after 410 ({inits} inits)"
    );
    assert!(saw_last, "and continued to the newest object");
    // After the re-list, new changes still arrive.
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "after"}})).expect("cm"),
    )
    .await
    .expect("create after");
    let mut got_after = false;
    while let Ok(Ok(Some(ev))) =
        tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await
    {
        if let watcher::Event::Apply(cm) | watcher::Event::InitApply(cm) = ev {
            if cm.metadata.name.as_deref() == Some("after") {
                got_after = true;
                break;
            }
        }
    }
    assert!(got_after);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_and_revisions() {
    let (sim, client) = sim(None, 100.0).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck").force();
    deploys
        .patch("api", &pp, &Patch::Apply(deployment("api", "api:1", 4)))
        .await
        .expect("v1");
    wait_deploy(&deploys, "api", is_complete).await;
    deploys
        .patch("api", &pp, &Patch::Apply(deployment("api", "api:2", 4)))
        .await
        .expect("v2");
    let d = wait_deploy(&deploys, "api", |d| {
        is_complete(d) && d.metadata.generation == Some(2)
    })
    .await;
    assert_eq!(
        d.metadata
            .annotations
            .unwrap_or_default()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("2")
    );
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::default_namespaced(client.clone());
    let sets = rs
        .list(&ListParams::default().labels("app=api"))
        .await
        .expect("rs");
    assert_eq!(sets.items.len(), 2);
    let sizes: Vec<i32> = sets
        .items
        .iter()
        .map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1))
        .collect();
    assert!(sizes.contains(&4) && sizes.contains(&0), "{sizes:?}");
    // Scaling events were recorded.
    let events: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let evs = events
        .list(&ListParams::default().fields("involvedObject.name=api"))
        .await
        .expect("events");
    assert!(
        evs.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("ScalingReplicaSet")),
        "scaling events"
    );
    // Rollback to the first template reuses its ReplicaSet as revision 3.
    deploys
        .patch("api", &pp, &Patch::Apply(deployment("api", "api:1", 4)))
        .await
        .expect("back to v1");
    let d = wait_deploy(&deploys, "api", |d| {
        is_complete(d) && d.metadata.generation == Some(3)
    })
    .await;
    assert_eq!(
        d.metadata
            .annotations
            .unwrap_or_default()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        rs.list(&ListParams::default().labels("app=api"))
            .await
            .expect("rs")
            .items
            .len(),
        2
    );
    sim.shutdown().await;
}

async fn pod_of(client: &Client, app: &str, f: impl Fn(&Pod) -> bool) -> Pod {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    for _ in 0..400 {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .expect("list");
        if let Some(p) = list.items.into_iter().find(|p| f(p)) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no pod of {app} reached the expected state");
}

fn container(p: &Pod) -> k8s_openapi::api::core::v1::ContainerStatus {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first().cloned())
        .unwrap_or_default()
}

fn waiting_reason(p: &Pod) -> Option<String> {
    container(p)
        .state
        .and_then(|s| s.waiting)
        .and_then(|w| w.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pod_fault_shows_like_a_real_cluster() {
    let scenario = r#"
speed: 100
pod_start: { min: 1s, max: 2s }
faults:
  - match: { image: "*:*-crash" }
    fault: crashloop
    after: 5s
  - match: { image: "*:*-pull" }
    fault: image-pull
  - match: { image: "*:*-stuck" }
    fault: never-ready
  - match: { labels: { speed: slow } }
    fault: slow-start
    after: 3000s
  - match: { image: "*:*-oom" }
    fault: oom
    after: 3s
  - match: { image: "*:*-500" }
    fault: http-errors
    rate: 1
"#;
    let (sim, client) = sim(Some(scenario), 1.0).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck").force();
    for (name, image) in [
        ("crash", "app:1-crash"),
        ("pull", "app:1-pull"),
        ("stuck", "app:1-stuck"),
        ("oom", "app:1-oom"),
        ("slow", "app:1"),
        ("errors", "app:1-500"),
    ] {
        let mut d = deployment(name, image, 1);
        if name == "slow" {
            d["spec"]["template"]["metadata"]["labels"]["speed"] = json!("slow");
        }
        deploys
            .patch(name, &pp, &Patch::Apply(d))
            .await
            .expect("apply");
    }
    // crashloop: restarts with lastState terminated exit 1, then CrashLoopBackOff.
    let p = pod_of(&client, "crash", |p| {
        waiting_reason(p).as_deref() == Some("CrashLoopBackOff")
    })
    .await;
    let c = container(&p);
    assert!(c.restart_count >= 1);
    assert!(!c.ready);
    let last = c
        .last_state
        .and_then(|s| s.terminated)
        .expect("lastState.terminated");
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running")
    );
    let msg = container(&p)
        .state
        .and_then(|s| s.waiting)
        .and_then(|w| w.message)
        .unwrap_or_default();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=app"),
        "{msg}"
    );
    // The crash-looping pod logs its failure.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let log = pods
        .logs(
            p.metadata.name.as_deref().unwrap_or_default(),
            &Default::default(),
        )
        .await
        .expect("logs");
    assert!(log.contains("exiting with code 1"), "{log}");
    // image-pull: ErrImagePull, then ImagePullBackOff; the pod stays Pending.
    let p = pod_of(&client, "pull", |p| {
        waiting_reason(p).as_deref() == Some("ErrImagePull")
    })
    .await;
    assert_eq!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    pod_of(&client, "pull", |p| {
        waiting_reason(p).as_deref() == Some("ImagePullBackOff")
    })
    .await;
    // never-ready: Running, started, never Ready.
    let p = pod_of(&client, "stuck", |p| container(p).started == Some(true)).await;
    assert!(!container(&p).ready);
    let ready = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready").cloned())
        .expect("Ready condition");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("ContainersNotReady"))
    );
    // oom: OOMKilled with exit 137.
    let p = pod_of(&client, "oom", |p| {
        container(p).last_state.and_then(|s| s.terminated).is_some()
    })
    .await;
    let t = container(&p)
        .last_state
        .and_then(|s| s.terminated)
        .expect("terminated");
    assert_eq!((t.exit_code, t.reason.as_deref()), (137, Some("OOMKilled")));
    // slow-start: still ContainerCreating well after the others started.
    pod_of(&client, "slow", |p| waiting_reason(p).is_some()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let p = pod_of(&client, "slow", |_| true).await;
    assert_eq!(waiting_reason(&p).as_deref(), Some("ContainerCreating"));
    // http-errors: the pod is healthy; its request log shows the failures.
    let p = pod_of(&client, "errors", |p| container(p).ready).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let log = pods
        .logs(
            p.metadata.name.as_deref().unwrap_or_default(),
            &Default::default(),
        )
        .await
        .expect("logs");
    assert!(log.contains(" 500 "), "{log}");
    // The warning events a real kubelet records.
    let events: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    for r in ["BackOff", "Failed", "Unhealthy", "Scheduled", "Started"] {
        assert!(reasons.iter().any(|x| x == r), "event {r} in {reasons:?}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_deadline_exceeded_for_crash_looping_image() {
    let (sim, client) = sim(
        Some("faults:\n  - match: { image: \"*-crash\" }\n    fault: crashloop\n    after: 2s\n"),
        30.0,
    )
    .await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let mut d = deployment("bad", "app:2-crash", 2);
    d["spec"]["progressDeadlineSeconds"] = json!(20);
    deploys
        .patch("bad", &PatchParams::apply("helmdeck"), &Patch::Apply(d))
        .await
        .expect("apply");
    let d = wait_deploy(&deploys, "bad", |d| {
        d.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.type_ == "Progressing"
                        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                })
            })
    })
    .await;
    let c = d.status.and_then(|s| s.conditions).unwrap_or_default();
    let p = c
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing");
    assert_eq!(p.status, "False");
    assert!(p
        .message
        .as_deref()
        .unwrap_or_default()
        .ends_with("has timed out progressing."));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_namespaces_and_limits() {
    // (kube-rs retries 503s with back-off, so the test injects a 500.)
    let (sim, client) = sim(
        Some("faults:\n  - api: { verbs: [patch], rate: 1, status: 500 }\n"),
        10.0,
    )
    .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let err = cms
        .patch(
            "x",
            &PatchParams::apply("m"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            ),
        )
        .await
        .expect_err("injected");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 500 && s.reason == "InternalError"),
        "{err:?}"
    );
    // Other verbs are untouched.
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "x"}})).expect("cm"),
    )
    .await
    .expect("create works");
    // Bodies over the limit: 413 Status.
    let huge = "y".repeat(4 * 1024 * 1024);
    let err = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "huge"}, "data": {"d": huge}}))
                .expect("cm"),
        )
        .await
        .expect_err("too large");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 413),
        "{err:?}"
    );
    // Namespaces: objects need one; deleting it takes its objects along.
    let nss: Api<Namespace> = Api::all(client.clone());
    let in_team: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    let err = in_team
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("cm"),
        )
        .await
        .expect_err("no namespace");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns"),
    )
    .await
    .expect("ns");
    in_team
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("cm"),
        )
        .await
        .expect("cm in team");
    nss.delete("team", &DeleteParams::default())
        .await
        .expect("delete ns");
    for _ in 0..100 {
        if nss.get_opt("team").await.expect("get ns").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(
        nss.get_opt("team").await.expect("get ns").is_none(),
        "namespace gone"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_and_orphan_deletion() {
    let (sim, client) = sim(None, 100.0).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck");
    deploys
        .patch("fg", &pp, &Patch::Apply(deployment("fg", "x:1", 2)))
        .await
        .expect("fg");
    deploys
        .patch("orph", &pp, &Patch::Apply(deployment("orph", "x:1", 1)))
        .await
        .expect("orph");
    wait_deploy(&deploys, "fg", is_complete).await;
    wait_deploy(&deploys, "orph", is_complete).await;
    let d = deploys
        .delete("fg", &DeleteParams::foreground())
        .await
        .expect("delete fg");
    let d = d.left().expect("foreground deletion returns the object");
    assert!(d
        .metadata
        .finalizers
        .unwrap_or_default()
        .contains(&"foregroundDeletion".to_string()));
    for _ in 0..200 {
        if deploys.get_opt("fg").await.expect("get").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(deploys.get_opt("fg").await.expect("get").is_none());
    assert!(rs
        .list(&ListParams::default().labels("app=fg"))
        .await
        .expect("rs")
        .items
        .is_empty());
    deploys
        .delete("orph", &DeleteParams::orphan())
        .await
        .expect("delete orphan");
    for _ in 0..200 {
        if deploys.get_opt("orph").await.expect("get").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = rs
        .list(&ListParams::default().labels("app=orph"))
        .await
        .expect("rs")
        .items;
    assert_eq!(left.len(), 1, "the ReplicaSet is orphaned, not deleted");
    assert!(left[0]
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|o| o.is_empty()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_recreate_and_min_ready_seconds() {
    let (sim, client) = sim(None, 50.0).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck").force();
    // Paused: template changes make no new ReplicaSet until resumed.
    let mut d = deployment("p", "x:1", 2);
    deploys
        .patch("p", &pp, &Patch::Apply(d.clone()))
        .await
        .expect("apply");
    wait_deploy(&deploys, "p", is_complete).await;
    d["spec"]["paused"] = json!(true);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x:2");
    deploys
        .patch("p", &pp, &Patch::Apply(d.clone()))
        .await
        .expect("pause + change");
    let paused = wait_deploy(&deploys, "p", |d| {
        d.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.reason.as_deref() == Some("DeploymentPaused"))
            })
    })
    .await;
    assert_eq!(
        paused.status.and_then(|s| s.updated_replicas),
        None,
        "no new pods while paused"
    );
    assert_eq!(
        rs.list(&ListParams::default().labels("app=p"))
            .await
            .expect("rs")
            .items
            .len(),
        1
    );
    d["spec"]["paused"] = json!(false);
    deploys
        .patch("p", &pp, &Patch::Apply(d.clone()))
        .await
        .expect("resume");
    wait_deploy(&deploys, "p", |d| {
        is_complete(d) && d.metadata.generation == Some(3)
    })
    .await;
    assert_eq!(
        rs.list(&ListParams::default().labels("app=p"))
            .await
            .expect("rs")
            .items
            .len(),
        2
    );

    // Recreate: the old ReplicaSet goes to zero before the new one gets any pod.
    let mut r = deployment("r", "y:1", 3);
    r["spec"]["strategy"] = json!({"type": "Recreate"});
    deploys
        .patch("r", &pp, &Patch::Apply(r.clone()))
        .await
        .expect("recreate v1");
    wait_deploy(&deploys, "r", is_complete).await;
    let rv = deploys
        .get("r")
        .await
        .expect("get")
        .metadata
        .resource_version
        .unwrap_or_default();
    r["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y:2");
    let mut w = deploys
        .watch(&WatchParams::default().fields("metadata.name=r"), &rv)
        .await
        .expect("watch")
        .boxed();
    deploys
        .patch("r", &pp, &Patch::Apply(r))
        .await
        .expect("recreate v2");
    let mut overlap = false;
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(5), w.next()).await {
            Ok(Some(Ok(WatchEvent::Modified(d)))) => {
                let st = d.status.clone().unwrap_or_default();
                let old = st.replicas.unwrap_or(0) - st.updated_replicas.unwrap_or(0);
                if old > 0 && st.updated_replicas.unwrap_or(0) > 0 {
                    overlap = true;
                }
                if is_complete(&d) && d.metadata.generation == Some(2) {
                    break;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    assert!(!overlap, "Recreate never runs old and new pods together");
    assert!(is_complete(&deploys.get("r").await.expect("get")));

    // minReadySeconds: ready pods count as available only after the wait.
    let mut m = deployment("m", "z:1", 1);
    m["spec"]["minReadySeconds"] = json!(100);
    deploys
        .patch("m", &pp, &Patch::Apply(m))
        .await
        .expect("minReady");
    let ready_first = wait_deploy(&deploys, "m", |d| {
        d.status.as_ref().and_then(|s| s.ready_replicas) == Some(1)
    })
    .await;
    assert_eq!(
        ready_first.status.and_then(|s| s.available_replicas),
        None,
        "not yet available"
    );
    wait_deploy(&deploys, "m", is_complete).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_daemonset_and_job_reach_ready_or_complete() {
    let (sim, client) = sim(None, 100.0).await;
    let pp = PatchParams::apply("helmdeck");
    let tmpl = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "db:1"}]}});
    let sts: Api<k8s_openapi::api::apps::v1::StatefulSet> = Api::default_namespaced(client.clone());
    sts.patch("db", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": tmpl}}))).await.expect("sts");
    let ds: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::default_namespaced(client.clone());
    ds.patch("agent", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}}))).await.expect("ds");
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::default_namespaced(client.clone());
    jobs.patch("migrate", &pp, &Patch::Apply(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"completions": 2, "template": {"spec": {"containers": [{"name": "m", "image": "migrate:1"}]}}}}))).await.expect("job");
    let cond = |s: Option<&k8s_openapi::api::apps::v1::StatefulSet>| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|s| s.ready_replicas == Some(3))
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(sts.clone(), "db", cond),
    )
    .await
    .expect("sts ready")
    .expect("watch");
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    for i in 0..3 {
        pods.get(&format!("db-{i}")).await.expect("ordinal pod");
    }
    let cond = |d: Option<&k8s_openapi::api::apps::v1::DaemonSet>| {
        d.and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.number_ready == 1 && s.desired_number_scheduled == 1)
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(ds.clone(), "agent", cond),
    )
    .await
    .expect("ds ready")
    .expect("watch");
    tokio::time::timeout(
        Duration::from_secs(20),
        await_condition(
            jobs.clone(),
            "migrate",
            kube::runtime::conditions::is_job_completed(),
        ),
    )
    .await
    .expect("job done")
    .expect("watch");
    let j = jobs.get("migrate").await.expect("job");
    assert_eq!(j.status.and_then(|s| s.succeeded), Some(2));
    sim.shutdown().await;
}

/// A raw HTTP/1.1 request; returns (status code, body with chunk framing removed).
async fn raw(url: &str, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let wait = if path.contains("watch=") { 2 } else { 10 };
    let _ = tokio::time::timeout(Duration::from_secs(wait), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Drop chunk-size lines: keep only JSON-looking lines.
    let body = body
        .lines()
        .filter(|l| l.starts_with('{') || l.starts_with('I') || l.starts_with('['))
        .collect::<Vec<_>>()
        .join("\n");
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_protocol_details_and_malformed_requests() {
    let (sim, client) = sim(None, 10.0).await;
    // kube-rs discovery resolves kinds from the plain discovery documents.
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            "Deployment",
        ))
        .expect("Deployment discovered");
    assert_eq!(ar.plural, "deployments");
    assert!(
        caps.subresources.iter().any(|(s, _)| s.plural == "scale"),
        "{:?}",
        caps.subresources
    );
    assert!(discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "coordination.k8s.io",
            "v1",
            "Lease"
        ))
        .is_some());
    let url = sim.url();
    // sendInitialEvents: ADDED for what exists, then the initial-events-end bookmark;
    // timeoutSeconds ends the stream.
    let (code, body) = raw(&url, "GET", "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1", "application/json", "").await;
    assert_eq!(code, 200);
    let events: Vec<serde_json::Value> = body
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "kube-root-ca.crt");
    let bookmark = events
        .iter()
        .find(|e| e["type"] == "BOOKMARK")
        .expect("bookmark");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    // Malformed requests answer 400 Status objects.
    for (method, path, ct, body) in [
        (
            "GET",
            "/api/v1/pods?labelSelector=a%20in%20(b",
            "application/json",
            "",
        ),
        (
            "GET",
            "/api/v1/pods?fieldSelector=nonsense",
            "application/json",
            "",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            "{not json",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        ),
        (
            "GET",
            "/api/v1/pods?watch=1&resourceVersion=abc",
            "application/json",
            "",
        ),
    ] {
        let (code, body) = raw(&url, method, path, ct, body).await;
        assert_eq!(code, 400, "{method} {path}: {body}");
        let status: serde_json::Value = serde_json::from_str(&body).expect("Status body");
        assert_eq!(
            (status["kind"].as_str(), status["code"].as_i64()),
            (Some("Status"), Some(400)),
            "{body}"
        );
    }
    let (code, _) = raw(
        &url,
        "GET",
        "/apis/nothing.example.com/v1/things",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404);
    let (code, body) = raw(
        &url,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/kube-root-ca.crt",
        "application/xml",
        "<x/>",
    )
    .await;
    assert_eq!(code, 415, "{body}");
    // Discovery a client starts from.
    let (code, body) = raw(&url, "GET", "/apis", "application/json", "").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("\"apps\"") && body.contains("\"coordination.k8s.io\""),
        "{body}"
    );
    let (code, body) = raw(&url, "GET", "/apis/apps/v1", "application/json", "").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("\"deployments/scale\"") && body.contains("\"deploy\""),
        "{body}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_status_errors_never_a_panic() {
    let (sim, _client) = sim(None, 10.0).await;
    let url = sim.url();
    let cm = "/api/v1/namespaces/default/configmaps";
    let dep = "/apis/apps/v1/namespaces/default/deployments";
    raw(
        &url,
        "POST",
        cm,
        "application/json",
        r#"{"metadata":{"name":"c"},"data":{"a":"1"}}"#,
    )
    .await;
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "POST",
            cm.to_string(),
            "application/json",
            r#"{"metadata":"x"}"#,
        ),
        ("POST", cm.to_string(), "application/json", r#"[1,2,3]"#),
        (
            "POST",
            cm.to_string(),
            "application/json",
            r#"{"metadata":{"name":"Bad_Name"}}"#,
        ),
        (
            "POST",
            cm.to_string(),
            "application/json",
            r#"{"metadata":{"name":"l","labels":"x"}}"#,
        ),
        (
            "POST",
            cm.to_string(),
            "application/json",
            r#"{"metadata":{"name":"d"},"data":{"a":1}}"#,
        ),
        (
            "POST",
            dep.to_string(),
            "application/json",
            r#"{"metadata":{"name":"d"},"spec":5}"#,
        ),
        (
            "POST",
            dep.to_string(),
            "application/json",
            r#"{"metadata":{"name":"d"},"spec":{"replicas":-1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[]}}}}"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/json-patch+json",
            r#"[{"op":"replace","path":"","value":5}]"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nope/x"}]"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/json-patch+json",
            r#"{"op":"add"}"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/merge-patch+json",
            r#"{"metadata":"gone"}"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/merge-patch+json",
            r#"{"metadata":{"name":"other"}}"#,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            "application/strategic-merge-patch+json",
            r#"{"data":{"$patch":"delete"},"metadata":{"labels":[1]}}"#,
        ),
        (
            "PATCH",
            format!("{cm}/c?fieldManager=m"),
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: [1]}}\n",
        ),
        (
            "PATCH",
            format!("{cm}/c?fieldManager=m"),
            "application/apply-patch+yaml",
            "- just\n- a list\n",
        ),
        (
            "PUT",
            format!("{cm}/c"),
            "application/json",
            r#"{"metadata":{"name":"zzz"}}"#,
        ),
        (
            "DELETE",
            format!("{cm}/c"),
            "application/json",
            r#"{"propagationPolicy":"Sideways"}"#,
        ),
        (
            "DELETE",
            format!("{cm}/c"),
            "application/json",
            r#"{"preconditions":{"uid":"nope"}}"#,
        ),
        (
            "GET",
            format!("{cm}?limit=1&continue=%%%"),
            "application/json",
            "",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods/nope/log".to_string(),
            "application/json",
            "",
        ),
        (
            "PUT",
            format!("{dep}/nope/scale"),
            "application/json",
            r#"{"spec":{"replicas":"many"}}"#,
        ),
        (
            "POST",
            cm.to_string(),
            "application/vnd.kubernetes.protobuf",
            "k8s\u{0}\u{a}\u{ff}garbage",
        ),
    ];
    for (method, path, ct, body) in &cases {
        let (code, text) = raw(&url, method, path, ct, body).await;
        assert!(
            (400..500).contains(&code),
            "{method} {path} {body} → {code} {text}"
        );
        let status: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not a Status: {text}"));
        assert_eq!(status["kind"], "Status", "{text}");
    }
    // Absurd but well-formed values are clamped, not fatal.
    let (code, _) = raw(
        &url,
        "GET",
        &format!("{cm}?watch=1&timeoutSeconds=18446744073709551615&resourceVersion=999999999"),
        "application/json",
        "",
    )
    .await;
    assert!(code == 200 || code == 0);
    let (code, _) = raw(
        &url,
        "DELETE",
        &format!("{cm}/c?gracePeriodSeconds=9223372036854775807"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 200);
    assert!(Scenario::from_yaml("pod_start: {min: 1e300, max: 1e301}").is_err());
    let (code, body) = raw(&url, "GET", "/version", "application/json", "").await;
    assert_eq!(code, 200, "still serving: {body}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_during_a_stuck_rollout_is_proportional() {
    let (sim, client) = sim(
        Some("faults:\n  - match: { image: \"*:bad\" }\n    fault: never-ready\n"),
        50.0,
    )
    .await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("helmdeck").force();
    let mut d = deployment("prop", "app:good", 10);
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}});
    deploys
        .patch("prop", &pp, &Patch::Apply(d.clone()))
        .await
        .expect("v1");
    wait_deploy(&deploys, "prop", is_complete).await;
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:bad");
    deploys
        .patch("prop", &pp, &Patch::Apply(d.clone()))
        .await
        .expect("bad rollout");
    // The rollout stalls at old 8 / new 5 (maxUnavailable 2, maxSurge 3).
    let sizes = || async {
        let mut v: Vec<(String, i32)> = rs
            .list(&ListParams::default().labels("app=prop"))
            .await
            .expect("rs")
            .items
            .iter()
            .map(|r| {
                (
                    r.spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .and_then(|t| t.spec.as_ref())
                        .map(|s| s.containers[0].image.clone().unwrap_or_default())
                        .unwrap_or_default(),
                    r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
                )
            })
            .collect();
        v.sort();
        v
    };
    let mut got = vec![];
    for _ in 0..200 {
        got = sizes().await;
        if got == vec![("app:bad".to_string(), 5), ("app:good".to_string(), 8)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        got,
        vec![("app:bad".to_string(), 5), ("app:good".to_string(), 8)]
    );
    d["spec"]["replicas"] = json!(15);
    deploys
        .patch("prop", &pp, &Patch::Apply(d))
        .await
        .expect("scale to 15");
    for _ in 0..200 {
        got = sizes().await;
        if got == vec![("app:bad".to_string(), 7), ("app:good".to_string(), 11)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        got,
        vec![("app:bad".to_string(), 7), ("app:good".to_string(), 11)],
        "the docs' proportional scaling example"
    );
    sim.shutdown().await;
}
