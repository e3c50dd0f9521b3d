//! The StatefulSet controller as kube-controller-manager runs it, kept to what rollouts
//! show: ordered pods `<sts>-<i>` (OrderedReady: the next once the previous is Running and
//! Ready; Parallel: all at once), a ControllerRevision per template, `currentRevision` /
//! `updateRevision`, rolling updates from the highest ordinal down to the partition (one
//! pod at a time, each recreated and Ready before the next), OnDelete, failed pods
//! replaced, PersistentVolumeClaims from `volumeClaimTemplates`, scale-down from the top.

use super::replicaset::{is_active, is_ready, pod_from_template};
use super::{omit_empty, owned, owner_ref, Controllers};
use crate::sim::controllers::deployment::template_hash;
use serde_json::{json, Value};

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

const REVISION_LABEL: &str = "controller-revision-hash";

fn ordinal(p: &Value) -> i64 {
    p["metadata"]["name"]
        .as_str()
        .and_then(|n| n.rsplit('-').next())
        .and_then(|i| i.parse::<i64>().ok())
        .unwrap_or(-1)
}

fn revision_of(p: &Value) -> &str {
    p["metadata"]["labels"][REVISION_LABEL]
        .as_str()
        .unwrap_or_default()
}

/// Makes sure a ControllerRevision holds `template` under `name` (the controller keeps one
/// per template so that pods below a partition can be recreated at the old revision).
fn ensure_revision(ctl: &mut Controllers, sts: &Value, name: &str, template: &Value) {
    let Some(def) = ctl.def("apps/controllerrevisions") else {
        return;
    };
    let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default();
    if ctl
        .c
        .store
        .get("apps/controllerrevisions", ns, name)
        .is_some()
    {
        return;
    }
    let number = owned(
        &ctl.c,
        sts["metadata"]["uid"].as_str().unwrap_or_default(),
        "apps/controllerrevisions",
    )
    .iter()
    .map(|r| int(&r.value()["revision"]))
    .max()
    .unwrap_or(0)
        + 1;
    let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels[REVISION_LABEL] = json!(name.rsplit('-').next().unwrap_or_default());
    let cr = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [owner_ref(sts)]},
        "data": {"spec": {"template": template}},
        "revision": number,
    });
    let _ = ctl.c.store.create(&def, cr);
}

fn template_of_revision(ctl: &Controllers, ns: &str, name: &str) -> Option<Value> {
    ctl.c
        .store
        .get("apps/controllerrevisions", ns, name)
        .map(|r| r.value()["data"]["spec"]["template"].clone())
        .filter(Value::is_object)
}

/// The claims of `volumeClaimTemplates` for pod `ordinal` (created when missing), and the
/// pod volumes that mount them.
fn claims_for(ctl: &mut Controllers, sts: &Value, ordinal: i64) -> Vec<Value> {
    let Some(def) = ctl.def("/persistentvolumeclaims") else {
        return Vec::new();
    };
    let ns = sts["metadata"]["namespace"].as_str().unwrap_or_default();
    let set = sts["metadata"]["name"].as_str().unwrap_or_default();
    let mut volumes = Vec::new();
    for t in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(tname) = t["metadata"]["name"].as_str() else {
            continue;
        };
        let claim = format!("{tname}-{set}-{ordinal}");
        if ctl
            .c
            .store
            .get("/persistentvolumeclaims", ns, &claim)
            .is_none()
        {
            let mut labels = t["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            if let Some(m) = sts["spec"]["selector"]["matchLabels"].as_object() {
                for (k, v) in m {
                    labels[k] = v.clone();
                }
            }
            let pvc = json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns, "labels": labels},
                "spec": t["spec"],
                "status": {"phase": "Pending"},
            });
            if ctl.c.store.create(&def, pvc).is_ok() {
                ctl.event(
                    sts,
                    "Normal",
                    "SuccessfulCreate",
                    &format!(
                        "create Claim {claim} Pod {set}-{ordinal} in StatefulSet {set} success"
                    ),
                    "statefulset-controller",
                );
            }
        }
        volumes.push(json!({"name": tname, "persistentVolumeClaim": {"claimName": claim}}));
    }
    volumes
}

