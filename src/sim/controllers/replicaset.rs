//! The ReplicaSet controller: creates pods `<rs>-<5 chars>` from the template with owner
//! references, deletes surplus pods in the order the real controller prefers (unscheduled,
//! pending, not ready, most restarts, newest first), and reports replicas / ready /
//! available (honouring minReadySeconds) in status.

use super::{omit_empty, owned, owner_ref, Controllers, Work};
use crate::sim::store::StoredObject;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

pub fn is_active(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_null()
        && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

pub fn is_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Whether a ready pod has been ready for `min_ready` (simulated) seconds; when not yet,
/// the instant at which it will be.
pub fn available_at(
    ctl: &Controllers,
    p: &StoredObject,
    pv: &Value,
    min_ready: i64,
) -> Result<(), Option<Instant>> {
    if !is_ready(pv) {
        return Err(None);
    }
    if min_ready <= 0 {
        return Ok(());
    }
    let since = ctl
        .ready_since
        .get(p.uid())
        .copied()
        .unwrap_or_else(Instant::now);
    let at = since + ctl.c.clock.real(Duration::from_secs(min_ready as u64));
    if Instant::now() >= at {
        Ok(())
    } else {
        Err(Some(at))
    }
}

/// Builds a pod from a template, as the workload controllers do.
pub fn pod_from_template(
    owner: &Value,
    template: &Value,
    name: &str,
    extra_labels: &[(&str, String)],
) -> Value {
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    let mut md = json!({
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_ref(owner)],
    });
    if let Some(a) = template["metadata"]["annotations"].as_object() {
        md["annotations"] = json!(a);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": template["spec"], "status": {"phase": "Pending", "qosClass": "BestEffort"}})
}

/// The real controller's deletion preference: lower sorts first = deleted first.
fn deletion_rank(p: &Value) -> (u8, u8, u8, i64, std::cmp::Reverse<String>) {
    let scheduled = p["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let phase = match p["status"]["phase"].as_str() {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let restarts: i64 = p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| int(&c["restartCount"]))
        .sum();
    (
        u8::from(scheduled),
        phase,
        u8::from(is_ready(p)),
        -restarts,
        std::cmp::Reverse(
            p["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
    )
}

pub fn sync(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(rsdef), Some(poddef)) = (ctl.def("apps/replicasets"), ctl.def("/pods")) else {
        return;
    };
    let Some(rs) = ctl.c.store.get("apps/replicasets", ns, name) else {
        return;
    };
    if rs.deleting() {
        return;
    }
    let rv = rs.value();
    let want = rv["spec"]["replicas"].as_i64().unwrap_or(1);
    let min_ready = int(&rv["spec"]["minReadySeconds"]);
    // Each pod parsed once per pass.
    let pods: Vec<(Arc<StoredObject>, Value)> = owned(&ctl.c, rs.uid(), "/pods")
        .into_iter()
        .map(|p| {
            let v = p.value();
            (p, v)
        })
        .collect();
    let active_now: Vec<&(Arc<StoredObject>, Value)> =
        pods.iter().filter(|(_, v)| is_active(v)).collect();
    let active_count = active_now.len();
    let diff = active_count as i64 - want;
    if diff < 0 {
        for _ in 0..(-diff) {
            let pod_name = format!("{name}-{}", ctl.rng.name_suffix());
            let mut pod = pod_from_template(&rv, &rv["spec"]["template"], &pod_name, &[]);
            pod["metadata"]["generateName"] = json!(format!("{name}-"));
            match ctl.c.store.create(&poddef, pod) {
                Ok(_) => {
                    ctl.event(
                        &rv,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {pod_name}"),
                        "replicaset-controller",
                    );
                }
                Err(e) => {
                    ctl.event(
                        &rv,
                        "Warning",
                        "FailedCreate",
                        &format!("Error creating: {}", e.message),
                        "replicaset-controller",
                    );
                    ctl.requeue_after(
                        Work::ReplicaSet(ns.to_string(), name.to_string()),
                        Duration::from_secs(1),
                    );
                    break;
                }
            }
        }
    } else if diff > 0 {
        let mut victims = active_now.clone();
        victims.sort_by_key(|(_, v)| deletion_rank(v));
        for (p, _) in victims.into_iter().take(diff as usize) {
            if ctl
                .c
                .delete_object(&poddef, ns, p.name(), None, None)
                .is_ok()
            {
                ctl.event(
                    &rv,
                    "Normal",
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", p.name()),
                    "replicaset-controller",
                );
            }
        }
    }
    // Status from the pods as they are now (the counts follow on the next pass).
    let active = active_now;
    let ready = active.iter().filter(|(_, v)| is_ready(v)).count() as i64;
    let mut available = 0;
    let mut next_check: Option<Instant> = None;
    for (p, v) in &active {
        match available_at(ctl, p, v, min_ready) {
            Ok(()) => available += 1,
            Err(Some(at)) => next_check = Some(next_check.map_or(at, |n: Instant| n.min(at))),
            Err(None) => {}
        }
    }
    if let Some(at) = next_check {
        ctl.requeue_at(
            Work::ReplicaSet(ns.to_string(), name.to_string()),
            at + Duration::from_millis(2),
        );
    }
    let sel = crate::sim::selector::LabelSelector::from_object(&rv["spec"]["selector"]);
    let labeled = active
        .iter()
        .filter(|(p, _)| sel.matches(p.labels()))
        .count() as i64;
    let status = omit_empty(json!({
        "replicas": active.len() as i64,
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": int(&rv["metadata"]["generation"]),
    }));
    let mut status = status;
    if status.get("replicas").is_none() {
        status["replicas"] = json!(0);
    }
    if rv["status"] != status {
        super::write_status(&ctl.c, &rsdef, ns, name, status);
    }
}
