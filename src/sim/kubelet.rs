//! The scheduler and kubelet of the sim's one node: binds pods, then walks each through
//! Pending → ContainerCreating → Running → Ready on the scenario's schedule, reporting
//! container states, restart counts and conditions as a real kubelet does, and plays the
//! scenario's faults (crash loops with back-off, image pull errors, never-ready, slow
//! starts, OOM kills, HTTP errors). Deleted pods terminate gracefully and disappear.

use crate::sim::clock::{fnv64a, now_rfc3339, SimRng};
use crate::sim::controllers::{Controllers, Work};
use crate::sim::scenario::{PodFault, PodFaultKind};
use crate::sim::NODE_NAME;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longest crash-loop / image-pull back-off (the kubelet's 5 minutes).
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Bound; containers being created.
    Creating,
    /// Faulty containers cannot pull their image (`backoff`: ImagePullBackOff, else ErrImagePull).
    PullError {
        backoff: bool,
    },
    /// Containers run; `ready` once readiness passes.
    Running {
        ready: bool,
    },
    /// Faulty containers exited; `backoff`: waiting in CrashLoopBackOff.
    Crashed {
        backoff: bool,
    },
    Succeeded,
    Failed,
    Terminating,
}

/// What the kubelet remembers of one pod.
#[derive(Debug, Clone)]
pub struct PodRuntime {
    pub fault: Option<PodFault>,
    stage: Stage,
    due: Option<Instant>,
    start_delay: Duration,
    /// Restarts of the faulty containers.
    restarts: i64,
    pulls: u32,
    pod_started: String,
    container_started: String,
    last_exit: Option<(i64, String, String, String)>,
    ip: String,
    seed: u64,
}

pub struct Kubelet {
    rng: SimRng,
    pods: HashMap<String, PodRuntime>,
}

impl Kubelet {
    pub fn new(seed: u64) -> Self {
        Kubelet {
            rng: SimRng::new(seed ^ 0xB0B),
            pods: HashMap::new(),
        }
    }
    pub fn forget(&mut self, uid: &str) {
        self.pods.remove(uid);
    }
    /// The fault the kubelet plays for a pod (for later HTTP serving from pods).
    pub fn fault_of(&self, uid: &str) -> Option<PodFault> {
        self.pods.get(uid).and_then(|r| r.fault)
    }
}

fn backoff(n: i64) -> Duration {
    let secs = 10u64.saturating_mul(1u64 << n.clamp(0, 10));
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

fn has_readiness_probe(pod: &Value) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["readinessProbe"].is_object()))
}

fn readiness_delay(pod: &Value) -> Duration {
    let d = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["readinessProbe"]["initialDelaySeconds"].as_i64())
        .max()
        .unwrap_or(0);
    Duration::from_secs(d.max(0) as u64 + 1)
}

fn restart_policy(pod: &Value) -> &str {
    pod["spec"]["restartPolicy"].as_str().unwrap_or("Always")
}

fn faulty(rt: &PodRuntime, container: &Value, scenario: &crate::sim::Scenario) -> bool {
    if rt.fault.is_none() {
        return false;
    }
    // With an image glob, only the containers whose image matches play the fault.
    let globs: Vec<&String> = scenario
        .faults
        .iter()
        .filter_map(|f| f.selector.as_ref().and_then(|s| s.image.as_ref()))
        .collect();
    let image = container["image"].as_str().unwrap_or_default();
    globs.is_empty()
        || globs
            .iter()
            .any(|g| crate::sim::clock::glob_match(g, image))
        || scenario
            .faults
            .iter()
            .all(|f| f.selector.as_ref().is_none_or(|s| s.image.is_none()))
}

fn container_id(seed: u64, name: &str, restarts: i64) -> String {
    let mut r = SimRng::new(seed ^ fnv64a(name.as_bytes()) ^ restarts as u64);
    format!(
        "containerd://{:016x}{:016x}{:016x}{:016x}",
        r.next_u64(),
        r.next_u64(),
        r.next_u64(),
        r.next_u64()
    )
}

