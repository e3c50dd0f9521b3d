//! Runs a verification gate: takes the measurements of its checks (a local command, an HTTP
//! request through the API server's service proxy, a Prometheus instant query) when they are
//! due, records each in the run, and leaves the verdict to `domain::gate`. Errors reaching a
//! check are measurements too (inconclusive), never engine errors.

use super::drive::{cancelled, failing, pick_up_requests, Progress};
use super::objects::{self, RevisionObjects};
use super::{now_ms, now_rfc3339, EngineError, Session};
use crate::cluster::records;
use crate::cluster::watch::NamespaceWatch;
use crate::domain::gate::{
    self, bounded, Check, CheckState, Condition, GateRecord, GateStage, Measurement, Outcome,
    Verdict,
};
use crate::domain::manifest::Object;
use crate::domain::mask::Redactor;
use crate::domain::record::ReleaseRecord;
use crate::domain::run::{Event, StrategyKind};
use crate::domain::strategy::{self, Color};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// Output kept from a command (the tail) and detail kept per measurement in the record.
const DETAIL_BYTES: usize = 1024;
/// Output read from a command before the rest is discarded.
const OUTPUT_BYTES: usize = 64 * 1024;

/// A Service a gate probes: the chart's Service name and the one requests go to
/// (`web-canary`, `web-stage`, or `web` itself), with its ports.
#[derive(Debug, Clone)]
struct ProbeTarget {
    chart_name: String,
    name: String,
    ports: Vec<Value>,
}

/// What a gate's checks see of the run.
struct GateContext {
    release: String,
    namespace: String,
    revision: u32,
    kubeconfig: String,
    workdir: std::path::PathBuf,
    targets: Vec<ProbeTarget>,
    /// Label selector of the pods under test (`app=web,helmdeck.io/track=canary`).
    selector: String,
    /// `{{track}}`: `canary`, the new slot's colour, or `stable`.
    track: String,
    prometheus: Option<(String, Option<String>)>,
    redactor: Redactor,
}

