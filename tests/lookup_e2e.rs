//! Rendering for the environment's cluster, end to end against `helmdeck sim`:
//! `.Capabilities` are the cluster's (its version and API versions from discovery, not
//! Helm's defaults), and a chart that keeps a generated password with `lookup` (the common
//! `lookup` + `randAlphaNum` pattern, the Secret read by its Deployment) keeps it across
//! two deploys.

mod support;

const CHART_YAML: &str = "apiVersion: v2\nname: vault\nversion: 0.1.0\n";

const SECRET: &str = r#"{{- $old := lookup "v1" "Secret" .Release.Namespace (printf "%s-auth" .Release.Name) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-auth
type: Opaque
data:
  {{- if and $old $old.data }}
  password: {{ index $old.data "password" }}
  {{- else }}
  password: {{ randAlphaNum 24 | b64enc }}
  {{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: main
          image: "vault:{{ .Values.tag }}"
          env:
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {name: {{ .Release.Name }}-auth, key: password}
"#;

const CAPS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  hpa: {{ .Capabilities.APIVersions.Has "autoscaling/v2/HorizontalPodAutoscaler" | quote }}
  madeup: {{ .Capabilities.APIVersions.Has "made.up/v9" | quote }}
"#;

fn config() -> String {
    "repositories:\n  - { name: local, type: local, path: ./charts }\nservices:\n  - { name: vault, chart: { repository: local, name: vault }, strategy: rolling }\nenvironments:\n  - name: dev\n    cluster: { kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: vault }\n    policy: { auto_rollback: false, progress_deadline: 60s }\n".into()
}

async fn project() -> support::SimProject {
    let p = support::SimProject::start(
        "speed: 20\npod_start: { min: 1s, max: 2s }\n",
        &[("helmdeck.yaml", &config())],
        "vault",
        &[],
    )
    .await;
    let chart = p.path().join("charts/vault");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    for (name, text) in [
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "tag: \"1.0\"\n"),
        ("templates/secret.yaml", SECRET),
        ("templates/deployment.yaml", DEPLOYMENT),
        ("templates/caps.yaml", CAPS),
    ] {
        std::fs::write(chart.join(name), text).expect(name);
    }
    p.kubectl(&["create", "namespace", "vault"]).await;
    p
}

fn password(secret: &serde_json::Value) -> String {
    secret["data"]["password"]
        .as_str()
        .expect("a password")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_are_the_clusters_and_lookup_keeps_a_generated_password() {
    let p = project().await;
    let version: serde_json::Value =
        serde_json::from_str(&p.kubectl(&["version", "-o", "json"]).await)
            .expect("kubectl version");
    let server = version["serverVersion"]["gitVersion"]
        .as_str()
        .expect("server version")
        .to_string();

    let out = p.helmdeck(&["render", "vault", "--env", "dev"]).await;
    assert_eq!(support::code(&out), 0, "{}", support::explain(&out));
    let text = support::stdout(&out);
    // helmdeck prints the objects it parsed: plain scalars where YAML allows.
    assert!(text.contains(&format!("kube: {server}\n")), "{text}");
    assert!(
        text.contains("hpa: \"true\""),
        "the sim serves autoscaling/v2: {text}"
    );
    assert!(text.contains("madeup: \"false\""), "{text}");

    let out = p
        .helmdeck(&["deploy", "vault", "--env", "dev", "--yes", "--wait"])
        .await;
    assert_eq!(support::code(&out), 0, "{}", support::explain(&out));
    let first = p.get_json(&["secret", "vault-auth"]).await;
    let first_password = password(&first);
    assert_eq!(
        first["metadata"]["annotations"]["helmdeck.io/keep-name"],
        serde_json::json!("true"),
        "a Secret rendered with lookup keeps its name: {first}"
    );

    // A second deploy (a new image) renders against the cluster: lookup finds the Secret.
    let out = p
        .helmdeck(&[
            "deploy", "vault", "--env", "dev", "--yes", "--wait", "--set", "tag=1.1",
        ])
        .await;
    assert_eq!(support::code(&out), 0, "{}", support::explain(&out));
    let second = p.get_json(&["secret", "vault-auth"]).await;
    assert_eq!(password(&second), first_password, "the password is kept");
    let dep = p.get_json(&["deployment", "vault"]).await;
    assert_eq!(support::image_of(&dep), "vault:1.1");

    // The diff against the live cluster shows no change to the Secret either.
    let out = p
        .helmdeck(&[
            "diff", "vault", "--env", "dev", "--set", "tag=1.1", "-o", "json",
        ])
        .await;
    assert_eq!(support::code(&out), 0, "{}", support::explain(&out));
    let d: serde_json::Value = serde_json::from_str(&support::stdout(&out)).expect("json");
    assert_eq!(
        (&d["added"], &d["changed"], &d["removed"]),
        (
            &serde_json::json!(0),
            &serde_json::json!(0),
            &serde_json::json!(0)
        ),
        "nothing would change, the Secret included: {d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cluster_render_says_what_lookup_cannot_keep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("charts/vault");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(chart.join("Chart.yaml"), CHART_YAML).expect("write");
    std::fs::write(chart.join("values.yaml"), "tag: \"1.0\"\n").expect("write");
    std::fs::write(chart.join("templates/secret.yaml"), SECRET).expect("write");
    std::fs::write(dir.path().join("helmdeck.yaml"), config()).expect("write");
    // ./kubeconfig does not exist: the cluster cannot be reached.
    let out = support::helmdeck(&["render", "vault", "--env", "dev"], dir.path(), &[]);
    assert_eq!(support::code(&out), 0, "{}", support::explain(&out));
    let err = support::stderr(&out);
    assert!(err.contains("was not reached"), "{err}");
    assert!(
        err.contains("vault/templates/secret.yaml calls `lookup`"),
        "{err}"
    );
}
