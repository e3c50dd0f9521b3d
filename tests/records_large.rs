//! Release records larger than a Secret holds (CRD-heavy charts render megabytes): the
//! rendered objects go into numbered part Secrets written before the record that names
//! them, each under the API server's 1 MiB limit, and read back whole — by history, by a
//! rollback that re-applies them, by `diff --revision`.

mod support;

use support::{code, explain};

const SCENARIO: &str = "speed: 20\nseed: 3\npod_start: { min: 1s, max: 2s }\n";

/// A chart that renders about `mb` MB: one small Deployment and ConfigMaps of text that
/// gzip badly (as certificates and generated CRD schemas do).
fn big_chart(dir: &std::path::Path, mb: usize) {
    let c = dir.join("charts/big");
    std::fs::create_dir_all(c.join("templates")).expect("mkdir");
    std::fs::write(
        c.join("Chart.yaml"),
        "apiVersion: v2\nname: big\nversion: 1.0.0\nappVersion: \"1.0.0\"\n",
    )
    .expect("chart");
    std::fs::write(c.join("values.yaml"), "image: nginx:1.25\nreplicas: 1\n").expect("values");
    std::fs::write(
        c.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: { app: big }\n  template:\n    metadata:\n      labels: { app: big }\n    spec:\n      containers:\n        - name: app\n          image: {{ .Values.image }}\n",
    )
    .expect("deployment");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..(mb * 2) {
        let mut text = String::with_capacity(520_000);
        text.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blob-{i}\ndata:\n"
        ));
        let mut line = 0;
        while text.len() < 512 * 1024 {
            let mut v = String::with_capacity(128);
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push_str(&format!("{x:016x}"));
            }
            text.push_str(&format!("  k{line}: \"{v}\"\n"));
            line += 1;
        }
        std::fs::write(c.join(format!("templates/blob-{i}.yaml")), text).expect("blob");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_release_is_recorded_in_parts_and_read_back_whole() {
    let cfg = r#"repositories:
  - { name: local, type: local, path: ./charts }
services:
  - name: big
    chart: { repository: local, name: big }
    strategy: rolling
environments:
  - name: test
    cluster: { kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: big }
    policy: { auto_rollback: true, progress_deadline: 60s }
"#;
    let env = support::SimProject::start(SCENARIO, &[("helmdeck.yaml", cfg)], "big", &[]).await;
    big_chart(env.path(), 10);
    env.kubectl(&["create", "namespace", "big"]).await;

    let t = std::time::Instant::now();
    let first = env.helmdeck(&["deploy", "big", "--env", "test"]).await;
    eprintln!("first deploy: {:?}", t.elapsed());
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let second = env
        .helmdeck(&[
            "deploy",
            "big",
            "--env",
            "test",
            "--set",
            "image=nginx:1.26",
        ])
        .await;
    assert_eq!(code(&second), 0, "{}", explain(&second));

    let parts = env
        .get_json(&["secrets", "-l", "helmdeck.io/release=big,helmdeck.io/part"])
        .await;
    let parts = parts["items"].as_array().cloned().unwrap_or_default();
    assert!(parts.len() >= 4, "{} parts", parts.len());
    for p in &parts {
        let data = p["data"]["release"].as_str().unwrap_or_default();
        assert!(data.len() * 3 / 4 <= 1024 * 1024, "a part over 1 MiB");
    }
    let history = env
        .helmdeck(&["history", "big", "--env", "test", "-o", "json"])
        .await;
    assert_eq!(code(&history), 0, "{}", explain(&history));
    let rows: serde_json::Value = serde_json::from_str(&support::stdout(&history)).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");

    // Revision 1's objects come back whole from its parts: diffed, then re-applied.
    let diff = env
        .helmdeck(&[
            "diff",
            "big",
            "--env",
            "test",
            "--revision",
            "1",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(code(&diff), 0, "{}", explain(&diff));
    let d: serde_json::Value = serde_json::from_str(&support::stdout(&diff)).expect("json");
    assert_eq!(
        (
            d["added"].as_u64(),
            d["changed"].as_u64(),
            d["removed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "revision 1 is what the configuration renders now"
    );
    assert_eq!(d["unchanged"], 21, "every object of revision 1 read back");
    let back = env
        .helmdeck(&["rollback", "big", "--env", "test", "--to", "1"])
        .await;
    assert_eq!(code(&back), 0, "{}", explain(&back));
    let dep = env.get_json(&["deployment", "big"]).await;
    assert_eq!(support::image_of(&dep), "nginx:1.25");
    let cm = env.get_json(&["configmap", "blob-19"]).await;
    assert!(
        cm["data"]["k0"].as_str().is_some_and(|v| v.len() == 128),
        "{}",
        cm["metadata"]
    );
}