fn selector_of(dep: &Object) -> String {
    dep.body
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

async fn context(
    s: &Session,
    rec: &ReleaseRecord,
    cache: &mut HashMap<u32, RevisionObjects>,
    stage: GateStage,
) -> Result<GateContext, EngineError> {
    let objs = objects::load(s, rec, cache, rec.revision).await?;
    let wl = rec.workloads.clone();
    let slot = rec.slot.unwrap_or(Color::Blue);
    let (made, track): (Vec<Object>, String) = match stage {
        GateStage::Canary => {
            let primaries = objects::primary_objects(rec, &objs, rec.revision);
            (
                strategy::canary_objects(&primaries, &rec.release, rec.revision, &wl, &|_| 1),
                "canary".into(),
            )
        }
        GateStage::PrePromotion | GateStage::PostPromotion
            if rec.strategy == StrategyKind::Bluegreen =>
        {
            let live = match stage {
                GateStage::PrePromotion => rec.live_before,
                _ => Some(slot),
            };
            let t = strategy::bluegreen_objects(&objs, &rec.release, rec.revision, &wl, slot, live);
            (t.objects, slot.as_str().to_string())
        }
        _ => (
            objects::primary_objects(rec, &objs, rec.revision),
            "stable".into(),
        ),
    };
    let chart_services: Vec<&Object> = objs.iter().filter(|o| o.kind == "Service").collect();
    let targets: Vec<ProbeTarget> = chart_services
        .iter()
        .filter_map(|c| {
            let want = match stage {
                GateStage::Canary => strategy::suffixed(&c.name, "-canary"),
                GateStage::PrePromotion if rec.strategy == StrategyKind::Bluegreen => {
                    strategy::suffixed(&c.name, "-stage")
                }
                _ => c.name.clone(),
            };
            let o = made
                .iter()
                .find(|o| o.kind == "Service" && o.name == want)?;
            Some(ProbeTarget {
                chart_name: c.name.clone(),
                name: o.name.clone(),
                ports: o
                    .body
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect();
    let selector = made
        .iter()
        .find(|o| {
            o.kind == "Deployment"
                && match stage {
                    GateStage::Canary => o.name.ends_with("-canary"),
                    GateStage::PrePromotion | GateStage::PostPromotion
                        if rec.strategy == StrategyKind::Bluegreen =>
                    {
                        strategy::is_slot_workload(o, slot)
                    }
                    _ => true,
                }
        })
        .map(selector_of)
        .unwrap_or_default();
    let kubeconfig = match &s.env.cluster.kubeconfig {
        Some(p) => s.cfg.resolve_path(p).display().to_string(),
        None => std::env::var("KUBECONFIG").unwrap_or_default(),
    };
    let mut secrets: Vec<String> = Vec::new();
    let prometheus = s.env.prometheus.as_ref().map(|p| {
        let token = p.token_env.as_ref().and_then(|e| std::env::var(e).ok());
        (p.address.clone(), token)
    });
    if let Some((_, Some(t))) = &prometheus {
        secrets.push(t.clone());
    }
    Ok(GateContext {
        release: rec.release.clone(),
        namespace: rec.namespace.clone(),
        revision: rec.revision,
        kubeconfig,
        workdir: s.cfg.dir(),
        targets,
        selector,
        track,
        prometheus,
        redactor: super::secrets::redactor_for(s)
            .await
            .merged(&Redactor::new(secrets)),
    })
}

/// The gate's step and the workloads under test, whose health is watched while it runs.
pub struct GateWatch<'a> {
    pub index: usize,
    pub watch: &'a mut NamespaceWatch,
    pub workloads: &'a [String],
}

/// Runs the gate of the `verify` step at `index` until its verdict; None when cancelled.
/// A gate already under way in the record (a resumed run) continues where it stood. A
/// workload under test that fails (a crash-looping canary) fails the step at once, as a
/// health failure, rather than leaving its checks inconclusive for want of endpoints.
#[allow(clippy::too_many_arguments)]
pub async fn run_gate(
    s: &Session,
    rec: &mut ReleaseRecord,
    cache: &mut HashMap<u32, RevisionObjects>,
    gw: GateWatch<'_>,
    stage: GateStage,
    checks: &[Check],
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &Option<CancellationToken>,
) -> Result<Option<Event>, EngineError> {
    let index = gw.index;
    let open = rec
        .run
        .gates
        .iter()
        .rposition(|g| g.step == index && g.verdict.is_none());
    let gi = match open {
        Some(i) => i,
        None => {
            rec.run
                .gates
                .push(GateRecord::new(index, stage, checks, now_ms()));
            records::put(&s.cluster, rec).await?;
            rec.run.gates.len() - 1
        }
    };
    progress(Progress::GateStarted {
        index,
        stage,
        checks: checks.iter().map(|c| c.name.clone()).collect(),
    });
    let ctx = context(s, rec, cache, stage).await?;
    let mut last_requests = std::time::Instant::now();
    loop {
        if let Some(reason) = failing(gw.watch, gw.workloads) {
            let v = Verdict::Failed {
                check: "workload health".into(),
                detail: reason.clone(),
            };
            let g = &mut rec.run.gates[gi];
            g.ended_ms = Some(now_ms());
            g.verdict = Some(v.clone());
            progress(Progress::GateEnded {
                index,
                stage,
                verdict: v,
            });
            return Ok(Some(Event::StepFailed { reason }));
        }
        let states = rec.run.gates[gi].states(checks);
        if let Some(v) = gate::verdict(&states) {
            let g = &mut rec.run.gates[gi];
            g.verdict = Some(v.clone());
            g.ended_ms = Some(now_ms());
            progress(Progress::GateEnded {
                index,
                stage,
                verdict: v.clone(),
            });
            let reason = v.describe(stage);
            return Ok(Some(match v {
                Verdict::Passed => Event::StepDone,
                Verdict::Failed { .. } => Event::GateFailed { reason },
                Verdict::Inconclusive { .. } => Event::GateInconclusive { reason },
            }));
        }
        let now = now_ms();
        let mut due = Vec::new();
        let mut next = u64::MAX;
        for (c, st) in &states {
            if let CheckState::Due { at_ms } = st {
                if *at_ms <= now {
                    due.push(*c);
                } else {
                    next = next.min(*at_ms);
                }
            }
        }
        if due.is_empty() {
            let wait = next.saturating_sub(now).min(1000);
            tokio::select! {
                _ = cancelled(cancel) => return Ok(None),
                _ = gw.watch.changed(Duration::from_millis(wait)) => {}
            }
            if last_requests.elapsed() > Duration::from_secs(2) {
                if let Some(ev) = pick_up_requests(s, rec).await? {
                    return Ok(Some(ev));
                }
                last_requests = std::time::Instant::now();
            }
            continue;
        }
        let taken = tokio::select! {
            _ = cancelled(cancel) => return Ok(None),
            m = futures::future::join_all(due.iter().map(|c| measure(s, &ctx, c))) => m,
        };
        for (c, mut m) in due.into_iter().zip(taken) {
            m.detail = ctx.redactor.redact(&m.detail).into_owned();
            if let Some(v) = &m.value {
                m.value = Some(ctx.redactor.redact(v).into_owned());
            }
            let name = c.name.clone();
            progress(Progress::GateMeasured {
                index,
                check: name.clone(),
                measurement: m.clone(),
            });
            let g = &mut rec.run.gates[gi];
            match g.checks.iter_mut().find(|r| r.name == name) {
                Some(r) => r.measurements.push(m),
                None => g.checks.push(gate::CheckRecord {
                    name,
                    kind: c.kind(),
                    measurements: vec![m],
                }),
            }
        }
        rec.updated = now_rfc3339();
        records::put(&s.cluster, rec).await?;
    }
}

fn measurement(outcome: Outcome, value: Option<String>, detail: impl Into<String>) -> Measurement {
    Measurement {
        at_ms: now_ms(),
        outcome,
        value,
        detail: bounded(&detail.into(), DETAIL_BYTES),
    }
}

async fn measure(s: &Session, ctx: &GateContext, check: &Check) -> Measurement {
    let at = now_ms();
    let mut m = if let Some(argv) = &check.command {
        command(ctx, argv, check.timeout()).await
    } else if let Some(h) = &check.http {
        http(s, ctx, h, check.timeout()).await
    } else if let Some(p) = &check.prometheus {
        prometheus(ctx, p, check.timeout()).await
    } else {
        measurement(
            Outcome::Inconclusive,
            None,
            "the check has no kind: give one of http, prometheus, command",
        )
    };
    // The measurement's time is when it was started: intervals are between starts.
    m.at_ms = at;
    m
}

/// Reads all of `r`, keeping the first `max` bytes.
async fn read_bounded<R: tokio::io::AsyncRead + Unpin>(r: Option<R>, max: usize) -> Vec<u8> {
    let Some(mut r) = r else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    kept
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

async fn command(ctx: &GateContext, argv: &[String], timeout: Duration) -> Measurement {
    let Some((program, args)) = argv.split_first() else {
        return measurement(Outcome::Inconclusive, None, "the command is empty");
    };
    let program = if program.contains('/') && !program.starts_with('/') {
        ctx.workdir.join(program).display().to_string()
    } else {
        program.clone()
    };
    let stage_service = ctx
        .targets
        .first()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args)
        .current_dir(&ctx.workdir)
        .env("HELMDECK_RELEASE", &ctx.release)
        .env("HELMDECK_NAMESPACE", &ctx.namespace)
        .env("HELMDECK_REVISION", ctx.revision.to_string())
        .env("HELMDECK_KUBECONFIG", &ctx.kubeconfig)
        .env("HELMDECK_STAGE_SERVICE", stage_service)
        .env("HELMDECK_CANARY_SELECTOR", &ctx.selector)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("cannot start `{program}`: {e} — check the path and that it is executable"),
            )
        }
    };
    let out = read_bounded(child.stdout.take(), OUTPUT_BYTES);
    let err = read_bounded(child.stderr.take(), OUTPUT_BYTES);
    let run = async {
        let (out, err, status) = tokio::join!(out, err, child.wait());
        (out, err, status)
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => measurement(
            Outcome::Fail,
            Some("timeout".into()),
            format!(
                "`{program}` did not finish within {} and was killed",
                crate::domain::duration::HumanDuration(timeout)
            ),
        ),
        Ok((_, _, Err(e))) => measurement(
            Outcome::Inconclusive,
            None,
            format!("waiting for `{program}`: {e}"),
        ),
        Ok((out, err, Ok(status))) => {
            let mut text = String::from_utf8_lossy(&out).into_owned();
            let err = String::from_utf8_lossy(&err);
            if !err.trim().is_empty() {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&err);
            }
            let text = tail(text.trim_end(), DETAIL_BYTES);
            let value = match status.code() {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            };
            let outcome = if status.success() {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
            measurement(outcome, Some(value), text)
        }
    }
}

/// The port part of a service-proxy path: the check's port (a number or a name), else the
/// Service's first port (its name when it has one).
fn proxy_port(target: &ProbeTarget, port: Option<&Value>) -> Option<String> {
    match port {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => {
            let p = target.ports.first()?;
            p.get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| p.get("port").map(|v| v.to_string()))
        }
    }
}

