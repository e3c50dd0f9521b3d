//! Pod logs (`pods/<name>/log`): deterministic lines derived from the pod's state — a start
//! banner, periodic request lines while running, readiness messages, and the failure that
//! a crash-looping or OOM-killed container "printed" — with `follow`, `tailLines`,
//! `container`, `previous` and `timestamps`.

use crate::sim::api::{bytes_response, RequestCtx};
use crate::sim::clock::{fnv64a, parse_rfc3339, rfc3339, SimRng};
use crate::sim::errors::ApiError;
use crate::sim::scenario::{PodFault, PodFaultKind};
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Simulated seconds between two request lines of a running container.
const LINE_EVERY_SECS: u64 = 5;

/// One log line: simulated time (seconds since the epoch) and text.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: i64,
    pub text: String,
}

/// The lines one container instance printed up to now. `instance` picks the current
/// (running or last terminated) one or the previous one (`previous=true`).
pub fn container_lines(
    pod: &Value,
    container: &str,
    previous: bool,
    fault: Option<PodFault>,
    speed: f64,
) -> Result<Vec<LogLine>, ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == container))
        .cloned()
        .unwrap_or(Value::Null);
    let spec = pod["spec"]["containers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == container))
        .cloned()
        .unwrap_or(Value::Null);
    let image = spec["image"].as_str().unwrap_or_default();
    let state = &status["state"];
    let last = &status["lastState"]["terminated"];
    // Which instance, and how it ended.
    let (started, ended, exit): (Option<i64>, Option<i64>, Option<(i64, String)>) = if previous {
        if !last.is_object() {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            )));
        }
        (
            last["startedAt"].as_str().and_then(parse_rfc3339),
            last["finishedAt"].as_str().and_then(parse_rfc3339),
            Some((
                last["exitCode"].as_i64().unwrap_or(1),
                last["reason"].as_str().unwrap_or("Error").to_string(),
            )),
        )
    } else if state["running"].is_object() {
        (
            state["running"]["startedAt"]
                .as_str()
                .and_then(parse_rfc3339),
            None,
            None,
        )
    } else if state["terminated"].is_object() {
        let t = &state["terminated"];
        (
            t["startedAt"].as_str().and_then(parse_rfc3339),
            t["finishedAt"].as_str().and_then(parse_rfc3339),
            Some((
                t["exitCode"].as_i64().unwrap_or(1),
                t["reason"].as_str().unwrap_or("Error").to_string(),
            )),
        )
    } else if last.is_object() {
        (
            last["startedAt"].as_str().and_then(parse_rfc3339),
            last["finishedAt"].as_str().and_then(parse_rfc3339),
            Some((
                last["exitCode"].as_i64().unwrap_or(1),
                last["reason"].as_str().unwrap_or("Error").to_string(),
            )),
        )
    } else {
        let why = state["waiting"]["reason"]
            .as_str()
            .unwrap_or("ContainerCreating");
        let why = if why.contains("ImagePull") {
            "trying and failing to pull image"
        } else {
            why
        };
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {why}"
        )));
    };
    let Some(started) = started else {
        return Ok(vec![]);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // Lines are spaced in simulated time but stamped from the (wall-clock) start.
    let end_real = ended.map(|e| e as f64).unwrap_or(now);
    let sim_span = ((end_real - started as f64).max(0.0) * speed) as u64;
    let restart = status["restartCount"].as_i64().unwrap_or(0) - i64::from(previous);
    let mut rng = SimRng::new(fnv64a(
        format!("{pod_name}/{container}/{restart}").as_bytes(),
    ));
    let port = spec["ports"][0]["containerPort"].as_i64().unwrap_or(8080);
    let stamp = |sim_offset: u64| started + (sim_offset as f64 / speed) as i64;
    let mut out = vec![
        LogLine {
            at: stamp(0),
            text: format!(
                "INFO starting {container} (image {image}), attempt {}",
                restart + 1
            ),
        },
        LogLine {
            at: stamp(0),
            text: format!("INFO listening on :{port}"),
        },
    ];
    let kind = fault.map(|f| f.kind);
    match kind {
        Some(PodFaultKind::NeverReady) => out.push(LogLine {
            at: stamp(1),
            text: "WARN dependency check failed: upstream not reachable; readiness stays false"
                .into(),
        }),
        _ => out.push(LogLine {
            at: stamp(1),
            text: "INFO ready to serve requests".into(),
        }),
    }
    let rate = fault
        .filter(|f| f.kind == PodFaultKind::HttpErrors)
        .map(|f| f.rate)
        .unwrap_or(0.0);
    let mut t = LINE_EVERY_SECS;
    while t <= sim_span {
        let (code, path) = if rng.next_f64() < rate {
            (500, "/")
        } else {
            (200, if t.is_multiple_of(3) { "/healthz" } else { "/" })
        };
        let ms = 1 + rng.next_u64() % 40;
        out.push(LogLine {
            at: stamp(t),
            text: format!("INFO GET {path} {code} {ms}ms"),
        });
        t += LINE_EVERY_SECS;
    }
    if let Some((code, reason)) = exit {
        let at = ended.unwrap_or(stamp(sim_span));
        match reason.as_str() {
            "OOMKilled" => {
                out.push(LogLine {
                    at,
                    text: "WARN heap usage above limit, allocating cache".into(),
                });
                out.push(LogLine {
                    at,
                    text: "fatal error: runtime: out of memory".into(),
                });
            }
            "Completed" => out.push(LogLine {
                at,
                text: "INFO work done, exiting".into(),
            }),
            _ => {
                out.push(LogLine { at, text: "ERROR unrecoverable error: simulated crash (the scenario's crashloop fault)".into() });
                out.push(LogLine {
                    at,
                    text: format!("FATAL exiting with code {code}"),
                });
            }
        }
    }
    Ok(out)
}

