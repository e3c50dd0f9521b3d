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
