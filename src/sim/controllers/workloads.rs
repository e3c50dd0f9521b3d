//! DaemonSet and Job, kept simple: one DaemonSet pod per node (the sim has one), Job pods
//! run to completion, a Job fails past its backoff limit (failed pods, or container
//! restarts under `restartPolicy: OnFailure`) and then stops its pods; each reports the
//! status fields `kubectl rollout status` and kstatus read. StatefulSets: `statefulset.rs`.

use super::replicaset::{is_active, is_ready, pod_from_template};
use super::{owned, Controllers};
use crate::sim::controllers::deployment::template_hash;
use serde_json::{json, Value};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
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
    // With `OnFailure` pods restart in place: their containers' restarts count against
    // the backoff limit (the controller's pastBackoffLimitOnFailure).
    let on_failure = jv["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure";
    let restarts: i64 = pods
        .iter()
        .map(|p| p.value())
        .filter(|p| matches!(p["status"]["phase"].as_str(), Some("Running" | "Pending")))
        .flat_map(|p| {
            ["initContainerStatuses", "containerStatuses"]
                .iter()
                .flat_map(|k| p["status"][*k].as_array().cloned().unwrap_or_default())
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .sum();
    let past_backoff_on_failure = on_failure
        && if backoff_limit == 0 {
            restarts > 0
        } else {
            restarts >= backoff_limit
        };
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
        } else if failed > backoff_limit || past_backoff_on_failure {
            // The Job is over: its running pods are stopped.
            for p in pods.iter().filter(|p| is_active(&p.value())) {
                let _ = ctl.c.delete_object(&poddef, ns, p.name(), None, None);
            }
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