async fn http(
    s: &Session,
    ctx: &GateContext,
    h: &gate::HttpCheck,
    timeout: Duration,
) -> Measurement {
    let target = match &h.service {
        Some(name) => ctx.targets.iter().find(|t| &t.chart_name == name),
        None => ctx.targets.first(),
    };
    let Some(target) = target else {
        return measurement(
            Outcome::Inconclusive,
            None,
            match &h.service {
                Some(n) => format!("the chart has no Service `{n}` to probe"),
                None => "the chart has no Service to probe: an http check needs one".into(),
            },
        );
    };
    let Some(port) = proxy_port(target, h.port.as_ref()) else {
        return measurement(
            Outcome::Inconclusive,
            None,
            format!(
                "Service {} has no port: give `port:` in the check",
                target.name
            ),
        );
    };
    let path = if h.path.starts_with('/') {
        h.path.clone()
    } else {
        format!("/{}", h.path)
    };
    let uri = format!(
        "/api/v1/namespaces/{}/services/{}:{}/proxy{}",
        ctx.namespace, target.name, port, path
    );
    let method = h.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let req = match ::http::Request::builder()
        .method(method.as_str())
        .uri(&uri)
        .body(kube::client::Body::from(Vec::new()))
    {
        Ok(r) => r,
        Err(e) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("cannot build the request {method} {path}: {e}"),
            )
        }
    };
    let shown = format!("{method} {}:{port}{path}", target.name);
    let sent = tokio::time::timeout(timeout, async {
        let res = s.cluster.client.send(req).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect_bytes().await?;
        Ok::<_, kube::Error>((status, body))
    })
    .await;
    let (status, body) = match sent {
        Err(_) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!(
                    "{shown}: no answer within {}",
                    crate::domain::duration::HumanDuration(timeout)
                ),
            )
        }
        Ok(Err(e)) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("{shown}: cannot reach the API server: {e}"),
            )
        }
        Ok(Ok(r)) => r,
    };
    let text = String::from_utf8_lossy(&body);
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    // The API server answers for itself (a Status object) when it cannot reach the
    // Service — no endpoints, a refused connection: the check could not be made.
    if let Some(st) = json.as_ref().filter(|j| {
        j.get("kind").and_then(Value::as_str) == Some("Status")
            && j.get("apiVersion").and_then(Value::as_str) == Some("v1")
    }) {
        if status >= 400 {
            let msg = st
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("proxy error");
            return measurement(
                Outcome::Inconclusive,
                Some(status.to_string()),
                format!("{shown}: the API server could not proxy: {msg}"),
            );
        }
    }
    let expect = h.expect.clone().unwrap_or(gate::HttpExpect {
        status: None,
        body: None,
        jsonpath: None,
    });
    let status_ok = match expect.status {
        Some(want) => status == want,
        None => (200..300).contains(&status),
    };
    let value = Some(status.to_string());
    if !status_ok {
        return measurement(
            Outcome::Fail,
            value,
            format!(
                "{shown} answered {status}, expected {}: {}",
                expect
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "2xx".into()),
                bounded(text.trim(), 200)
            ),
        );
    }
    if let Some(want) = &expect.body {
        if !text.contains(want.as_str()) {
            return measurement(
                Outcome::Fail,
                value,
                format!(
                    "{shown}: the body does not contain `{want}`: {}",
                    bounded(text.trim(), 200)
                ),
            );
        }
    }
    if let Some(expr) = &expect.jsonpath {
        let Some(j) = &json else {
            return measurement(
                Outcome::Fail,
                value,
                format!("{shown}: the body is not JSON, `{expr}` cannot hold"),
            );
        };
        match gate::json_condition(j, expr) {
            Ok(true) => {}
            Ok(false) => {
                return measurement(
                    Outcome::Fail,
                    value,
                    format!(
                        "{shown}: `{expr}` does not hold: {}",
                        bounded(text.trim(), 200)
                    ),
                )
            }
            Err(e) => return measurement(Outcome::Inconclusive, value, e),
        }
    }
    measurement(
        Outcome::Pass,
        value,
        format!("{shown} answered {status}: {}", bounded(text.trim(), 200)),
    )
}

