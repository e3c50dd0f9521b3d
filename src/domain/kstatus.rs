//! Health of every kind a chart ships, judged like kstatus (sigs.k8s.io/cli-utils): the
//! generic rules (deletion, observedGeneration, `Reconciling` / `Stalled` / `Ready` /
//! `Available` conditions), then per kind — Deployment (see `health`), StatefulSet
//! (partitions, OnDelete), DaemonSet, Job, Pod, PersistentVolumeClaim,
//! CustomResourceDefinition. Objects with no status to judge are current once applied.
//! Pure: objects come in as JSON values, verdicts go out.

use crate::domain::health::{self, Health};
use serde_json::Value;
use std::collections::BTreeMap;

fn int(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64)
}

fn text<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn progress(reason: impl Into<String>) -> Health {
    Health::InProgress {
        reason: reason.into(),
    }
}

fn failed(reason: impl Into<String>) -> Health {
    Health::Failed {
        reason: reason.into(),
        pod: None,
    }
}

/// A condition's (status, reason, message), if the object has it.
fn condition<'a>(obj: &'a Value, ty: &str) -> Option<(&'a str, &'a str, &'a str)> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            (s("status"), s("reason"), s("message"))
        })
}

/// Whether a kind's health is worth waiting for: workloads, claims, CRDs and anything
/// that reports conditions. Config, Services, RBAC and the like are done once applied.
pub fn is_judged(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet")
            | ("batch", "Job")
            | ("", "Pod" | "PersistentVolumeClaim")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    ) || !is_builtin_group(group)
}

/// Groups Kubernetes itself serves; anything else comes from a CRD (custom resources are
/// judged by their conditions).
fn is_builtin_group(group: &str) -> bool {
    group.is_empty()
        || !group.contains('.')
        || group.ends_with(".k8s.io")
        || group == "apiextensions.k8s.io"
}

/// The generic rules kstatus applies to every object before its kind's own.
fn generic(obj: &Value) -> Option<Health> {
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Some(progress("being deleted"));
    }
    if let (Some(generation), Some(observed)) = (
        int(obj, "/metadata/generation"),
        int(obj, "/status/observedGeneration"),
    ) {
        if observed < generation {
            return Some(progress("waiting for the controller to see the new spec"));
        }
    }
    if let Some(("True", reason, message)) = condition(obj, "Stalled") {
        return Some(failed(format!("stalled: {}", first_of(message, reason))));
    }
    if let Some(("True", reason, message)) = condition(obj, "Reconciling") {
        return Some(progress(format!(
            "reconciling: {}",
            first_of(message, reason)
        )));
    }
    None
}

fn first_of<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