fn image_id(image: &str) -> String {
    let h = fnv64a(image.as_bytes());
    let repo = image.split(':').next().unwrap_or(image);
    format!(
        "{repo}@sha256:{h:016x}{:016x}{h:016x}{:016x}",
        h.rotate_left(17),
        h.rotate_left(31)
    )
}

/// Builds the pod status for the runtime's stage.
fn build_status(pod: &Value, rt: &PodRuntime, scenario: &crate::sim::Scenario) -> Value {
    let old = &pod["status"];
    let now = now_rfc3339();
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let mut statuses = Vec::new();
    let mut all_ready = true;
    let mut all_started = true;
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let bad = faulty(rt, c, scenario);
        let restarts = if bad { rt.restarts } else { 0 };
        let running = json!({"running": {"startedAt": if bad { &rt.container_started } else { &rt.pod_started }}});
        let (state, ready, started) = match rt.stage {
            Stage::Creating => (
                json!({"waiting": {"reason": "ContainerCreating"}}),
                false,
                false,
            ),
            Stage::PullError { backoff } if bad => {
                let (reason, msg) = if backoff {
                    (
                        "ImagePullBackOff",
                        format!("Back-off pulling image \"{image}\""),
                    )
                } else {
                    ("ErrImagePull", format!("failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": not found"))
                };
                (
                    json!({"waiting": {"reason": reason, "message": msg}}),
                    false,
                    false,
                )
            }
            Stage::PullError { .. } => (running.clone(), !has_readiness_probe(pod), true),
            Stage::Running { ready } => {
                let never = bad && rt.fault.is_some_and(|f| f.kind == PodFaultKind::NeverReady);
                (running.clone(), ready && !never, true)
            }
            Stage::Crashed { backoff } if bad => {
                let (code, reason, started_at, finished_at) =
                    rt.last_exit
                        .clone()
                        .unwrap_or((1, "Error".into(), now.clone(), now.clone()));
                if backoff {
                    let msg = format!("back-off {}s restarting failed container={name} pod={pod_name}_{ns}({uid})", backoff_secs(rt.restarts));
                    (
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": msg}}),
                        false,
                        false,
                    )
                } else {
                    (
                        json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started_at, "finishedAt": finished_at, "containerID": container_id(rt.seed, name, restarts)}}),
                        false,
                        false,
                    )
                }
            }
            Stage::Crashed { .. } => (running.clone(), true, true),
            Stage::Succeeded | Stage::Failed => {
                let (code, reason) = if rt.stage == Stage::Succeeded {
                    (0, "Completed".to_string())
                } else {
                    rt.last_exit
                        .clone()
                        .map(|e| (e.0, e.1))
                        .unwrap_or((1, "Error".into()))
                };
                (
                    json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": rt.container_started, "finishedAt": now, "containerID": container_id(rt.seed, name, restarts)}}),
                    false,
                    false,
                )
            }
            Stage::Terminating => (running.clone(), false, true),
        };
        all_ready &= ready;
        all_started &= started;
        let mut s = json!({
            "name": name, "image": image, "imageID": if started || state.get("terminated").is_some() { image_id(image) } else { String::new() },
            "ready": ready, "restartCount": restarts, "started": started, "state": state,
            "lastState": {},
        });
        if started || state.get("terminated").is_some() || restarts > 0 {
            s["containerID"] = json!(container_id(rt.seed, name, restarts));
        }
        if bad {
            if let (Some((code, reason, sa, fa)), true) = (
                &rt.last_exit,
                restarts > 0 || matches!(rt.stage, Stage::Crashed { backoff: true }),
            ) {
                s["lastState"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": sa, "finishedAt": fa, "containerID": container_id(rt.seed, name, restarts.max(1) - 1)}});
            }
        }
        statuses.push(s);
    }
    let terminal = matches!(rt.stage, Stage::Succeeded | Stage::Failed);
    let phase = match rt.stage {
        Stage::Creating => "Pending",
        Stage::PullError { .. } => "Pending",
        Stage::Succeeded => "Succeeded",
        Stage::Failed => "Failed",
        _ => "Running",
    };
    let unready: Vec<String> = statuses
        .iter()
        .filter(|s| s["ready"] != true)
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    let cond = |ty: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let prev = old["conditions"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["type"] == ty));
        let ltt = match prev {
            Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        let mut c =
            json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": ltt});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    };
    let not_ready = |ok: bool| {
        if ok {
            (None, None)
        } else if terminal {
            (Some("PodCompleted".to_string()), None)
        } else {
            (
                Some("ContainersNotReady".to_string()),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        }
    };
    let (r1, m1) = not_ready(all_ready);
    let (r2, m2) = not_ready(all_ready);
    let conditions = json!([
        cond("PodReadyToStartContainers", !terminal, None, None),
        cond("Initialized", true, None, None),
        cond("Ready", all_ready, r1, m1),
        cond("ContainersReady", all_ready, r2, m2),
        cond("PodScheduled", true, None, None),
    ]);
    let _ = all_started;
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
        "startTime": rt.pod_started,
        "containerStatuses": statuses,
        "qosClass": old["qosClass"].as_str().unwrap_or("BestEffort"),
    });
    if !matches!(rt.stage, Stage::Creating) {
        status["podIP"] = json!(rt.ip);
        status["podIPs"] = json!([{"ip": rt.ip}]);
    }
    if let Some(inits) = pod["spec"]["initContainers"].as_array() {
        status["initContainerStatuses"] = Value::Array(
            inits
                .iter()
                .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": image_id(c["image"].as_str().unwrap_or_default()), "ready": true, "restartCount": 0, "started": false,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": rt.pod_started, "finishedAt": rt.pod_started}}}))
                .collect(),
        );
    }
    status
}

