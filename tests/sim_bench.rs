//! Benchmarks of the simulated cluster (ignored by default; figures are printed, not
//! asserted). Run: `cargo test --release --test sim_bench -- --ignored --nocapture`.
//! Targets from issue #3: with 10k pods in 1k Deployments, listing all pods ≤ 50 ms,
//! watch fan-out to 20 watchers ≥ 20k events/s, RSS ≤ 200 MB; a 100-replica Deployment
//! rolled at speed 100 finishes in ≤ 2 s.

use helmdeck::sim::{start, Scenario, SimOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

async fn client_for(kubeconfig: &str) -> Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

/// GET over a raw connection; returns (status line, body bytes read).
async fn raw_get(port: u16, path: &str) -> (String, usize) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let status = String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == b'\r').unwrap_or(0)])
        .into_owned();
    (status, buf.len())
}

fn deployment(name: &str, image: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]}}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_10k_pods_in_1k_deployments() {
    let rss0 = rss_mb();
    let scenario =
        Scenario::from_yaml("speed: 1000\npod_start: { min: 1s, max: 3s }\n").expect("scenario");
    let sim = start(SimOptions {
        scenario: Some(scenario),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let port: u16 = sim
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let client = client_for(&sim.kubeconfig_yaml()).await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "bench"}})).expect("ns"),
    )
    .await
    .expect("ns");
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "bench");
    let t = Instant::now();
    let pp = PatchParams::apply("bench");
    let mut tasks = Vec::new();
    for chunk in 0..8 {
        let deploys = deploys.clone();
        let pp = pp.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk..1000).step_by(8) {
                let name = format!("svc-{i:04}");
                deploys
                    .patch(&name, &pp, &Patch::Apply(deployment(&name, "app:1", 10)))
                    .await
                    .expect("apply");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let applied = t.elapsed();
    // Wait for 10k ready pods.
    let store = sim.cluster().store.clone();
    let mut ready = 0;
    for _ in 0..1200 {
        let (pods, _) = store.list("/pods", Some("bench"));
        ready = pods
            .iter()
            .filter(|p| p.value()["status"]["containerStatuses"][0]["ready"] == true)
            .count();
        if ready >= 10_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settled = t.elapsed();
    println!(
        "1k Deployments applied in {:.2}s; {ready} pods ready after {:.2}s",
        applied.as_secs_f64(),
        settled.as_secs_f64()
    );
    assert!(ready >= 10_000, "pods did not come up");
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("RSS: {:.0} MB (process, {:.0} MB at start)", rss_mb(), rss0);

    // List all pods (server time + transfer, raw HTTP), best of 5.
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let (status, n) = raw_get(port, "/api/v1/pods").await;
        assert!(status.contains("200"), "{status}");
        best = best.min(t.elapsed());
        bytes = n;
    }
    println!(
        "list all pods: {:.1} ms for {:.1} MB (best of 5)",
        best.as_secs_f64() * 1000.0,
        bytes as f64 / 1e6
    );
    let t = Instant::now();
    let pods_api: Api<k8s_openapi::api::core::v1::Pod> = Api::all(client.clone());
    let n = pods_api
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .len();
    println!(
        "list all pods via kube-rs (incl. client decoding): {:.1} ms, {n} pods",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // Watch fan-out: 20 raw watchers from the current resourceVersion; 10k pod updates.
    let rv = store.current_rv();
    let updates = 10_000usize;
    let mut watchers = Vec::new();
    for _ in 0..20 {
        let path = format!("/api/v1/namespaces/bench/pods?watch=true&resourceVersion={rv}");
        watchers.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .expect("write");
            let needle = b"{\"type\":\"MODIFIED\"";
            let mut buf = vec![0u8; 1 << 16];
            let mut carry: Vec<u8> = Vec::new();
            let mut seen = 0usize;
            while seen < updates {
                let n = match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await
                {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => break,
                };
                carry.extend_from_slice(&buf[..n]);
                seen += carry.windows(needle.len()).filter(|w| *w == needle).count();
                let keep = carry.len().saturating_sub(needle.len() - 1);
                carry.drain(..keep);
            }
            (seen, Instant::now())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let def = store.kinds().preferred("/pods").expect("pods");
    let (pods, _) = store.list("/pods", Some("bench"));
    let t = Instant::now();
    let st = store.clone();
    tokio::task::spawn_blocking(move || {
        for (i, p) in pods.iter().cycle().take(updates).enumerate() {
            let _ = st.update(&def, "bench", p.name(), |old| {
                let mut new = old.clone();
                new["metadata"]["annotations"] = json!({"bench": i.to_string()});
                Ok(new)
            });
        }
    })
    .await
    .expect("updates");
    let produced = t.elapsed();
    let mut total = 0;
    let mut last = t;
    for w in watchers {
        let (seen, at) = w.await.expect("watcher");
        total += seen;
        last = last.max(at);
    }
    let elapsed = last.duration_since(t);
    println!(
        "watch fan-out: {updates} updates written in {:.2}s; {total} events delivered to 20 watchers in {:.2}s = {:.0} events/s",
        produced.as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!("RSS after fan-out: {:.0} MB", rss_mb());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_roll_100_replicas_at_speed_100() {
    let scenario = Scenario::from_yaml("speed: 100\n").expect("scenario");
    let sim = start(SimOptions {
        scenario: Some(scenario),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let client = client_for(&sim.kubeconfig_yaml()).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let pp = PatchParams::apply("bench");
    let complete = |d: &Deployment, generation: i64| {
        let st = d.status.clone().unwrap_or_default();
        d.metadata.generation == Some(generation)
            && st.observed_generation == Some(generation)
            && st.updated_replicas == Some(100)
            && st.replicas == Some(100)
            && st.available_replicas == Some(100)
    };
    deploys
        .patch("big", &pp, &Patch::Apply(deployment("big", "app:1", 100)))
        .await
        .expect("apply");
    let t = Instant::now();
    loop {
        if complete(&deploys.get("big").await.expect("get"), 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "100 replicas up at speed 100 in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    deploys
        .patch("big", &pp, &Patch::Apply(deployment("big", "app:2", 100)))
        .await
        .expect("roll");
    loop {
        if complete(&deploys.get("big").await.expect("get"), 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "100-replica rolling update (25%/25%) at speed 100 finished in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    sim.shutdown().await;
}