fn create_pod(ctl: &mut Controllers, sts: &Value, template: &Value, revision: &str, i: i64) {
    let Some(poddef) = ctl.def("/pods") else {
        return;
    };
    let name = sts["metadata"]["name"].as_str().unwrap_or_default();
    let pod_name = format!("{name}-{i}");
    let volumes = claims_for(ctl, sts, i);
    let mut pod = pod_from_template(
        sts,
        template,
        &pod_name,
        &[
            ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
            (REVISION_LABEL, revision.to_string()),
            ("apps.kubernetes.io/pod-index", i.to_string()),
        ],
    );
    if !volumes.is_empty() {
        let existing = pod["spec"]["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut all: Vec<Value> = existing
            .into_iter()
            .filter(|v| !volumes.iter().any(|c| c["name"] == v["name"]))
            .collect();
        all.extend(volumes);
        pod["spec"]["volumes"] = Value::Array(all);
    }
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(svc) = sts["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        pod["spec"]["subdomain"] = json!(svc);
    }
    if ctl.c.store.create(&poddef, pod).is_ok() {
        ctl.event(
            sts,
            "Normal",
            "SuccessfulCreate",
            &format!("create Pod {pod_name} in StatefulSet {name} successful"),
            "statefulset-controller",
        );
    }
}

fn delete_pod(ctl: &mut Controllers, sts: &Value, ns: &str, pod: &str, why: &str) {
    let Some(poddef) = ctl.def("/pods") else {
        return;
    };
    let name = sts["metadata"]["name"].as_str().unwrap_or_default();
    if ctl.c.delete_object(&poddef, ns, pod, None, None).is_ok() {
        ctl.event(
            sts,
            "Normal",
            "SuccessfulDelete",
            &format!("delete Pod {pod} in StatefulSet {name} successful{why}"),
            "statefulset-controller",
        );
    }
}

pub fn sync(ctl: &mut Controllers, ns: &str, name: &str) {
    let Some(def) = ctl.def("apps/statefulsets") else {
        return;
    };
    let Some(sts) = ctl.c.store.get("apps/statefulsets", ns, name) else {
        return;
    };
    if sts.deleting() {
        return;
    }
    let sv = sts.value().clone();
    let want = sv["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = sv["spec"]["template"].clone();
    let update_rev = format!("{name}-{}", template_hash(&template, 0));
    ensure_revision(ctl, &sv, &update_rev, &template);
    let current_rev = sv["status"]["currentRevision"]
        .as_str()
        .filter(|r| !r.is_empty())
        .unwrap_or(&update_rev)
        .to_string();
    let current_template =
        template_of_revision(ctl, ns, &current_rev).unwrap_or_else(|| template.clone());
    let on_delete = sv["spec"]["updateStrategy"]["type"] == "OnDelete";
    let partition = if on_delete {
        0
    } else {
        int(&sv["spec"]["updateStrategy"]["rollingUpdate"]["partition"]).max(0)
    };
    let parallel = sv["spec"]["podManagementPolicy"] == "Parallel";
    let pods = owned(&ctl.c, sts.uid(), "/pods");

    // Failed pods are deleted and recreated (the controller's own repair).
    for p in &pods {
        let pv = p.value();
        if pv["status"]["phase"] == "Failed" && pv["metadata"]["deletionTimestamp"].is_null() {
            delete_pod(ctl, &sv, ns, p.name(), " (failed)");
        }
    }

    // Missing ordinals, in order: below the partition at the current revision, the rest at
    // the update revision.
    let mut acted = false;
    for i in 0..want {
        match pods.iter().find(|p| ordinal(&p.value()) == i) {
            Some(p) => {
                let pv = p.value();
                let up = is_ready(&pv) && is_active(&pv);
                if !parallel && !up {
                    break;
                }
            }
            None => {
                if !on_delete && i < partition {
                    create_pod(ctl, &sv, &current_template, &current_rev, i);
                } else {
                    create_pod(ctl, &sv, &template, &update_rev, i);
                }
                acted = true;
                if !parallel {
                    break;
                }
            }
        }
    }

    let mut sorted = pods.clone();
    sorted.sort_by_key(|p| std::cmp::Reverse(ordinal(&p.value())));
    // Scale down from the highest ordinal, one pod at a time.
    if !acted {
        if let Some(p) = sorted
            .iter()
            .find(|p| ordinal(&p.value()) >= want && is_active(&p.value()))
        {
            delete_pod(ctl, &sv, ns, p.name(), "");
            acted = true;
        }
    }
    // Rolling update: once every pod runs and is ready, replace the highest outdated pod at
    // or above the partition.
    let live: Vec<Value> = pods
        .iter()
        .map(|p| p.value())
        .filter(|p| is_active(p) && ordinal(p) < want)
        .collect();
    let all_ready = live.len() as i64 == want && live.iter().all(is_ready);
    if !acted && !on_delete && all_ready {
        if let Some(p) = live
            .iter()
            .filter(|p| ordinal(p) >= partition && revision_of(p) != update_rev)
            .max_by_key(|p| ordinal(p))
        {
            let pod = p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            delete_pod(ctl, &sv, ns, &pod, " (rolling update)");
        }
    }

    let ready = live.iter().filter(|p| is_ready(p)).count() as i64;
    let updated = live.iter().filter(|p| revision_of(p) == update_rev).count() as i64;
    let mut current = live
        .iter()
        .filter(|p| revision_of(p) == current_rev)
        .count() as i64;
    // The rollout is complete: the update revision becomes the current one.
    let mut current_rev = current_rev;
    if updated == want && ready == want && live.len() as i64 == want {
        current_rev = update_rev.clone();
        current = updated;
    }
    let mut status = omit_empty(json!({
        "observedGeneration": int(&sv["metadata"]["generation"]),
        "replicas": live.len() as i64,
        "readyReplicas": ready,
        "currentReplicas": current,
        "updatedReplicas": updated,
        "availableReplicas": ready,
    }));
    status["currentRevision"] = json!(current_rev);
    status["updateRevision"] = json!(update_rev);
    status["collisionCount"] = json!(0);
    if status.get("replicas").is_none() {
        status["replicas"] = json!(0);
    }
    if sv["status"] != status {
        super::write_status(&ctl.c, &def, ns, name, status);
    }
}