fn backoff_secs(restarts: i64) -> u64 {
    backoff(restarts - 1).as_secs()
}

fn write(ctl: &mut Controllers, ns: &str, name: &str, status: Value) {
    let Some(def) = ctl.def("/pods") else { return };
    let ready = status["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    if let Ok(p) = ctl.c.store.update(&def, ns, name, |old| {
        let mut new = old.clone();
        new["status"] = status.clone();
        Ok(new)
    }) {
        let uid = p.uid().to_string();
        if ready {
            ctl.ready_since.entry(uid).or_insert_with(Instant::now);
        } else {
            ctl.ready_since.remove(&uid);
        }
    }
}

/// Advances one pod (called on every change of it and when its timer fires).
pub fn sync(ctl: &mut Controllers, ns: &str, name: &str) {
    let Some(pod) = ctl.c.store.get("/pods", ns, name) else {
        return;
    };
    let Some(def) = ctl.def("/pods") else { return };
    let pv = pod.value();
    let uid = pod.uid().to_string();
    let work = Work::Pod(ns.to_string(), name.to_string());
    let clock = ctl.c.clock;
    let now = Instant::now();

    // Graceful termination: stop containers, then remove the pod.
    if !pv["metadata"]["deletionTimestamp"].is_null() {
        let grace = pv["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0)
            .max(0) as u64;
        let rt = ctl.kubelet.pods.get_mut(&uid);
        match rt {
            Some(rt) if rt.stage == Stage::Terminating => {
                if rt.due.is_some_and(|d| now >= d) {
                    let _ = ctl.c.store.remove(&def, ns, name, Some(&uid));
                }
            }
            _ => {
                let stop = clock.real(Duration::from_secs(grace.min(2)));
                if let Some(rt) = ctl.kubelet.pods.get_mut(&uid) {
                    rt.stage = Stage::Terminating;
                    rt.due = Some(now + stop);
                } else {
                    let _ = ctl.c.store.remove(&def, ns, name, Some(&uid));
                    return;
                }
                for c in pv["spec"]["containers"].as_array().into_iter().flatten() {
                    let msg = format!(
                        "Stopping container {}",
                        c["name"].as_str().unwrap_or_default()
                    );
                    ctl.event(&pv, "Normal", "Killing", &msg, "kubelet");
                }
                if stop.is_zero() {
                    let _ = ctl.c.store.remove(&def, ns, name, Some(&uid));
                } else {
                    ctl.requeue_at(work, now + stop);
                }
            }
        }
        return;
    }

    // The scheduler: bind to the node.
    if pv["spec"]["nodeName"].as_str().is_none_or(|n| n.is_empty()) {
        let now_s = now_rfc3339();
        let _ = ctl.c.store.update(&def, ns, name, |old| {
            let mut new = old.clone();
            new["spec"]["nodeName"] = json!(NODE_NAME);
            new["status"] = json!({"phase": "Pending", "qosClass": old["status"]["qosClass"].as_str().unwrap_or("BestEffort"),
                "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_s}]});
            Ok(new)
        });
        ctl.event(
            &pv,
            "Normal",
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {NODE_NAME}"),
            "default-scheduler",
        );
        return;
    }

    if !ctl.kubelet.pods.contains_key(&uid) {
        let scenario = ctl.c.scenario.clone();
        let fault = scenario.pod_fault(&pv);
        let seed = fnv64a(uid.as_bytes());
        let (min, max) = (scenario.pod_start.min.0, scenario.pod_start.max.0);
        let jitter = ctl.kubelet.rng.next_f64();
        let mut start = min + (max.saturating_sub(min)).mul_f64(jitter);
        if fault.is_some_and(|f| f.kind == PodFaultKind::SlowStart) {
            start += fault.map(|f| f.after).unwrap_or_default();
        }
        let ip = ctl.next_pod_ip();
        let rt = PodRuntime {
            fault,
            stage: Stage::Creating,
            due: None,
            start_delay: start,
            restarts: 0,
            pulls: 0,
            pod_started: now_rfc3339(),
            container_started: String::new(),
            last_exit: None,
            ip,
            seed,
        };
        let status = build_status(&pv, &rt, &scenario);
        let due = now + clock.real(rt.start_delay);
        ctl.kubelet.pods.insert(
            uid.clone(),
            PodRuntime {
                due: Some(due),
                ..rt
            },
        );
        write(ctl, ns, name, status);
        ctl.requeue_at(work, due);
        return;
    }
    let Some(mut rt) = ctl.kubelet.pods.get(&uid).cloned() else {
        return;
    };
    match rt.due {
        Some(d) if now < d => return,
        None => return,
        _ => {}
    }
    rt.due = None;
    let scenario = ctl.c.scenario.clone();
    let kind = rt.fault.map(|f| f.kind);
    let after = rt.fault.map(|f| f.after).unwrap_or_default();
    let containers: Vec<Value> = pv["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut events: Vec<(&str, &str, String)> = Vec::new();
    let mut next: Option<Duration> = None;
    let started_events = |events: &mut Vec<(&str, &str, String)>,
                          only_faulty: bool,
                          rt: &PodRuntime,
                          restart: bool| {
        for c in &containers {
            if only_faulty && !faulty(rt, c, &scenario) {
                continue;
            }
            let n = c["name"].as_str().unwrap_or_default().to_string();
            let image = c["image"].as_str().unwrap_or_default();
            if restart {
                events.push((
                    "Normal",
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                ));
            } else {
                events.push(("Normal", "Pulling", format!("Pulling image \"{image}\"")));
                events.push(("Normal", "Pulled", format!("Successfully pulled image \"{image}\" in 1.2s (1.2s including waiting). Image size: 19314220 bytes.")));
            }
            events.push(("Normal", "Created", format!("Created container: {n}")));
            events.push(("Normal", "Started", format!("Started container {n}")));
        }
    };
    let probe = has_readiness_probe(&pv);
    let job_like = restart_policy(&pv) != "Always";
    // What follows a container start: readiness, a crash, or (for Job pods) completion.
    let after_start = |rt: &mut PodRuntime, next: &mut Option<Duration>| {
        let ready_now = !probe && kind != Some(PodFaultKind::NeverReady);
        rt.stage = Stage::Running { ready: ready_now };
        if !ready_now {
            *next = Some(readiness_delay(&pv));
        } else if matches!(kind, Some(PodFaultKind::Crashloop | PodFaultKind::Oom)) {
            *next = Some(after);
        } else if job_like {
            *next = Some(if after.is_zero() {
                Duration::from_secs(2)
            } else {
                after
            });
        }
    };
    match rt.stage {
        Stage::Creating => {
            if kind == Some(PodFaultKind::ImagePull) {
                rt.stage = Stage::PullError { backoff: false };
                rt.pulls += 1;
                for c in containers.iter().filter(|c| faulty(&rt, c, &scenario)) {
                    let image = c["image"].as_str().unwrap_or_default();
                    events.push(("Normal", "Pulling", format!("Pulling image \"{image}\"")));
                    events.push(("Warning", "Failed", format!("Failed to pull image \"{image}\": failed to resolve reference \"{image}\": not found")));
                    events.push(("Warning", "Failed", "Error: ErrImagePull".to_string()));
                }
                next = Some(Duration::from_secs(1));
            } else {
                rt.container_started = now_rfc3339();
                started_events(&mut events, false, &rt, false);
                after_start(&mut rt, &mut next);
            }
        }
        Stage::PullError { backoff: false } => {
            rt.stage = Stage::PullError { backoff: true };
            for c in containers.iter().filter(|c| faulty(&rt, c, &scenario)) {
                events.push((
                    "Normal",
                    "BackOff",
                    format!(
                        "Back-off pulling image \"{}\"",
                        c["image"].as_str().unwrap_or_default()
                    ),
                ));
            }
            events.push(("Warning", "Failed", "Error: ImagePullBackOff".to_string()));
            next = Some(backoff(rt.pulls as i64 - 1));
        }
        Stage::PullError { backoff: true } => {
            rt.stage = Stage::PullError { backoff: false };
            rt.pulls += 1;
            events.push(("Warning", "Failed", "Error: ErrImagePull".to_string()));
            next = Some(Duration::from_secs(1));
        }
        Stage::Running { ready: false } => {
            if kind == Some(PodFaultKind::NeverReady) {
                // The kubelet aggregates repeated probe failures into one event; record it once.
                events.push((
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503".to_string(),
                ));
            } else {
                rt.stage = Stage::Running { ready: true };
                if matches!(kind, Some(PodFaultKind::Crashloop | PodFaultKind::Oom)) {
                    next = Some(after.saturating_sub(readiness_delay(&pv)));
                } else if job_like {
                    next = Some(Duration::from_secs(2));
                }
            }
        }
        Stage::Running { ready: true } => {
            if job_like && !matches!(kind, Some(PodFaultKind::Crashloop | PodFaultKind::Oom)) {
                rt.stage = Stage::Succeeded;
            } else if matches!(kind, Some(PodFaultKind::Crashloop | PodFaultKind::Oom)) {
                let (code, reason) = if kind == Some(PodFaultKind::Oom) {
                    (137, "OOMKilled")
                } else {
                    (1, "Error")
                };
                rt.last_exit = Some((
                    code,
                    reason.to_string(),
                    rt.container_started.clone(),
                    now_rfc3339(),
                ));
                if job_like && restart_policy(&pv) == "Never" {
                    rt.stage = Stage::Failed;
                } else if rt.restarts == 0 {
                    rt.stage = Stage::Crashed { backoff: false };
                    next = Some(Duration::from_secs(1));
                } else {
                    rt.stage = Stage::Crashed { backoff: true };
                    for c in containers.iter().filter(|c| faulty(&rt, c, &scenario)) {
                        events.push((
                            "Warning",
                            "BackOff",
                            format!(
                                "Back-off restarting failed container {} in pod {name}_{ns}({uid})",
                                c["name"].as_str().unwrap_or_default()
                            ),
                        ));
                    }
                    next = Some(backoff(rt.restarts - 1));
                }
            }
        }
        Stage::Crashed { .. } => {
            rt.restarts += 1;
            rt.container_started = now_rfc3339();
            started_events(&mut events, true, &rt, true);
            after_start(&mut rt, &mut next);
        }
        Stage::Succeeded | Stage::Failed | Stage::Terminating => {}
    }
    if let Some(n) = next {
        let due = now + clock.real(n);
        rt.due = Some(due);
        ctl.requeue_at(work, due);
    }
    let status = build_status(&pv, &rt, &scenario);
    ctl.kubelet.pods.insert(uid, rt);
    write(ctl, ns, name, status);
    for (ty, reason, msg) in events {
        ctl.event(&pv, ty, reason, &msg, "kubelet");
    }
}
