//! Rollout health, judged like kstatus and `kubectl rollout status`: a Deployment is
//! current, in progress, or failed; pods of the new revision fail a rollout fast when they
//! crash-loop, cannot pull their image, cannot start, are OOM-killed or restart too often.
//! Pure: objects come in as JSON values, verdicts go out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Restarts of one container that fail a rollout even without a waiting reason.
pub const DEFAULT_RESTART_THRESHOLD: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Health {
    /// The workload runs the desired spec with every replica available.
    Current,
    /// Still rolling; the reason says what it waits for.
    InProgress { reason: String },
    /// It will not get better by waiting.
    Failed { reason: String, pod: Option<String> },
}

impl Health {
    pub fn is_current(&self) -> bool {
        matches!(self, Health::Current)
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Health::Failed { .. })
    }

    pub fn summary(&self) -> String {
        match self {
            Health::Current => "healthy".into(),
            Health::InProgress { reason } => reason.clone(),
            Health::Failed {
                reason,
                pod: Some(p),
            } => format!("{reason} (pod {p})"),
            Health::Failed { reason, pod: None } => reason.clone(),
        }
    }
}

fn int(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64)
}

/// The rollout status of a Deployment (kstatus rules).
pub fn deployment(dep: &Value) -> Health {
    let generation = int(dep, "/metadata/generation").unwrap_or(0);
    let observed = int(dep, "/status/observedGeneration").unwrap_or(-1);
    if observed < generation {
        return Health::InProgress {
            reason: "waiting for the Deployment controller to see the new spec".into(),
        };
    }
    if let Some(conds) = dep.pointer("/status/conditions").and_then(Value::as_array) {
        for c in conds {
            if c.get("type").and_then(Value::as_str) == Some("Progressing")
                && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
            {
                return Health::Failed {
                    reason: format!(
                        "progress deadline exceeded: {}",
                        c.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("no progress")
                    ),
                    pod: None,
                };
            }
        }
    }
    let desired = int(dep, "/spec/replicas").unwrap_or(1);
    let replicas = int(dep, "/status/replicas").unwrap_or(0);
    let updated = int(dep, "/status/updatedReplicas").unwrap_or(0);
    let available = int(dep, "/status/availableReplicas").unwrap_or(0);
    if updated < desired {
        return Health::InProgress {
            reason: format!("{updated} of {desired} replicas updated"),
        };
    }
    if replicas > updated {
        return Health::InProgress {
            reason: format!("{} old replicas pending termination", replicas - updated),
        };
    }
    if available < updated {
        return Health::InProgress {
            reason: format!("{available} of {updated} updated replicas available"),
        };
    }
    Health::Current
}

/// Why a pod fails the rollout, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodFailure {
    pub pod: String,
    pub container: String,
    pub reason: String,
    pub message: String,
}

const FATAL_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

/// The fast-fail signal of one pod: a fatal waiting reason, an OOM kill, or restarts past
/// `restart_threshold`.
pub fn pod_failure(pod: &Value, restart_threshold: u32) -> Option<PodFailure> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"];
    for list in statuses {
        let Some(cs) = pod.pointer(list).and_then(Value::as_array) else {
            continue;
        };
        for c in cs {
            let container = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let fail = |reason: &str, message: &str| PodFailure {
                pod: name.clone(),
                container: container.clone(),
                reason: reason.to_string(),
                message: message.to_string(),
            };
            if let Some(w) = c.pointer("/state/waiting") {
                let reason = w.get("reason").and_then(Value::as_str).unwrap_or("");
                if FATAL_WAITING.contains(&reason) {
                    return Some(fail(
                        reason,
                        w.get("message").and_then(Value::as_str).unwrap_or(""),
                    ));
                }
            }
            for state in ["/state/terminated", "/lastState/terminated"] {
                if c.pointer(state)
                    .and_then(|t| t.get("reason"))
                    .and_then(Value::as_str)
                    == Some("OOMKilled")
                {
                    return Some(fail("OOMKilled", "the container ran out of memory"));
                }
            }
            let restarts = c.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
            if restarts > u64::from(restart_threshold) {
                return Some(fail(
                    "RestartLimit",
                    &format!("restarted {restarts} times (limit {restart_threshold})"),
                ));
            }
        }
    }
    None
}

