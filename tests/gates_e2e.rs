//! Verification gates end to end: the real binary against the simulated cluster — http
//! checks through the API server's service proxy (canary and blue/green stage Services) and
//! command checks — with exit codes, `history` and `status -o json`.

mod support;

use serde_json::Value;
use support::{code, explain, image_of};

const SCENARIO: &str = "speed: 20\nseed: 11\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-bad\" }\n    fault: http-errors\n    rate: 1\n";

const SECRET: &str = "gate-secret-value-5150";

const WEB_VALUES: &str =
    "replicaCount: 2\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

type Env = support::SimProject;

/// The project every test here runs in.
async fn start() -> Env {
    let cfg = format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: webhttp
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary:
      steps:
        - {{ replicas: 1 }}
        - verify:
            - {{ name: smoke, http: {{ path: /healthz, port: http, expect: {{ status: 200, jsonpath: "$.status == ok" }} }}, interval: 200ms, count: 3, failure_limit: 0 }}
  - name: webcmd1
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
    verify:
      - {{ name: e2e, command: [ "./count.sh" ], interval: 100ms, count: 5, failure_limit: 1, timeout: 5s }}
  - name: webcmd3
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
    verify:
      - {{ name: e2e, command: [ "./count.sh" ], interval: 100ms, count: 5, failure_limit: 3, timeout: 5s }}
  - name: webbg
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: bluegreen
    bluegreen:
      auto_promote: true
      scale_down_delay: 1s
      pre_promotion:
        - {{ name: stage-smoke, http: {{ path: / }}, interval: 200ms, count: 2 }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: gates }}
    secrets:
      - {{ path: database.password, from: {{ env: E2E_GATE_SECRET }} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = support::charts_dir().display()
    );
    let env = Env::start(
        SCENARIO,
        &[("helmdeck.yaml", &cfg), ("web.yaml", WEB_VALUES)],
        "gates",
        &[("E2E_GATE_SECRET", SECRET)],
    )
    .await;
    // Fails its first two calls per release (after revision 1), then passes; prints its
    // context and a secret that helmdeck must redact.
    let script = env.path().join("count.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$HELMDECK_REVISION\" = 1 ] && exit 0\nf=\"./calls-$HELMDECK_RELEASE\"\nn=$(( $(cat \"$f\" 2>/dev/null || echo 0) + 1 ))\necho $n > \"$f\"\necho \"call $n for $HELMDECK_RELEASE r$HELMDECK_REVISION ns=$HELMDECK_NAMESPACE svc=$HELMDECK_STAGE_SERVICE sel=$HELMDECK_CANARY_SELECTOR secret=$E2E_GATE_SECRET\"\nif [ $n -le 2 ]; then echo 'not yet' >&2; exit 1; fi\nexit 0\n",
    )
    .expect("script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    env.kubectl(&["create", "namespace", "gates"]).await;
    env
}

/// `helmdeck ARGS` that must exit 0, its stdout parsed as JSON.
async fn json(env: &Env, args: &[&str]) -> Value {
    let out = env.helmdeck(args).await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    serde_json::from_str(&support::stdout(&out)).expect("json")
}

/// Outcomes of the measurements of `check` in the newest gate of `gates`.
fn outcomes(gates: &Value, check: &str) -> Vec<String> {
    let Some(last) = gates.as_array().and_then(|g| g.last()) else {
        return Vec::new();
    };
    last["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == check)
        .flat_map(|c| c["measurements"].as_array().cloned().unwrap_or_default())
        .map(|m| m["outcome"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_http_gate_promotes_a_good_canary_and_aborts_one_answering_500s() {
    let env = start().await;
    let d = |tag: &'static str| {
        let set = format!("image.tag={tag}");
        let env = &env;
        async move {
            env.helmdeck(&["deploy", "webhttp", "--env", "test", "--set", &set])
                .await
        }
    };
    let out = d("1.0").await;
    assert_eq!(code(&out), 0, "first deploy: {}", explain(&out));

    let started = std::time::Instant::now();
    let out = d("2.0").await;
    assert_eq!(code(&out), 0, "good canary: {}", explain(&out));
    let gate_time = started.elapsed();
    assert!(support::stderr(&out).contains("smoke"), "{}", explain(&out));
    let dep = env.get_json(&["deployment", "webhttp"]).await;
    assert!(image_of(&dep).ends_with(":2.0"), "promoted: {dep}");

    let out = d("3.0-bad").await;
    assert_eq!(code(&out), 1, "bad canary fails: {}", explain(&out));
    assert!(
        support::stdout(&out).contains("check `smoke` failed"),
        "the check is named: {}",
        explain(&out)
    );
    let dep = env.get_json(&["deployment", "webhttp"]).await;
    assert!(image_of(&dep).ends_with(":2.0"), "primary untouched: {dep}");
    let canary = env
        .kubectl(&["-n", "gates", "get", "deployment", "webhttp-canary"])
        .await;
    assert!(canary.contains("NotFound"), "canary deleted: {canary}");
    let svc = env
        .kubectl(&["-n", "gates", "get", "service", "webhttp-canary"])
        .await;
    assert!(svc.contains("NotFound"), "canary Service deleted: {svc}");

    let history = json(&env, &["history", "webhttp", "--env", "test", "-o", "json"]).await;
    let rows = history.as_array().expect("rows");
    let bad = rows.iter().find(|r| r["revision"] == 3).expect("r3");
    assert_eq!(bad["status"], "RolledBack");
    assert_eq!(outcomes(&bad["gates"], "smoke"), vec!["fail"]);
    let good = rows.iter().find(|r| r["revision"] == 2).expect("r2");
    assert_eq!(outcomes(&good["gates"], "smoke"), vec!["pass"; 3]);
    let m = &good["gates"][0]["checks"][0]["measurements"][0];
    assert_eq!(m["value"], "200");
    assert!(
        m["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("webhttp-canary"),
        "probed the canary Service: {m}"
    );
    let text = env.helmdeck(&["history", "webhttp", "--env", "test"]).await;
    assert!(
        support::stdout(&text).contains("smoke ✗"),
        "{}",
        explain(&text)
    );
    let status = json(&env, &["status", "webhttp", "--env", "test", "-o", "json"]).await;
    assert_eq!(outcomes(&status["gates"], "smoke"), vec!["fail"]);
    let g = &good["gates"][0];
    let span = g["ended_ms"].as_u64().unwrap_or(0) - g["started_ms"].as_u64().unwrap_or(0);
    eprintln!(
        "FIGURE canary deploy with a 3-measurement http gate 200ms apart: deploy {gate_time:?}, gate {span} ms (400 ms of it is the intervals)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_gate_fails_past_its_failure_limit_and_passes_within_it() {
    let env = start().await;
    for svc in ["webcmd1", "webcmd3"] {
        let out = env
            .helmdeck(&["deploy", svc, "--env", "test", "--set", "image.tag=1.0"])
            .await;
        assert_eq!(code(&out), 0, "{svc} r1: {}", explain(&out));
    }
    // failure_limit 1: two failures end it; rolling rolls back to revision 1.
    let out = env
        .helmdeck(&[
            "deploy",
            "webcmd1",
            "--env",
            "test",
            "--set",
            "image.tag=2.0",
        ])
        .await;
    assert_eq!(code(&out), 1, "{}", explain(&out));
    assert!(
        support::stdout(&out).contains("RolledBack"),
        "{}",
        explain(&out)
    );
    let dep = env.get_json(&["deployment", "webcmd1"]).await;
    assert!(image_of(&dep).ends_with(":1.0"), "rolled back: {dep}");
    let st = json(&env, &["status", "webcmd1", "--env", "test", "-o", "json"]).await;
    assert_eq!(outcomes(&st["gates"], "e2e"), vec!["fail", "fail"], "{st}");

    // failure_limit 3: fail, fail, then passes on the third success.
    let out = env
        .helmdeck(&[
            "deploy",
            "webcmd3",
            "--env",
            "test",
            "--set",
            "image.tag=2.0",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let st = json(&env, &["status", "webcmd3", "--env", "test", "-o", "json"]).await;
    assert_eq!(
        outcomes(&st["gates"], "e2e"),
        vec!["fail", "fail", "pass", "pass", "pass"]
    );
    let m = &st["gates"][0]["checks"][0]["measurements"];
    let first = m[0]["detail"].as_str().unwrap_or_default();
    assert!(
        first.contains("call 1 for webcmd3 r2 ns=gates svc=webcmd3 sel=")
            && first.contains("not yet"),
        "context in the environment, output captured: {first}"
    );
    assert_eq!(m[0]["value"], "exit 1");
    let all = format!("{}{}{}", st, support::stdout(&out), support::stderr(&out));
    assert!(!all.contains(SECRET), "secrets are redacted: {all}");
    assert!(all.contains("secret=********"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluegreen_pre_promotion_gate_keeps_traffic_on_the_live_slot_when_it_fails() {
    let env = start().await;
    let deploy = |tag: &'static str| {
        let set = format!("image.tag={tag}");
        let env = &env;
        async move {
            env.helmdeck(&["deploy", "webbg", "--env", "test", "--set", &set])
                .await
        }
    };
    let out = deploy("1.0").await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let selector = |svc: Value| {
        svc.pointer("/spec/selector/helmdeck.io~1slot")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(selector(env.get_json(&["service", "webbg"]).await), "blue");

    // A good green passes the stage check and takes the traffic.
    let out = deploy("2.0").await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    assert_eq!(selector(env.get_json(&["service", "webbg"]).await), "green");

    // A bad blue answers 500 through webbg-stage: traffic stays on green.
    let out = deploy("3.0-bad").await;
    assert_eq!(code(&out), 1, "{}", explain(&out));
    assert!(
        support::stdout(&out).contains("check `stage-smoke` failed"),
        "{}",
        explain(&out)
    );
    assert_eq!(
        selector(env.get_json(&["service", "webbg"]).await),
        "green",
        "live traffic stays on the old slot"
    );
    let green = env.get_json(&["deployment", "webbg-green"]).await;
    assert!(image_of(&green).ends_with(":2.0"), "{green}");
    let st = json(&env, &["status", "webbg", "--env", "test", "-o", "json"]).await;
    let detail = st["gates"][0]["checks"][0]["measurements"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("webbg-stage"),
        "probed the stage Service: {detail}"
    );
    assert_eq!(st["gates"][0]["stage"], "pre-promotion");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_proxies_to_ready_pods_and_answers_503_without_endpoints() {
    let env = start().await;
    let svc = env.dir.path().join("nopods.yaml");
    std::fs::write(
        &svc,
        "apiVersion: v1\nkind: Service\nmetadata: { name: nopods, namespace: gates }\nspec:\n  selector: { app: nothing-here }\n  ports: [ { port: 80, targetPort: 8080 } ]\n",
    )
    .expect("write");
    let out = env
        .kubectl(&["apply", "-f", svc.to_str().unwrap_or_default()])
        .await;
    assert!(out.contains("created"), "{out}");
    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/gates/services/nopods:80/proxy/",
        ])
        .await;
    assert!(
        out.contains("ServiceUnavailable") || out.contains("no endpoints available"),
        "{out}"
    );
    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/gates/services/missing/proxy/",
        ])
        .await;
    assert!(
        out.contains("NotFound") || out.contains("not found"),
        "{out}"
    );

    // A deployed release answers through its Service.
    let d = env
        .helmdeck(&[
            "deploy",
            "webhttp",
            "--env",
            "test",
            "--set",
            "image.tag=1.0",
        ])
        .await;
    assert_eq!(code(&d), 0, "{}", explain(&d));
    let out = env
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/gates/services/webhttp:http/proxy/healthz",
        ])
        .await;
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["status"], "ok");
    assert_eq!(v["path"], "/healthz");
    assert!(v["pod"]
        .as_str()
        .unwrap_or_default()
        .starts_with("webhttp-"));
}