/// The health of one object of kind `kind` (group from its apiVersion).
pub fn object(group: &str, kind: &str, obj: &Value) -> Health {
    if let Some(h) = generic(obj) {
        return h;
    }
    match (group, kind) {
        ("apps", "Deployment") => health::deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => daemonset(obj),
        ("batch", "Job") => job(obj),
        ("", "Pod") => pod(obj),
        ("", "PersistentVolumeClaim") => pvc(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        _ => by_conditions(obj),
    }
}

/// kstatus' StatefulSet rules: replicas scheduled and ready; with a partition, the pods
/// at or above it updated; otherwise every pod current and the revisions equal. OnDelete
/// StatefulSets are the user's to roll.
pub fn statefulset(sts: &Value) -> Health {
    if text(sts, "/spec/updateStrategy/type") == Some("OnDelete") {
        return Health::Current;
    }
    let spec = int(sts, "/spec/replicas").unwrap_or(1);
    let n = |f: &str| int(sts, &format!("/status/{f}")).unwrap_or(0);
    let (replicas, ready, current, updated) = (
        n("replicas"),
        n("readyReplicas"),
        n("currentReplicas"),
        n("updatedReplicas"),
    );
    if spec > replicas {
        return progress(format!("{replicas} of {spec} replicas created"));
    }
    if spec > ready {
        return progress(format!("{ready} of {spec} replicas ready"));
    }
    if replicas > spec {
        return progress(format!("{} replicas pending termination", replicas - spec));
    }
    if let Some(partition) = int(sts, "/spec/updateStrategy/rollingUpdate/partition") {
        let want = (spec - partition).max(0);
        if updated < want {
            return progress(format!(
                "{updated} of {want} replicas updated (partition {partition})"
            ));
        }
        return Health::Current;
    }
    if spec > current {
        return progress(format!("{current} of {spec} replicas current"));
    }
    let (cur, upd) = (
        text(sts, "/status/currentRevision").unwrap_or(""),
        text(sts, "/status/updateRevision").unwrap_or(""),
    );
    if cur != upd {
        return progress(format!("waiting for revision {upd} to replace {cur}"));
    }
    Health::Current
}

/// kstatus' DaemonSet rules: every node that should run a pod runs an updated, available
/// and ready one.
pub fn daemonset(ds: &Value) -> Health {
    let Some(desired) = int(ds, "/status/desiredNumberScheduled") else {
        return progress("waiting for the DaemonSet controller");
    };
    let n = |f: &str| int(ds, &format!("/status/{f}")).unwrap_or(0);
    for (field, what) in [
        ("currentNumberScheduled", "scheduled"),
        ("updatedNumberScheduled", "updated"),
        ("numberAvailable", "available"),
        ("numberReady", "ready"),
    ] {
        let got = n(field);
        if desired > got {
            return progress(format!("{got} of {desired} pods {what}"));
        }
    }
    Health::Current
}

/// A Job is current when it completes and failed when it fails (its condition's reason and
/// message say why).
pub fn job(j: &Value) -> Health {
    if let Some(("True", _, _)) = condition(j, "Complete") {
        return Health::Current;
    }
    if let Some(("True", reason, message)) = condition(j, "Failed") {
        return failed(format!("Job failed: {reason}: {message}"));
    }
    let n = |f: &str| int(j, &format!("/status/{f}")).unwrap_or(0);
    if j.pointer("/status/startTime").is_none() {
        return progress("Job not started");
    }
    progress(format!(
        "Job running: {} succeeded, {} active, {} failed",
        n("succeeded"),
        n("active"),
        n("failed")
    ))
}

/// A bare Pod: done when it Succeeded (or runs Ready), failed when it Failed.
pub fn pod(p: &Value) -> Health {
    match text(p, "/status/phase") {
        Some("Succeeded") => Health::Current,
        Some("Failed") => Health::Failed {
            reason: format!(
                "Pod failed{}",
                terminated_reason(p)
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            pod: text(p, "/metadata/name").map(str::to_string),
        },
        Some("Running") if health::pod_ready(p) => Health::Current,
        phase => progress(format!("Pod {}", phase.unwrap_or("Pending"))),
    }
}

/// How the first terminated container of a pod ended (`Error, exit code 1`).
pub fn terminated_reason(p: &Value) -> Option<String> {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|c| {
            let t = c.pointer("/state/terminated")?;
            let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
            (code != 0).then(|| {
                format!(
                    "container {} {}, exit code {code}",
                    c.get("name").and_then(Value::as_str).unwrap_or("?"),
                    t.get("reason").and_then(Value::as_str).unwrap_or("Error")
                )
            })
        })
}

pub fn pvc(p: &Value) -> Health {
    match text(p, "/status/phase") {
        Some("Bound") => Health::Current,
        Some("Lost") => failed("PersistentVolumeClaim lost its volume"),
        phase => progress(format!(
            "PersistentVolumeClaim not Bound (phase {})",
            phase.unwrap_or("Pending")
        )),
    }
}

pub fn crd(c: &Value) -> Health {
    if let Some(("False", reason, message)) = condition(c, "NamesAccepted") {
        return failed(format!(
            "CRD names not accepted: {}",
            first_of(message, reason)
        ));
    }
    match condition(c, "Established") {
        Some(("True", _, _)) => Health::Current,
        _ => progress("CRD not Established yet"),
    }
}

/// Any other object: `Ready` / `Available` conditions when it reports them.
pub fn by_conditions(obj: &Value) -> Health {
    for ty in ["Ready", "Available"] {
        if let Some((status, reason, message)) = condition(obj, ty) {
            if status != "True" {
                return progress(format!("{ty} is {status}: {}", first_of(message, reason)));
            }
        }
    }
    Health::Current
}

fn match_labels(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The label selector of the pods whose fast-fail signals count against a workload: those
/// of its current revision. None for kinds without pods (or without a revision yet).
pub fn new_pod_selector(kind: &str, obj: &Value) -> Option<BTreeMap<String, String>> {
    let name = text(obj, "/metadata/name")?;
    match kind {
        "StatefulSet" => {
            let mut sel = match_labels(obj);
            let rev = text(obj, "/status/updateRevision")?;
            sel.insert("controller-revision-hash".into(), rev.to_string());
            Some(sel)
        }
        "DaemonSet" => {
            let mut sel = match_labels(obj);
            let generation = int(obj, "/metadata/generation")?;
            sel.insert("pod-template-generation".into(), generation.to_string());
            Some(sel)
        }
        "Job" => Some(BTreeMap::from([("job-name".into(), name.to_string())])),
        _ => None,
    }
}

/// A workload's health with its pods' fast-fail signals first (as for Deployments).
pub fn workload(group: &str, kind: &str, obj: &Value, pods: &[&Value], threshold: u32) -> Health {
    if obj
        .pointer("/status/conditions")
        .is_some_and(|_| kind == "Job")
    {
        // A finished Job is judged by its conditions alone: its failed pods are history.
        if let h @ (Health::Current | Health::Failed { .. }) = job(obj) {
            return h;
        }
    }
    for p in pods {
        if let Some(f) = health::pod_failure(p, threshold) {
            return Health::Failed {
                reason: format!("{} in container {}", f.reason, f.container),
                pod: Some(f.pod),
            };
        }
    }
    if kind == "Pod" && group.is_empty() {
        if let Some(f) = health::pod_failure(obj, threshold) {
            return Health::Failed {
                reason: format!("{} in container {}", f.reason, f.container),
                pod: Some(f.pod),
            };
        }
    }
    object(group, kind, obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts(spec: i64, status: Value) -> Value {
        json!({"metadata": {"name": "db", "generation": 2}, "spec": {"replicas": spec}, "status": status})
    }

    fn reason(h: Health) -> String {
        match h {
            Health::InProgress { reason } => reason,
            other => panic!("not in progress: {other:?}"),
        }
    }

    #[test]
    fn statefulset_waits_for_every_replica_and_the_revisions_to_meet() {
        let full = json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3, "currentRevision": "db-1", "updateRevision": "db-1"});
        assert_eq!(
            object("apps", "StatefulSet", &sts(3, full.clone())),
            Health::Current
        );
        let mut rolling = full.clone();
        rolling["updateRevision"] = json!("db-2");
        rolling["updatedReplicas"] = json!(1);
        assert!(reason(object("apps", "StatefulSet", &sts(3, rolling))).contains("db-2"));
        let mut unready = full.clone();
        unready["readyReplicas"] = json!(2);
        assert_eq!(
            reason(object("apps", "StatefulSet", &sts(3, unready))),
            "2 of 3 replicas ready"
        );
        let mut old = full;
        old["observedGeneration"] = json!(1);
        assert!(reason(object("apps", "StatefulSet", &sts(3, old))).contains("controller"));
    }

    #[test]
    fn a_partitioned_statefulset_is_current_once_the_pods_above_the_partition_update() {
        let mut s = sts(
            4,
            json!({"observedGeneration": 2, "replicas": 4, "readyReplicas": 4, "currentReplicas": 2, "updatedReplicas": 1, "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        s["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        assert!(reason(statefulset(&s)).contains("1 of 2 replicas updated"));
        s["status"]["updatedReplicas"] = json!(2);
        assert_eq!(statefulset(&s), Health::Current, "revisions may differ");
        s["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        s["status"]["updatedReplicas"] = json!(0);
        assert_eq!(statefulset(&s), Health::Current);
    }

    #[test]
    fn daemonset_needs_every_scheduled_pod_updated_available_and_ready() {
        let ds = |upd: i64, avail: i64| json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": upd, "numberAvailable": avail, "numberReady": avail}});
        assert_eq!(reason(daemonset(&ds(1, 2))), "1 of 2 pods updated");
        assert_eq!(reason(daemonset(&ds(2, 1))), "1 of 2 pods available");
        assert_eq!(daemonset(&ds(2, 2)), Health::Current);
        assert!(matches!(daemonset(&json!({})), Health::InProgress { .. }));
    }

    #[test]
    fn job_completes_or_fails_by_its_conditions() {
        let mut j = json!({"status": {"startTime": "t", "active": 1}});
        assert!(reason(job(&j)).contains("1 active"));
        j["status"]["conditions"] = json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]);
        assert!(
            matches!(job(&j), Health::Failed { reason, .. } if reason.contains("BackoffLimitExceeded"))
        );
        j["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
        assert_eq!(job(&j), Health::Current);
        assert_eq!(reason(job(&json!({}))), "Job not started");
    }

    #[test]
    fn pods_claims_crds_and_custom_resources() {
        let p = json!({"metadata": {"name": "t"}, "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}});
        assert!(
            matches!(pod(&p), Health::Failed { reason, pod: Some(n) } if reason.contains("exit code 2") && n == "t")
        );
        assert_eq!(
            pod(&json!({"status": {"phase": "Succeeded"}})),
            Health::Current
        );
        assert!(pvc(&json!({"status": {"phase": "Pending"}}))
            .summary()
            .contains("Pending"));
        assert_eq!(pvc(&json!({"status": {"phase": "Bound"}})), Health::Current);
        let c = json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(crd(&c), Health::Current);
        let cr = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning"}]}});
        assert!(reason(object("acme.io", "Widget", &cr)).contains("Provisioning"));
        let stalled = json!({"status": {"conditions": [{"type": "Stalled", "status": "True", "message": "quota"}]}});
        assert!(object("acme.io", "Widget", &stalled).is_failed());
        assert_eq!(object("acme.io", "Widget", &json!({})), Health::Current);
    }

    #[test]
    fn which_kinds_are_waited_for() {
        assert!(is_judged("apps", "StatefulSet"));
        assert!(is_judged("acme.io", "Widget"));
        assert!(!is_judged("", "ConfigMap"));
        assert!(!is_judged("networking.k8s.io", "Ingress"));
        assert!(!is_judged("autoscaling", "HorizontalPodAutoscaler"));
    }

    #[test]
    fn a_crash_looping_pod_of_the_new_revision_fails_a_statefulset_fast() {
        let s = sts(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "readyReplicas": 1, "updateRevision": "db-2"}),
        );
        let p = json!({"metadata": {"name": "db-1"}, "status": {"containerStatuses": [{"name": "db", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        match workload("apps", "StatefulSet", &s, &[&p], 3) {
            Health::Failed { pod, .. } => assert_eq!(pod.as_deref(), Some("db-1")),
            other => panic!("{other:?}"),
        }
        let mut with_sel = s.clone();
        with_sel["spec"]["selector"] = json!({"matchLabels": {"app": "db"}});
        let sel = new_pod_selector("StatefulSet", &with_sel).expect("selector");
        assert_eq!(
            sel.get("controller-revision-hash").map(String::as_str),
            Some("db-2")
        );
    }
}