/// A workload's health: the Deployment's status, failed fast by any pod of its new
/// revision.
pub fn workload(dep: &Value, new_pods: &[&Value], restart_threshold: u32) -> Health {
    for p in new_pods {
        if let Some(f) = pod_failure(p, restart_threshold) {
            return Health::Failed {
                reason: format!("{} in container {}", f.reason, f.container),
                pod: Some(f.pod),
            };
        }
    }
    deployment(dep)
}

/// Whether a pod is Ready (its Ready condition is True).
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(
        gen: i64,
        observed: i64,
        spec: i64,
        replicas: i64,
        updated: i64,
        available: i64,
    ) -> Value {
        json!({
            "metadata": {"name": "web", "generation": gen},
            "spec": {"replicas": spec},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated, "availableReplicas": available},
        })
    }

    #[test]
    fn deployment_rules_follow_kstatus() {
        let cases = [
            (dep(2, 1, 3, 3, 3, 3), "controller"),
            (dep(2, 2, 3, 3, 1, 3), "1 of 3 replicas updated"),
            (dep(2, 2, 3, 4, 3, 3), "1 old replicas pending termination"),
            (dep(2, 2, 3, 3, 3, 2), "2 of 3 updated replicas available"),
        ];
        for (d, want) in cases {
            match deployment(&d) {
                Health::InProgress { reason } => {
                    assert!(reason.contains(want), "{reason} vs {want}")
                }
                other => panic!("{other:?} for {want}"),
            }
        }
        assert_eq!(deployment(&dep(2, 2, 3, 3, 3, 3)), Health::Current);
    }

    #[test]
    fn replicas_default_to_one_and_zero_is_current_when_scaled_down() {
        let mut d = dep(1, 1, 0, 0, 0, 0);
        assert_eq!(deployment(&d), Health::Current);
        d["spec"] = json!({});
        assert!(matches!(deployment(&d), Health::InProgress { .. }));
    }

    #[test]
    fn progress_deadline_exceeded_fails() {
        let mut d = dep(1, 1, 2, 2, 2, 0);
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-abc\" has timed out progressing."}]);
        assert!(deployment(&d).is_failed());
    }

    fn pod(waiting: Option<&str>, restarts: u64, last: Option<&str>) -> Value {
        let mut c = json!({"name": "app", "restartCount": restarts, "state": {"running": {}}});
        if let Some(w) = waiting {
            c["state"] = json!({"waiting": {"reason": w, "message": "back-off"}});
        }
        if let Some(l) = last {
            c["lastState"] = json!({"terminated": {"reason": l, "exitCode": 137}});
        }
        json!({"metadata": {"name": "web-abc-x1"}, "status": {"containerStatuses": [c]}})
    }

    #[test]
    fn pod_signals_fail_fast_and_name_the_pod() {
        for reason in [
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
            "CreateContainerConfigError",
        ] {
            let f = pod_failure(&pod(Some(reason), 0, None), 3).expect(reason);
            assert_eq!((f.pod.as_str(), f.reason.as_str()), ("web-abc-x1", reason));
        }
        assert_eq!(
            pod_failure(&pod(None, 1, Some("OOMKilled")), 3).map(|f| f.reason),
            Some("OOMKilled".into())
        );
        assert_eq!(
            pod_failure(&pod(None, 4, None), 3).map(|f| f.reason),
            Some("RestartLimit".into())
        );
        assert_eq!(pod_failure(&pod(None, 3, None), 3), None);
        assert_eq!(
            pod_failure(&pod(Some("ContainerCreating"), 0, None), 3),
            None
        );
    }

    #[test]
    fn a_failing_new_pod_beats_a_progressing_deployment() {
        let d = dep(2, 2, 3, 3, 1, 2);
        let p = pod(Some("CrashLoopBackOff"), 2, None);
        match workload(&d, &[&p], 3) {
            Health::Failed { reason, pod } => {
                assert!(reason.starts_with("CrashLoopBackOff"));
                assert_eq!(pod.as_deref(), Some("web-abc-x1"));
            }
            other => panic!("{other:?}"),
        }
    }
}