async fn prometheus(
    ctx: &GateContext,
    p: &gate::PrometheusCheck,
    timeout: Duration,
) -> Measurement {
    let condition = match Condition::parse(&p.condition) {
        Ok(c) => c,
        Err(e) => return measurement(Outcome::Inconclusive, None, e),
    };
    let env = ctx.prometheus.as_ref();
    let Some(address) = p.address.clone().or_else(|| env.map(|(a, _)| a.clone())) else {
        return measurement(
            Outcome::Inconclusive,
            None,
            "no Prometheus address: set `prometheus: { address: … }` on the environment in helmdeck.yaml",
        );
    };
    let token = match &p.token_env {
        Some(e) => std::env::var(e).ok(),
        None => env.and_then(|(_, t)| t.clone()),
    };
    let query = gate::fill_placeholders(&p.query, &ctx.release, &ctx.namespace, &ctx.track);
    let url = format!(
        "{}/api/v1/query?query={}",
        address.trim_end_matches('/'),
        urlencoding::encode(&query)
    );
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return measurement(Outcome::Inconclusive, None, format!("HTTP client: {e}")),
    };
    let mut req = client.get(&url);
    if let Some(t) = &token {
        req = req.bearer_auth(t);
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("Prometheus at {address} is unreachable: {e}"),
            )
        }
    };
    let status = res.status().as_u16();
    let bytes = match res.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("Prometheus answered {status} but the body broke off: {e}"),
            )
        }
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => {
            return measurement(
                Outcome::Inconclusive,
                None,
                format!("Prometheus answered {status} with no JSON: {e}"),
            )
        }
    };
    if body.get("status").and_then(Value::as_str) != Some("success") {
        let err = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return measurement(
            Outcome::Inconclusive,
            None,
            format!("Prometheus refused the query `{query}`: {err}"),
        );
    }
    let data = &body["data"];
    let sample = match data.get("resultType").and_then(Value::as_str) {
        Some("scalar") => Ok(data["result"][1].clone()),
        Some("vector") => match data["result"].as_array().map(Vec::as_slice) {
            Some([one]) => Ok(one["value"][1].clone()),
            Some([]) | None => Err("the query returned no data".to_string()),
            Some(many) => Err(format!(
                "the query returned {} series; aggregate it to one (sum, max, …)",
                many.len()
            )),
        },
        other => Err(format!(
            "the query returned a {}; use a scalar or a one-sample vector",
            other.unwrap_or("nothing")
        )),
    };
    let sample = match sample {
        Ok(v) => v,
        Err(e) => return measurement(Outcome::Inconclusive, None, format!("`{query}`: {e}")),
    };
    let Some(value) = sample.as_str().and_then(|t| t.parse::<f64>().ok()) else {
        return measurement(
            Outcome::Inconclusive,
            None,
            format!("`{query}`: the sample {sample} is not a number"),
        );
    };
    if value.is_nan() {
        return measurement(
            Outcome::Inconclusive,
            Some("NaN".into()),
            format!("`{query}` is NaN (no traffic?)"),
        );
    }
    let outcome = if condition.holds(value) {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    measurement(
        outcome,
        Some(value.to_string()),
        format!("{} = {value} ({})", query, p.condition),
    )
}
