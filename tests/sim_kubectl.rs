//! The simulated cluster through the real kubectl (installed by scripts/provision-tests.sh;
//! missing, these tests fail):
//! get, get -w, apply --server-side, client-side apply, rollout status (healthy and past
//! its progress deadline), scale, rollout restart, logs -f, delete with cascading, CRDs.

mod support;

use helmdeck::sim::{start, Scenario, SimHandle, SimOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Ctl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    _dir: tempfile::TempDir,
}

async fn sim(scenario: Option<&str>, speed: f64) -> (SimHandle, Ctl) {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let opts = SimOptions {
        port: 0,
        speed,
        scenario: scenario.map(|s| Scenario::from_yaml(s).expect("scenario")),
        kubeconfig_path: Some(kubeconfig.clone()),
        ..SimOptions::default()
    };
    let h = start(opts).await.expect("sim starts");
    assert!(
        kubeconfig.exists(),
        "kubeconfig written once the API answers"
    );
    let cache = dir.path().join("cache");
    (
        h,
        Ctl {
            kubeconfig,
            cache,
            _dir: dir,
        },
    )
}

/// Runs kubectl (off the async runtime) with a stdin document; returns (exit code, stdout, stderr).
async fn kubectl(
    ctl: &Ctl,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> (i32, String, String) {
    let kc: PathBuf = ctl.kubeconfig.clone();
    let cache: PathBuf = ctl.cache.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || run(&kc, &cache, &args, stdin.as_deref(), timeout))
        .await
        .expect("join")
}