fn format_line(l: &LogLine, timestamps: bool) -> String {
    if timestamps {
        let t = UNIX_EPOCH + Duration::from_secs(l.at.max(0) as u64);
        format!("{} {}\n", rfc3339(t).replace('Z', ".000000000Z"), l.text)
    } else {
        format!("{}\n", l.text)
    }
}

/// Identifies one container instance (restart count and start time).
fn container_start(p: &Value, container: &str) -> Option<(Value, Value)> {
    p["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == container))
        .map(|c| {
            (
                c["restartCount"].clone(),
                c["state"]["running"]["startedAt"].clone(),
            )
        })
}

/// Serves `GET pods/<name>/log`.
pub async fn serve(ctx: &RequestCtx) -> Result<Response, ApiError> {
    let ns = ctx.target.ns().to_string();
    let name = ctx.target.name.clone().unwrap_or_default();
    let store = ctx.cluster.store.clone();
    let key = ctx.target.def.storage_key();
    let pod = store
        .get(&key, &ns, &name)
        .ok_or_else(|| ApiError::not_found(&ctx.target.subject(&name)))?;
    let names: Vec<String> = pod.value()["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match ctx.query.get("container").filter(|c| !c.is_empty()) {
        Some(c) if names.contains(c) => c.clone(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )))
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )))
        }
    };
    let q = |k: &str| ctx.query.get(k).map(String::as_str);
    let follow = matches!(q("follow"), Some("true" | "1"));
    let previous = matches!(q("previous"), Some("true" | "1"));
    let timestamps = matches!(q("timestamps"), Some("true" | "1"));
    let tail = q("tailLines").and_then(|t| t.parse::<usize>().ok());
    let speed = ctx.cluster.clock.speed();
    let scenario = ctx.cluster.scenario.clone();
    let fault = scenario.pod_fault(&pod.value());
    let lines = container_lines(&pod.value(), &container, previous, fault, speed)?;
    let since = q("sinceSeconds")
        .and_then(|t| t.parse::<i64>().ok())
        .map(|s| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            now.saturating_sub(s)
        });
    let limit = q("limitBytes").and_then(|t| t.parse::<usize>().ok());
    let recent: Vec<&LogLine> = lines
        .iter()
        .filter(|l| since.is_none_or(|t| l.at >= t))
        .collect();
    let skip = tail.map(|t| recent.len().saturating_sub(t)).unwrap_or(0);
    let mut first: String = recent[skip..]
        .iter()
        .map(|l| format_line(l, timestamps))
        .collect();
    if let Some(limit) = limit {
        // limitBytes cuts the output; a follow stream then ends, as the kubelet's does.
        let mut cut = limit.min(first.len());
        while !first.is_char_boundary(cut) {
            cut -= 1;
        }
        first.truncate(cut);
        return Ok(bytes_response(200, Bytes::from(first), "text/plain"));
    }
    if !follow || previous {
        return Ok(bytes_response(200, Bytes::from(first), "text/plain"));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(Bytes::from(first));
    let mut shutdown = ctx.cluster.shutdown.clone();
    let start_id = container_start(&pod.value(), &container);
    tokio::spawn(async move {
        let mut sent = lines.len();
        let poll = Duration::from_secs_f64((LINE_EVERY_SECS as f64 / speed).clamp(0.05, 1.0));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
            let Some(p) = store.get(&key, &ns, &name) else {
                return;
            };
            let Ok(now) = container_lines(&p.value(), &container, false, fault, speed) else {
                return;
            };
            // A new container instance (restart) ends the stream, as the kubelet's does.
            if container_start(&p.value(), &container) != start_id {
                let rest: String = now
                    .iter()
                    .skip(sent)
                    .filter(|l| {
                        l.text.starts_with("ERROR")
                            || l.text.starts_with("FATAL")
                            || l.text.starts_with("fatal")
                    })
                    .map(|l| format_line(l, timestamps))
                    .collect();
                let _ = tx.send(Bytes::from(rest)).await;
                return;
            }
            if now.len() > sent {
                let chunk: String = now[sent..]
                    .iter()
                    .map(|l| format_line(l, timestamps))
                    .collect();
                sent = now.len();
                if tx.send(Bytes::from(chunk)).await.is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crashed_container_logs_its_failure() {
        let pod = json!({"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "web", "image": "web:1-crash"}]},
            "status": {"containerStatuses": [{"name": "web", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2024-05-01T12:00:00Z", "finishedAt": "2024-05-01T12:00:03Z"}}}]}});
        let lines = container_lines(&pod, "web", false, None, 10.0).unwrap();
        assert!(lines.last().unwrap().text.contains("exiting with code 1"));
        assert_eq!(
            lines,
            container_lines(&pod, "web", false, None, 10.0).unwrap(),
            "deterministic"
        );
        let waiting = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web"}]}, "status": {"containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(
            container_lines(&waiting, "web", false, None, 1.0)
                .unwrap_err()
                .code,
            400
        );
    }
}
