//! StatefulSet, DaemonSet and Job, kept simple: ordered pods `<sts>-<i>` (next one once the
//! previous is Ready), one DaemonSet pod per node, Job pods run to completion; each
//! reports the status fields `kubectl rollout status` and kstatus read.

use super::replicaset::{is_active, is_ready, pod_from_template};
use super::{omit_empty, owned, Controllers};
use crate::sim::controllers::deployment::template_hash;
use serde_json::{json, Value};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub fn sync_statefulset(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(def), Some(poddef)) = (ctl.def("apps/statefulsets"), ctl.def("/pods")) else {
        return;
    };
    let Some(sts) = ctl.c.store.get("apps/statefulsets", ns, name) else {
        return;
    };
    if !sts.value()["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let sv = sts.value().clone();
    let want = sv["spec"]["replicas"].as_i64().unwrap_or(1);
    let revision = format!("{name}-{}", template_hash(&sv["spec"]["template"], 0));
    let pods = owned(&ctl.c, sts.uid(), "/pods");
    let ordinal = |p: &Value| {
        p["metadata"]["name"]
            .as_str()
            .and_then(|n| n.rsplit('-').next())
            .and_then(|i| i.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    let parallel = sv["spec"]["podManagementPolicy"] == "Parallel";
    // Create missing ordinals in order (OrderedReady waits for the previous to be Ready).
    for i in 0..want {
        let existing = pods.iter().find(|p| ordinal(&p.value()) == i);
        match existing {
            Some(p) => {
                let up = is_ready(&p.value()) && is_active(&p.value());
                if !parallel && !up {
                    break;
                }
            }
            None => {
                let pod_name = format!("{name}-{i}");
                let pod = pod_from_template(
                    &sv,
                    &sv["spec"]["template"],
                    &pod_name,
                    &[
                        ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                        ("controller-revision-hash", revision.clone()),
                        ("apps.kubernetes.io/pod-index", i.to_string()),
                    ],
                );
                if ctl.c.store.create(&poddef, pod).is_ok() {
                    ctl.event(
                        &sv,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("create Pod {pod_name} in StatefulSet {name} successful"),
                        "statefulset-controller",
                    );
                }
                if !parallel {
                    break;
                }
            }
        }
    }
    // Scale down from the highest ordinal; roll outdated pods from the highest ordinal
    // once all are ready.
    let all_ready = pods
        .iter()
        .filter(|p| is_active(&p.value()))
        .all(|p| is_ready(&p.value()));
    let mut sorted = pods.clone();
    sorted.sort_by_key(|p| std::cmp::Reverse(ordinal(&p.value())));
    for p in &sorted {
        if ordinal(&p.value()) >= want && is_active(&p.value()) {
            let _ = ctl.c.delete_object(&poddef, ns, p.name(), None, None);
            ctl.event(
                &sv,
                "Normal",
                "SuccessfulDelete",
                &format!("delete Pod {} in StatefulSet {name} successful", p.name()),
                "statefulset-controller",
            );
            return;
        }
    }
    if all_ready {
        if let Some(p) = sorted.iter().find(|p| {
            is_active(&p.value())
                && p.value()["metadata"]["labels"]["controller-revision-hash"] != revision.as_str()
        }) {
            let _ = ctl.c.delete_object(&poddef, ns, p.name(), None, None);
        }
    }
    let active: Vec<_> = pods
        .iter()
        .filter(|p| is_active(&p.value()) && ordinal(&p.value()) < want)
        .collect();
    let ready = active.iter().filter(|p| is_ready(&p.value())).count() as i64;
    let updated = active
        .iter()
        .filter(|p| {
            p.value()["metadata"]["labels"]["controller-revision-hash"] == revision.as_str()
        })
        .count() as i64;
    let mut status = omit_empty(json!({
        "observedGeneration": int(&sv["metadata"]["generation"]),
        "replicas": active.len() as i64,
        "readyReplicas": ready,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "availableReplicas": ready,
    }));
    status["currentRevision"] = json!(revision);
    status["updateRevision"] = json!(revision);
    status["collisionCount"] = json!(0);
    if status.get("replicas").is_none() {
        status["replicas"] = json!(0);
    }
    if sv["status"] != status {
        super::write_status(&ctl.c, &def, ns, name, status);
    }
}

pub fn sync_daemonset(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(def), Some(poddef)) = (ctl.def("apps/daemonsets"), ctl.def("/pods")) else {
        return;
    };
    let Some(ds) = ctl.c.store.get("apps/daemonsets", ns, name) else {
        return;
    };
    if !ds.value()["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let dv = ds.value().clone();
    let hash = template_hash(&dv["spec"]["template"], 0);
    let pods: Vec<_> = owned(&ctl.c, ds.uid(), "/pods")
        .into_iter()
        .filter(|p| is_active(&p.value()))
        .collect();
    let current: Vec<_> = pods
        .iter()
        .filter(|p| p.value()["metadata"]["labels"]["controller-revision-hash"] == hash.as_str())
        .collect();
    for p in pods
        .iter()
        .filter(|p| p.value()["metadata"]["labels"]["controller-revision-hash"] != hash.as_str())
    {
        let _ = ctl.c.delete_object(&poddef, ns, p.name(), None, None);
    }
    if current.is_empty()
        && pods
            .iter()
            .all(|p| p.value()["metadata"]["labels"]["controller-revision-hash"] == hash.as_str())
    {
        let pod_name = format!("{name}-{}", ctl.rng.name_suffix());
        let mut pod = pod_from_template(
            &dv,
            &dv["spec"]["template"],
            &pod_name,
            &[
                ("controller-revision-hash", hash.clone()),
                (
                    "pod-template-generation",
                    int(&dv["metadata"]["generation"]).to_string(),
                ),
            ],
        );
        pod["spec"]["nodeName"] = json!(crate::sim::NODE_NAME);
        if ctl.c.store.create(&poddef, pod).is_ok() {
            ctl.event(
                &dv,
                "Normal",
                "SuccessfulCreate",
                &format!("Created pod: {pod_name}"),
                "daemonset-controller",
            );
        }
    }
    let ready = current.iter().filter(|p| is_ready(&p.value())).count() as i64;
    let status = json!({
        "currentNumberScheduled": current.len().max(pods.len()) as i64,
        "desiredNumberScheduled": 1,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "updatedNumberScheduled": current.len() as i64,
        "numberAvailable": ready,
        "numberUnavailable": 1 - ready.min(1),
        "observedGeneration": int(&dv["metadata"]["generation"]),
    });
    let mut status = status;
    if let Some(m) = status.as_object_mut() {
        m.retain(|k, v| {
            !(k == "numberUnavailable" || k == "numberAvailable") || v.as_i64() != Some(0)
        });
    }
    if dv["status"] != status {
        super::write_status(&ctl.c, &def, ns, name, status);
    }
}

pub fn sync_job(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(def), Some(poddef)) = (ctl.def("batch/jobs"), ctl.def("/pods")) else {
        return;
    };
    let Some(job) = ctl.c.store.get("batch/jobs", ns, name) else {
        return;
    };
    if !job.value()["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let jv = job.value().clone();
    let completions = jv["spec"]["completions"].as_i64().unwrap_or(1);
    let parallelism = jv["spec"]["parallelism"].as_i64().unwrap_or(1);
    let backoff_limit = jv["spec"]["backoffLimit"].as_i64().unwrap_or(6);
    let pods = owned(&ctl.c, job.uid(), "/pods");
    let succeeded = pods
        .iter()
        .filter(|p| p.value()["status"]["phase"] == "Succeeded")
        .count() as i64;
    let failed = pods
        .iter()
        .filter(|p| p.value()["status"]["phase"] == "Failed")
        .count() as i64;
    let active = pods.iter().filter(|p| is_active(&p.value())).count() as i64;
    let done = jv["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
    });
    let now = crate::sim::clock::now_rfc3339();
    let mut status = jv["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    if status["startTime"].is_null() {
        status["startTime"] = json!(now);
    }
    if !done && jv["spec"]["suspend"].as_bool() != Some(true) {
        if succeeded >= completions {
            status["completionTime"] = json!(now);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
                {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
            ]);
            ctl.event(
                &jv,
                "Normal",
                "Completed",
                "Job completed",
                "job-controller",
            );
        } else if failed > backoff_limit {
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
                {"type": "Failed", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
            ]);
            ctl.event(
                &jv,
                "Warning",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                "job-controller",
            );
        } else {
            let want = parallelism.min(completions - succeeded) - active;
            for _ in 0..want.max(0) {
                let pod_name = format!("{name}-{}", ctl.rng.name_suffix());
                let uid = job.uid().to_string();
                let pod = pod_from_template(
                    &jv,
                    &jv["spec"]["template"],
                    &pod_name,
                    &[
                        ("batch.kubernetes.io/controller-uid", uid.clone()),
                        ("batch.kubernetes.io/job-name", name.to_string()),
                        ("controller-uid", uid),
                        ("job-name", name.to_string()),
                    ],
                );
                if ctl.c.store.create(&poddef, pod).is_ok() {
                    ctl.event(
                        &jv,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {pod_name}"),
                        "job-controller",
                    );
                }
            }
        }
    }
    let active_now = owned(&ctl.c, job.uid(), "/pods")
        .iter()
        .filter(|p| is_active(&p.value()))
        .count() as i64;
    for (k, v) in [
        ("active", active_now),
        ("succeeded", succeeded),
        ("failed", failed),
        ("ready", 0),
    ] {
        if v > 0 {
            status[k] = json!(v);
        } else if let Some(m) = status.as_object_mut() {
            m.remove(k);
        }
    }
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});
    if jv["status"] != status {
        super::write_status(&ctl.c, &def, ns, name, status);
    }
}