fn run(
    kc: &Path,
    cache: &Path,
    args: &[String],
    stdin: Option<&str>,
    timeout: Duration,
) -> (i32, String, String) {
    let mut child = Command::new(support::kubectl_bin())
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .env("KUBECONFIG", kc)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let (Some(text), Some(mut sin)) = (stdin, child.stdin.take()) {
        let _ = sin.write_all(text.as_bytes());
    }
    let pid = child.id();
    // A watchdog ends commands that follow forever (`get -w`, `logs -f`).
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if rx.recv_timeout(timeout).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("kubectl output");
    let _ = tx.send(());
    let _ = dog.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  progressDeadlineSeconds: 60
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: IMAGE
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"#;

const S: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_deploys_scales_restarts_and_deletes() {
    let (sim, ctl) = sim(None, 50.0).await;
    let app = APP.replace("IMAGE", "ghcr.io/acme/web:1.0");
    let (code, out, err) =
        kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some(&app), S).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    // `get -w` streams the pods coming up.
    let watch = kubectl(
        &ctl,
        &["get", "pods", "-w", "-l", "app=web"],
        None,
        Duration::from_secs(3),
    );
    let (code, out, err) = kubectl(
        &ctl,
        &["rollout", "status", "deployment/web", "--timeout=30s"],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    let (_, wout, _) = watch.await;
    assert!(
        wout.contains("READY") && wout.contains("Running") && wout.contains("1/1"),
        "get -w printed:\n{wout}"
    );
    let (code, out, err) = kubectl(&ctl, &["get", "deploy,rs,pods,svc,endpoints"], None, S).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("deployment.apps/web   3/3     3            3"),
        "{out}"
    );
    // scale, then rollout restart: a new ReplicaSet takes over.
    let (code, _, err) = kubectl(&ctl, &["scale", "deployment/web", "--replicas=5"], None, S).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(
        &ctl,
        &["rollout", "status", "deployment/web", "--timeout=30s"],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = kubectl(&ctl, &["rollout", "restart", "deployment/web"], None, S).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(
        &ctl,
        &["rollout", "status", "deployment/web", "--timeout=30s"],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = kubectl(
        &ctl,
        &[
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={range .items[*]}{.spec.replicas}{\" \"}{end}",
        ],
        None,
        S,
    )
    .await;
    let mut sizes: Vec<&str> = out.split_whitespace().collect();
    sizes.sort();
    assert_eq!(sizes, vec!["0", "5"], "{out}");
    let (_, out, _) = kubectl(&ctl, &["rollout", "history", "deployment/web"], None, S).await;
    assert!(out.contains('1') && out.contains('2'), "{out}");
    // Re-applying the manifest now conflicts on replicas with kubectl scale's manager.
    let (code, _, err) = kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some(&app), S).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("conflict with \"kubectl\" with subresource \"scale\"")
            && err.contains(".spec.replicas"),
        "{err}"
    );
    // logs -f follows a pod.
    let (_, pods, _) = kubectl(
        &ctl,
        &["get", "pods", "-l", "app=web", "-o", "name"],
        None,
        S,
    )
    .await;
    let pod = pods.lines().next().expect("a pod").to_string();
    let (_, out, _) = kubectl(&ctl, &["logs", "-f", &pod], None, Duration::from_secs(2)).await;
    assert!(
        out.contains("INFO starting web") && out.contains("INFO GET"),
        "{out}"
    );
    // delete with foreground cascading waits for the pods.
    let (code, out, err) = kubectl(
        &ctl,
        &["delete", "deployment", "web", "--cascade=foreground"],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, err) = kubectl(&ctl, &["get", "rs,pods", "-l", "app=web"], None, S).await;
    assert!(
        out.trim().is_empty() && err.contains("No resources found"),
        "{out}{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_reports_exceeded_deadline() {
    let (sim, ctl) = sim(
        Some("faults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 3s\n"),
        20.0,
    )
    .await;
    let app = APP
        .replace("IMAGE", "ghcr.io/acme/web:2.0-crash")
        .replace("progressDeadlineSeconds: 60", "progressDeadlineSeconds: 40");
    let (code, _, err) = kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some(&app), S).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(
        &ctl,
        &["rollout", "status", "deployment/web", "--timeout=30s"],
        None,
        S,
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("deployment \"web\" exceeded its progress deadline"),
        "{out}{err}"
    );
    // A crash-looping pod is briefly Running between its crashes: look a few times.
    let mut out = String::new();
    for _ in 0..20 {
        out = kubectl(&ctl, &["get", "pods", "-l", "app=web"], None, S)
            .await
            .1;
        if out.contains("CrashLoopBackOff") || out.contains("Error") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        out.contains("CrashLoopBackOff") || out.contains("Error"),
        "{out}"
    );
    let (_, pods, _) = kubectl(
        &ctl,
        &["get", "pods", "-l", "app=web", "-o", "name"],
        None,
        S,
    )
    .await;
    let pod = pods.lines().next().expect("a pod").to_string();
    let (_, out, _) = kubectl(&ctl, &["logs", &pod], None, S).await;
    assert!(out.contains("FATAL exiting with code 1"), "{out}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_side_apply_crds_and_namespaces() {
    let (sim, ctl) = sim(None, 50.0).await;
    // Client-side apply validates (server-side field validation via OpenAPI v3) and patches.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: team}\ndata: {a: \"1\"}\n";
    let (code, _, err) = kubectl(&ctl, &["create", "namespace", "team"], None, S).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(&ctl, &["apply", "-f", "-"], Some(cm), S).await;
    assert_eq!(code, 0, "{out}{err}");
    // Typed-client commands send protobuf bodies.
    let (code, _, err) = kubectl(
        &ctl,
        &[
            "create",
            "secret",
            "generic",
            "token",
            "-n",
            "team",
            "--from-literal=t=s3cret",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = kubectl(
        &ctl,
        &[
            "get",
            "secret",
            "token",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.t}",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(out, "czNjcmV0");
    let (code, _, err) = kubectl(
        &ctl,
        &[
            "create",
            "configmap",
            "settings",
            "-n",
            "team",
            "--from-literal=mode=fast",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(
        &ctl,
        &["apply", "-f", "-"],
        Some(&cm.replace("\"1\"", "\"2\"")),
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("configmap/cfg configured"), "{out}");
    let (_, out, _) = kubectl(
        &ctl,
        &["get", "cm", "cfg", "-n", "team", "-o", "jsonpath={.data.a}"],
        None,
        S,
    )
    .await;
    assert_eq!(out, "2");
    let (code, out, err) = kubectl(
        &ctl,
        &["diff", "-f", "-"],
        Some(&cm.replace("\"1\"", "\"3\"")),
        S,
    )
    .await;
    assert_eq!(
        code, 1,
        "diff exits 1 when there are differences: {out}{err}"
    );
    assert!(
        out.contains("-  a: \"2\"") && out.contains("+  a: \"3\""),
        "{out}"
    );
    // CRDs: the custom kind is served as soon as the CRD is established.
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wg]}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";
    let (code, _, err) = kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some(crd), S).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = kubectl(
        &ctl,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: team}\nspec: {size: 3, extra: {kept: true}}\n"), S).await;
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = kubectl(
        &ctl,
        &[
            "get",
            "wg",
            "-n",
            "team",
            "w1",
            "-o",
            "jsonpath={.spec.extra.kept}",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(out, "true");
    // Deleting the namespace takes everything in it.
    let (code, _, err) = kubectl(
        &ctl,
        &["delete", "namespace", "team", "--timeout=20s"],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = kubectl(&ctl, &["get", "namespace", "team"], None, S).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    let (code, out, _) = kubectl(&ctl, &["auth", "can-i", "delete", "pods"], None, S).await;
    assert_eq!((code, out.trim()), (0, "yes"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_set_image_undo_pause_resume() {
    let (sim, ctl) = sim(None, 50.0).await;
    let app = APP.replace("IMAGE", "web:1");
    let (code, _, err) = kubectl(&ctl, &["apply", "--server-side", "-f", "-"], Some(&app), S).await;
    assert_eq!(code, 0, "{err}");
    let status = ["rollout", "status", "deployment/web", "--timeout=30s"];
    assert_eq!(kubectl(&ctl, &status, None, S).await.0, 0);
    assert_eq!(
        kubectl(
            &ctl,
            &["set", "image", "deployment/web", "web=web:2"],
            None,
            S
        )
        .await
        .0,
        0
    );
    assert_eq!(kubectl(&ctl, &status, None, S).await.0, 0);
    // Undo goes back to revision 1's ReplicaSet (reused, now revision 3).
    let (code, out, err) = kubectl(&ctl, &["rollout", "undo", "deployment/web"], None, S).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(kubectl(&ctl, &status, None, S).await.0, 0);
    let (_, out, _) = kubectl(&ctl, &["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"], None, S).await;
    assert_eq!(out, "web:1 3");
    let (_, out, _) = kubectl(&ctl, &["get", "rs", "-l", "app=web", "-o", "name"], None, S).await;
    assert_eq!(
        out.lines().count(),
        2,
        "the old ReplicaSet was reused: {out}"
    );
    // Pause holds template changes; resume rolls them out.
    assert_eq!(
        kubectl(&ctl, &["rollout", "pause", "deployment/web"], None, S)
            .await
            .0,
        0
    );
    assert_eq!(
        kubectl(
            &ctl,
            &["set", "image", "deployment/web", "web=web:3"],
            None,
            S
        )
        .await
        .0,
        0
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, out, _) = kubectl(&ctl, &["get", "rs", "-l", "app=web", "-o", "name"], None, S).await;
    assert_eq!(
        out.lines().count(),
        2,
        "no new ReplicaSet while paused: {out}"
    );
    assert_eq!(
        kubectl(&ctl, &["rollout", "resume", "deployment/web"], None, S)
            .await
            .0,
        0
    );
    assert_eq!(kubectl(&ctl, &status, None, S).await.0, 0);
    let (code, out, err) = kubectl(
        &ctl,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=10s",
        ],
        None,
        S,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    sim.shutdown().await;
}
