//! Lists of a release's objects through the library against the simulated cluster: long
//! lists come in pages and keep only what `prune` reads.

use helmdeck::cluster::{self, ClusterTarget};
use helmdeck::sim::{self, SimOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_longer_than_a_page_comes_whole_with_labels_annotations_and_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let _sim = sim::start(SimOptions {
        kubeconfig_path: Some(kubeconfig.clone()),
        ..Default::default()
    })
    .await
    .expect("sim starts");
    let c = cluster::connect(&ClusterTarget {
        kubeconfig: Some(kubeconfig),
        context: Some("helmdeck-sim".into()),
        namespace: "lists".into(),
        timeout: None,
    })
    .await
    .expect("connects");
    c.apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lists"}}))
        .await
        .expect("namespace");
    let n = cluster::LIST_PAGE as usize * 2 + 17;
    for i in 0..n {
        let mut cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i:04}"), "namespace": "lists",
                         "labels": {"helmdeck.io/release": "web", "i": i.to_string()}},
            "data": {"payload": "x".repeat(512)},
        });
        if i % 100 == 0 {
            cm["metadata"]["annotations"] = json!({"helmdeck.io/revision": "7"});
        }
        c.apply(&cm).await.expect("configmap");
    }
    // One object of another release, and a Secret with a type.
    c.apply(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "other", "namespace": "lists", "labels": {"helmdeck.io/release": "api"}}}))
        .await
        .expect("other");
    c.apply(
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "helmdeck.io/release.v1",
        "metadata": {"name": "rec", "namespace": "lists", "labels": {"helmdeck.io/release": "web"}},
        "data": {"release": "eA=="}}),
    )
    .await
    .expect("secret");

    let refs = c
        .list_refs("v1", "ConfigMap", "helmdeck.io/release=web")
        .await
        .expect("lists");
    assert_eq!(refs.len(), n, "every page arrives, nothing twice");
    let mut names: Vec<&str> = refs.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n);
    assert!(!names.contains(&"other"));
    let annotated = refs
        .iter()
        .filter(|r| r.annotation("helmdeck.io/revision") == Some("7"))
        .count();
    assert_eq!(annotated, n.div_ceil(100));
    let r = refs
        .iter()
        .find(|r| r.name() == "cm-0042")
        .expect("cm-0042");
    assert_eq!(r.label("i"), Some("42"));
    assert_eq!(r.metadata.namespace.as_deref(), Some("lists"));

    let secrets = c
        .list_refs("v1", "Secret", "helmdeck.io/release=web")
        .await
        .expect("lists secrets");
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].type_.as_deref(), Some("helmdeck.io/release.v1"));
}

/// A continue token the server no longer honours (410 Expired, as after etcd compaction)
/// restarts the list from the top: nothing twice, nothing missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_continue_token_restarts_the_list_from_the_top() {
    use axum::extract::{Query, State};
    use axum::http::StatusCode;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    type Asked = Arc<Mutex<Vec<Option<String>>>>;
    async fn list(
        State(asked): State<Asked>,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, axum::Json<serde_json::Value>) {
        let token = q.get("continue").cloned();
        let n = {
            let mut a = asked.lock().expect("lock");
            a.push(token.clone());
            a.len()
        };
        let page = |names: &[&str], next: &str| {
            let items: Vec<_> = names
                .iter()
                .map(|n| json!({"metadata": {"name": n, "namespace": "lists"}}))
                .collect();
            json!({"apiVersion": "v1", "kind": "ConfigMapList",
                   "metadata": {"resourceVersion": "9", "continue": next}, "items": items})
        };
        match (n, token.as_deref()) {
            (1, None) => (StatusCode::OK, axum::Json(page(&["a", "b"], "t1"))),
            (2, Some("t1")) => (
                StatusCode::GONE,
                axum::Json(
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "Expired", "code": 410,
                    "message": "The provided continue parameter is too old to display a consistent list result."}),
                ),
            ),
            (3, None) => (StatusCode::OK, axum::Json(page(&["a", "b"], "t2"))),
            (4, Some("t2")) => (StatusCode::OK, axum::Json(page(&["c"], ""))),
            other => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"kind": "Status", "status": "Failure", "code": 400,
                    "message": format!("unexpected request {other:?}")})),
            ),
        }
    }

    let asked: Asked = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route(
            "/api/v1/namespaces/lists/configmaps",
            axum::routing::get(list),
        )
        .with_state(asked.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, "lists");
    let got = cluster::list_paged(&url, "configmaps", &api, "")
        .await
        .expect("the list restarts and completes");
    let names: Vec<String> = got.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        *asked.lock().expect("lock"),
        [None, Some("t1".into()), None, Some("t2".into())]
    );
    server.abort();
}
