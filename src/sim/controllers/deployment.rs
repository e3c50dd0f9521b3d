//! The Deployment controller: ReplicaSets named `<deployment>-<pod-template-hash>`,
//! RollingUpdate with the real controller's surge/unavailable arithmetic (surge rounds up,
//! unavailable rounds down), Recreate, the revision annotations, paused Deployments,
//! revision history cleanup, and status with the Available and Progressing conditions
//! (NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded).

use super::{omit_empty, owned, owner_ref, set_condition, Controllers};
use crate::sim::clock::{fnv32a, safe_encode};
use crate::sim::store::StoredObject;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";

/// `intstr.GetScaledValueFromIntOrPercent`.
pub fn scaled_value(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => {
                let pct: i64 = p.trim().parse().unwrap_or(0);
                let x = pct.saturating_mul(total);
                if round_up {
                    x.saturating_add(99) / 100
                } else {
                    x / 100
                }
            }
            None => s.trim().parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable); both zero means one may be unavailable.
pub fn resolve_fenceposts(surge: &Value, unavailable: &Value, desired: i64) -> (i64, i64) {
    let s = scaled_value(surge, desired, true);
    let u = scaled_value(unavailable, desired, false);
    if s == 0 && u == 0 {
        (0, 1)
    } else {
        (s, u)
    }
}

/// What the rolling-update arithmetic needs to know of one ReplicaSet.
#[derive(Debug, Clone, PartialEq)]
pub struct RsSize {
    pub name: String,
    pub spec: i64,
    pub available: i64,
    /// Creation order (oldest first); ties broken by name.
    pub created: String,
    /// The `desired-replicas` annotation (the Deployment size it was last scaled for).
    pub desired: Option<i64>,
    /// The `max-replicas` annotation (replicas + maxSurge when it was last scaled).
    pub max_replicas: Option<i64>,
}

/// A scaling event: some active ReplicaSet was sized for another Deployment size.
pub fn is_scaling_event(replicas: i64, sets: &[&RsSize]) -> bool {
    sets.iter()
        .any(|r| r.spec > 0 && r.desired.is_some_and(|d| d != replicas))
}

/// The Deployment controller's `scale`: one active ReplicaSet takes the whole size; a
/// saturated new ReplicaSet retires the old ones; otherwise (RollingUpdate) the change is
/// spread over the active ReplicaSets in proportion to their size, leftovers to the
/// largest. `new` is the new ReplicaSet if any. Mutates sizes in place.
pub fn proportional_scale(
    replicas: i64,
    max_surge: i64,
    rolling: bool,
    status_replicas: i64,
    new: Option<&mut RsSize>,
    old: &mut [RsSize],
) {
    let mut all: Vec<&mut RsSize> = old.iter_mut().collect();
    let new_name = new.as_ref().map(|n| n.name.clone());
    if let Some(n) = new {
        all.push(n);
    }
    let active: Vec<usize> = (0..all.len()).filter(|i| all[*i].spec > 0).collect();
    match active.len() {
        0 => {
            // No active set: the newest one takes the whole size.
            let newest = match &new_name {
                Some(n) => all.iter().position(|r| &r.name == n),
                None => (0..all.len()).max_by(|a, b| {
                    (&all[*a].created, &all[*a].name).cmp(&(&all[*b].created, &all[*b].name))
                }),
            };
            if let Some(i) = newest {
                all[i].spec = replicas;
            }
            return;
        }
        1 => {
            all[active[0]].spec = replicas;
            return;
        }
        _ => {}
    }
    if let Some(i) = new_name
        .as_ref()
        .and_then(|n| all.iter().position(|r| &r.name == n))
    {
        let n = &all[i];
        if n.desired == Some(replicas) && n.spec == replicas && n.available == replicas {
            for (j, r) in all.iter_mut().enumerate() {
                if j != i {
                    r.spec = 0;
                }
            }
            return;
        }
    }
    if !rolling {
        return;
    }
    let total: i64 = active.iter().map(|i| all[*i].spec).sum();
    let allowed = if replicas > 0 {
        replicas + max_surge
    } else {
        0
    };
    let to_add = allowed - total;
    let mut order = active.clone();
    // Largest first; ties: newer first when growing, older first when shrinking.
    order.sort_by(|a, b| {
        let (ra, rb) = (&all[*a], &all[*b]);
        rb.spec.cmp(&ra.spec).then_with(|| {
            let age = (&ra.created, &ra.name).cmp(&(&rb.created, &rb.name));
            if to_add > 0 {
                age.reverse()
            } else {
                age
            }
        })
    });
    let mut added = 0i64;
    let mut sizes: Vec<i64> = order.iter().map(|i| all[*i].spec).collect();
    if to_add != 0 {
        for (k, i) in order.iter().enumerate() {
            let rs = &all[*i];
            if rs.spec == 0 || to_add == added {
                continue;
            }
            let fraction = if replicas == 0 {
                -rs.spec
            } else {
                let before = rs
                    .max_replicas
                    .filter(|m| *m > 0)
                    .unwrap_or(status_replicas);
                if before == 0 {
                    0
                } else {
                    ((rs.spec * allowed) as f64 / before as f64).round() as i64 - rs.spec
                }
            };
            let left = to_add - added;
            let p = if to_add > 0 {
                fraction.min(left)
            } else {
                fraction.max(left)
            };
            sizes[k] += p;
            added += p;
        }
        sizes[0] = (sizes[0] + to_add - added).max(0);
    }
    for (k, i) in order.iter().enumerate() {
        all[*i].spec = sizes[k];
    }
}

/// One reconcile of a RollingUpdate: scale the new ReplicaSet up within maxSurge, or else
/// clean up unhealthy old replicas and scale old ReplicaSets down within maxUnavailable.
/// Mutates sizes in place; returns whether anything changed.
pub fn rolling_step(
    replicas: i64,
    surge: &Value,
    unavailable: &Value,
    new: &mut RsSize,
    old: &mut [RsSize],
) -> bool {
    let (max_surge, max_unavail) = resolve_fenceposts(surge, unavailable, replicas);
    let max_unavail = if replicas == 0 {
        0
    } else {
        max_unavail.min(replicas)
    };
    // reconcileNewReplicaSet
    if new.spec > replicas {
        new.spec = replicas;
        return true;
    }
    if new.spec < replicas {
        let current: i64 = new.spec + old.iter().map(|r| r.spec).sum::<i64>();
        let max_total = replicas + max_surge;
        if current < max_total {
            let up = (max_total - current).min(replicas - new.spec);
            if up > 0 {
                new.spec += up;
                return true;
            }
        }
    }
    // reconcileOldReplicaSets
    let old_count: i64 = old.iter().map(|r| r.spec).sum();
    if old_count == 0 {
        return false;
    }
    let all = old_count + new.spec;
    let min_available = replicas - max_unavail;
    let new_unavailable = new.spec - new.available;
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    old.sort_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)));
    let mut cleaned = 0;
    for rs in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        if rs.spec == 0 || rs.spec <= rs.available {
            continue;
        }
        let n = (max_scaled_down - cleaned).min(rs.spec - rs.available);
        rs.spec -= n;
        cleaned += n;
    }
    let available: i64 = old.iter().map(|r| r.available).sum::<i64>() + new.available;
    if available <= min_available {
        return cleaned > 0;
    }
    let total_down = available - min_available;
    let mut scaled = 0;
    for rs in old.iter_mut() {
        if scaled >= total_down {
            break;
        }
        if rs.spec == 0 {
            continue;
        }
        let n = rs.spec.min(total_down - scaled);
        rs.spec -= n;
        scaled += n;
    }
    cleaned + scaled > 0
}

/// Sorted-key JSON, so that the hash does not depend on field order.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(l) = t["metadata"]["labels"].as_object_mut() {
        l.remove(HASH_LABEL);
    }
    t
}

/// The `pod-template-hash` of a template (FNV-32a over the template and collisionCount).
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    let mut data = canonical(&without_hash(template)).into_bytes();
    if collision_count > 0 {
        data.extend_from_slice(collision_count.to_string().as_bytes());
    }
    safe_encode(fnv32a(&data))
}

fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn size_of(rs: &StoredObject) -> RsSize {
    let v = rs.value();
    let ann = |k: &str| {
        v["metadata"]["annotations"][k]
            .as_str()
            .and_then(|x| x.parse::<i64>().ok())
    };
    RsSize {
        desired: ann(DESIRED),
        max_replicas: ann(MAX_REPLICAS),
        name: rs.name().to_string(),
        spec: int(&v["spec"]["replicas"]),
        available: int(&v["status"]["availableReplicas"]),
        created: v["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Scales a ReplicaSet and records the Deployment's ScalingReplicaSet event.
fn scale_rs(ctl: &mut Controllers, d: &Value, rs: &StoredObject, to: i64, max_surge: i64) {
    let Some(def) = ctl.def("apps/replicasets") else {
        return;
    };
    let replicas = int(&d["spec"]["replicas"]);
    let from = int(&rs.value()["spec"]["replicas"]);
    let r = ctl.c.store.update(&def, rs.namespace(), rs.name(), |old| {
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(to);
        if !new["metadata"]["annotations"].is_object() {
            new["metadata"]["annotations"] = json!({});
        }
        new["metadata"]["annotations"][DESIRED] = json!(replicas.to_string());
        new["metadata"]["annotations"][MAX_REPLICAS] = json!((replicas + max_surge).to_string());
        Ok(new)
    });
    if r.is_ok() && from != to {
        let dir = if to > from { "up" } else { "down" };
        ctl.event(
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled {dir} replica set {} from {from} to {to}", rs.name()),
            "deployment-controller",
        );
    }
}

pub fn sync(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(ddef), Some(rsdef)) = (ctl.def("apps/deployments"), ctl.def("apps/replicasets"))
    else {
        return;
    };
    let Some(d) = ctl.c.store.get("apps/deployments", ns, name) else {
        return;
    };
    if d.deleting() {
        return;
    }
    let dv = d.value();
    let spec = &dv["spec"];
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    let paused = spec["paused"].as_bool() == Some(true);
    let recreate = spec["strategy"]["type"] == "Recreate";
    let surge_v = spec["strategy"]["rollingUpdate"]["maxSurge"].clone();
    let unavail_v = spec["strategy"]["rollingUpdate"]["maxUnavailable"].clone();
    let (max_surge, _) = if recreate {
        (0, 0)
    } else {
        resolve_fenceposts(&surge_v, &unavail_v, replicas)
    };
    let template = spec["template"].clone();
    let collision = int(&dv["status"]["collisionCount"]);

    let all: Vec<Arc<StoredObject>> = owned(&ctl.c, d.uid(), "apps/replicasets")
        .into_iter()
        .filter(|r| !r.deleting())
        .collect();
    let target = without_hash(&template);
    let mut new_rs = all
        .iter()
        .find(|r| without_hash(&r.value()["spec"]["template"]) == target)
        .cloned();
    let old: Vec<Arc<StoredObject>> = all
        .iter()
        .filter(|r| new_rs.as_ref().is_none_or(|n| n.name() != r.name()))
        .cloned()
        .collect();
    let max_old_rev = old
        .iter()
        .map(|r| revision_of(&r.value()))
        .max()
        .unwrap_or(0);
    let mut progress: Option<(&str, String)> = None;

    let old_pods_left = old.iter().any(|r| {
        int(&r.value()["spec"]["replicas"]) > 0 || int(&r.value()["status"]["replicas"]) > 0
    });
    // A resize of a Deployment in the middle of a rollout is spread over its ReplicaSets
    // before anything else happens (and creates nothing new).
    let sizes_now: Vec<RsSize> = all.iter().map(|r| size_of(r)).collect();
    let scaling = is_scaling_event(replicas, &sizes_now.iter().collect::<Vec<_>>());
    let may_create = !paused && !scaling && (!recreate || !old_pods_left);
    if new_rs.is_none() && may_create {
        let hash = template_hash(&template, collision);
        let rs_name = format!("{name}-{hash}");
        let initial = if recreate {
            replicas
        } else {
            let mut n = RsSize {
                name: rs_name.clone(),
                spec: 0,
                available: 0,
                created: String::new(),
                desired: None,
                max_replicas: None,
            };
            let mut o: Vec<RsSize> = old.iter().map(|r| size_of(r)).collect();
            let mut start = 0;
            if rolling_step(replicas, &surge_v, &unavail_v, &mut n, &mut o) && n.spec > 0 {
                start = n.spec;
            }
            start
        };
        let mut t = template.clone();
        if !t["metadata"].is_object() {
            t["metadata"] = json!({});
        }
        if !t["metadata"]["labels"].is_object() {
            t["metadata"]["labels"] = json!({});
        }
        t["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = spec["selector"].clone();
        if !selector["matchLabels"].is_object() {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let mut annotations = Map::new();
        if let Some(a) = dv["metadata"]["annotations"].as_object() {
            for (k, v) in a {
                if k != "kubectl.kubernetes.io/last-applied-configuration" && k != REVISION {
                    annotations.insert(k.clone(), v.clone());
                }
            }
        }
        annotations.insert(REVISION.into(), json!((max_old_rev + 1).to_string()));
        annotations.insert(DESIRED.into(), json!(replicas.to_string()));
        annotations.insert(
            MAX_REPLICAS.into(),
            json!((replicas + max_surge).to_string()),
        );
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": t["metadata"]["labels"], "annotations": annotations, "ownerReferences": [owner_ref(&dv)]},
            "spec": {"replicas": initial, "minReadySeconds": spec["minReadySeconds"].as_i64().unwrap_or(0), "selector": selector, "template": t},
        });
        match ctl.c.store.create(&rsdef, rs) {
            Ok(created) => {
                if initial > 0 {
                    ctl.event(
                        &dv,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {rs_name} from 0 to {initial}"),
                        "deployment-controller",
                    );
                }
                progress = Some((
                    "NewReplicaSetCreated",
                    format!("Created new replica set \"{rs_name}\""),
                ));
                new_rs = Some(created);
            }
            Err(e) if e.code == 409 => {
                // A namesake with another template: bump collisionCount and retry.
                let _ = ctl.c.store.update(&ddef, ns, name, |o| {
                    let mut n = o.clone();
                    n["status"]["collisionCount"] = json!(collision + 1);
                    Ok(n)
                });
                return;
            }
            Err(_) => return,
        }
    } else if let Some(n) = &new_rs {
        // A rollback to an older template makes its ReplicaSet the newest revision.
        if revision_of(&n.value()) <= max_old_rev {
            let rev = max_old_rev + 1;
            if let Ok(updated) = ctl.c.store.update(&rsdef, ns, n.name(), |o| {
                let mut x = o.clone();
                x["metadata"]["annotations"][REVISION] = json!(rev.to_string());
                Ok(x)
            }) {
                new_rs = Some(updated);
            }
        }
    }

    // Keep the Deployment's revision annotation on its new ReplicaSet's.
    if let Some(n) = &new_rs {
        let rev = n.value()["metadata"]["annotations"][REVISION].clone();
        if dv["metadata"]["annotations"][REVISION] != rev {
            let _ = ctl.c.store.update(&ddef, ns, name, |o| {
                let mut x = o.clone();
                if !x["metadata"]["annotations"].is_object() {
                    x["metadata"]["annotations"] = json!({});
                }
                x["metadata"]["annotations"][REVISION] = rev.clone();
                Ok(x)
            });
        }
    }

    // Scale.
    if paused || scaling {
        let mut nsz = new_rs.as_ref().map(|n| size_of(n));
        let mut osz: Vec<RsSize> = old.iter().map(|r| size_of(r)).collect();
        let before: Vec<(String, i64)> = nsz
            .iter()
            .chain(osz.iter())
            .map(|r| (r.name.clone(), r.spec))
            .collect();
        let status_replicas = int(&dv["status"]["replicas"]);
        proportional_scale(
            replicas,
            max_surge,
            !recreate,
            status_replicas,
            nsz.as_mut(),
            &mut osz,
        );
        for r in nsz.iter().chain(osz.iter()) {
            // Resized sets, and active sets still annotated for the old size, are written.
            let resized = before.iter().any(|(nm, s)| *nm == r.name && *s != r.spec);
            if resized || (r.spec > 0 && r.desired != Some(replicas)) {
                if let Some(obj) = all.iter().find(|o| o.name() == r.name) {
                    scale_rs(ctl, &dv, obj, r.spec, max_surge);
                }
            }
        }
    } else if recreate {
        let mut scaled = false;
        for r in &old {
            if int(&r.value()["spec"]["replicas"]) > 0 {
                scale_rs(ctl, &dv, r, 0, 0);
                scaled = true;
            }
        }
        if !scaled && !old_pods_left {
            if let Some(n) = &new_rs {
                if int(&n.value()["spec"]["replicas"]) != replicas {
                    scale_rs(ctl, &dv, n, replicas, 0);
                }
            }
        }
    } else if let Some(n) = &new_rs {
        let mut nsz = size_of(n);
        let mut osz: Vec<RsSize> = old.iter().map(|r| size_of(r)).collect();
        let before_new = nsz.spec;
        let before_old: Vec<(String, i64)> = osz.iter().map(|r| (r.name.clone(), r.spec)).collect();
        if rolling_step(replicas, &surge_v, &unavail_v, &mut nsz, &mut osz) {
            if nsz.spec != before_new {
                scale_rs(ctl, &dv, n, nsz.spec, max_surge);
            }
            for r in &osz {
                if before_old
                    .iter()
                    .any(|(nm, s)| *nm == r.name && *s != r.spec)
                {
                    if let Some(obj) = old.iter().find(|o| o.name() == r.name) {
                        scale_rs(ctl, &dv, obj, r.spec, max_surge);
                    }
                }
            }
        }
    }

    // Re-read the ReplicaSets after scaling and compute status.
    let all: Vec<Arc<StoredObject>> = owned(&ctl.c, d.uid(), "apps/replicasets");
    let new_name = new_rs.as_ref().map(|n| n.name().to_string());
    let all_v: Vec<Value> = all.iter().map(|r| r.value()).collect();
    let sum = |f: &dyn Fn(&Value) -> i64| all_v.iter().map(f).sum::<i64>();
    let total_spec = sum(&|v| int(&v["spec"]["replicas"]));
    let available = sum(&|v| int(&v["status"]["availableReplicas"]));
    let actual = sum(&|v| int(&v["status"]["replicas"]));
    let ready = sum(&|v| int(&v["status"]["readyReplicas"]));
    let updated = all
        .iter()
        .zip(&all_v)
        .filter(|(r, _)| Some(r.name()) == new_name.as_deref())
        .map(|(_, v)| int(&v["status"]["replicas"]))
        .sum::<i64>();
    let Some(cur) = ctl.c.store.get("apps/deployments", ns, name) else {
        return;
    };
    let cur_v = cur.value();
    // observedGeneration is the generation this pass acted on, not a newer one that landed
    // meanwhile (that one gets its own pass).
    let generation = int(&dv["metadata"]["generation"]);
    let old_status = cur_v["status"].clone();
    let mut status = omit_empty(json!({
        "observedGeneration": generation,
        "replicas": actual,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": (total_spec - available).max(0),
        "collisionCount": old_status["collisionCount"],
    }));
    let mut conds: Vec<Value> = old_status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let max_unavail = if recreate || replicas == 0 {
        0
    } else {
        resolve_fenceposts(&surge_v, &unavail_v, replicas)
            .1
            .min(replicas)
    };
    if available >= replicas - max_unavail {
        set_condition(
            &mut conds,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            false,
        );
    } else {
        set_condition(
            &mut conds,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            false,
        );
    }
    let uid = d.uid().to_string();
    let deadline = spec["progressDeadlineSeconds"].as_i64();
    let cur_prog = conds.iter().find(|c| c["type"] == "Progressing").cloned();
    let cur_reason = cur_prog
        .as_ref()
        .map(|c| c["reason"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let complete = updated == replicas && actual == replicas && available == replicas;
    let rs_label = new_name.clone().unwrap_or_default();
    if paused {
        if set_condition(
            &mut conds,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            false,
        ) {
            ctl.progress_at.insert(uid.clone(), Instant::now());
        }
    } else if cur_reason == "DeploymentPaused" {
        set_condition(
            &mut conds,
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
            false,
        );
        ctl.progress_at.insert(uid.clone(), Instant::now());
    } else if let Some((reason, msg)) = progress {
        set_condition(&mut conds, "Progressing", "True", reason, &msg, true);
        ctl.progress_at.insert(uid.clone(), Instant::now());
    } else if deadline.is_some() {
        let done = cur_reason == "NewReplicaSetAvailable" && actual == updated && complete;
        let old_old = int(&old_status["replicas"]) - int(&old_status["updatedReplicas"]);
        let new_old = actual - updated;
        let progressing = updated > int(&old_status["updatedReplicas"])
            || new_old < old_old
            || ready > int(&old_status["readyReplicas"])
            || available > int(&old_status["availableReplicas"]);
        if !done {
            if complete && new_rs.is_some() {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{rs_label}\" has successfully progressed."),
                    false,
                );
                ctl.progress_at.insert(uid.clone(), Instant::now());
            } else if progressing && new_rs.is_some() {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{rs_label}\" is progressing."),
                    true,
                );
                ctl.progress_at.insert(uid.clone(), Instant::now());
            } else if cur_reason != "ProgressDeadlineExceeded" && new_rs.is_some() {
                if cur_prog.is_none() {
                    set_condition(
                        &mut conds,
                        "Progressing",
                        "True",
                        "FoundNewReplicaSet",
                        &format!("Found new replica set \"{rs_label}\""),
                        false,
                    );
                    ctl.progress_at.insert(uid.clone(), Instant::now());
                }
                let since = *ctl
                    .progress_at
                    .entry(uid.clone())
                    .or_insert_with(Instant::now);
                let limit = ctl
                    .c
                    .clock
                    .real(Duration::from_secs(deadline.unwrap_or(600).max(0) as u64));
                if since.elapsed() >= limit {
                    set_condition(
                        &mut conds,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet \"{rs_label}\" has timed out progressing."),
                        false,
                    );
                    ctl.event(
                        &dv,
                        "Warning",
                        "ProgressDeadlineExceeded",
                        &format!("ReplicaSet \"{rs_label}\" has timed out progressing."),
                        "deployment-controller",
                    );
                } else {
                    ctl.requeue_at(
                        super::Work::Deployment(ns.to_string(), name.to_string()),
                        since + limit + Duration::from_millis(5),
                    );
                }
            }
        }
    }
    // Keep checking the deadline while the rollout is under way.
    let now_reason = conds
        .iter()
        .find(|c| c["type"] == "Progressing")
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string();
    if !paused
        && matches!(
            now_reason.as_str(),
            "NewReplicaSetCreated"
                | "ReplicaSetUpdated"
                | "FoundNewReplicaSet"
                | "DeploymentResumed"
        )
    {
        if let (Some(dl), Some(since)) = (deadline, ctl.progress_at.get(&uid).copied()) {
            let limit = ctl.c.clock.real(Duration::from_secs(dl.max(0) as u64));
            ctl.requeue_at(
                super::Work::Deployment(ns.to_string(), name.to_string()),
                since + limit + Duration::from_millis(5),
            );
        }
    }
    conds.sort_by_key(|c| if c["type"] == "Available" { 0 } else { 1 });
    if !conds.is_empty() {
        status["conditions"] = Value::Array(conds);
    }
    if status != old_status {
        super::write_status(&ctl.c, &ddef, ns, name, status);
    }

    // Revision history: drop the oldest empty ReplicaSets beyond revisionHistoryLimit.
    if complete && !paused {
        let limit = spec["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
        let mut empty: Vec<&Arc<StoredObject>> = all
            .iter()
            .filter(|r| {
                Some(r.name()) != new_name.as_deref()
                    && int(&r.value()["spec"]["replicas"]) == 0
                    && int(&r.value()["status"]["replicas"]) == 0
            })
            .collect();
        if empty.len() > limit {
            empty.sort_by_key(|r| revision_of(&r.value()));
            let n = empty.len() - limit;
            for r in empty.into_iter().take(n) {
                let _ = ctl.c.delete_object(&rsdef, ns, r.name(), None, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs rolling_step to a fixed point, with every pod available as soon as it exists
    /// (or never, for the new ReplicaSet, when `new_never_available`), and returns the
    /// (new, old) sizes after each change.
    fn rollout(
        replicas: i64,
        surge: Value,
        unavail: Value,
        new_never_available: bool,
    ) -> Vec<(i64, i64)> {
        let mut new = RsSize {
            name: "new".into(),
            spec: 0,
            available: 0,
            created: "2".into(),
            desired: None,
            max_replicas: None,
        };
        let mut old = vec![RsSize {
            name: "old".into(),
            spec: replicas,
            available: replicas,
            created: "1".into(),
            desired: None,
            max_replicas: None,
        }];
        let mut seq = vec![];
        for _ in 0..100 {
            if !rolling_step(replicas, &surge, &unavail, &mut new, &mut old) {
                break;
            }
            seq.push((new.spec, old[0].spec));
            new.available = if new_never_available { 0 } else { new.spec };
            old[0].available = old[0].available.min(old[0].spec);
        }
        seq
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(resolve_fenceposts(&json!("25%"), &json!("25%"), 10), (3, 2));
        assert_eq!(resolve_fenceposts(&json!("25%"), &json!("25%"), 1), (1, 0));
        assert_eq!(resolve_fenceposts(&json!(0), &json!(0), 5), (0, 1));
        assert_eq!(resolve_fenceposts(&json!("50%"), &json!("10%"), 3), (2, 0));
        assert_eq!(resolve_fenceposts(&json!("2"), &json!(1), 3), (2, 1));
    }

    #[test]
    fn rolling_update_sequences_match_the_deployment_controller() {
        type Row = (i64, Value, Value, bool, Vec<(i64, i64)>);
        let table: Vec<Row> = vec![
            // Defaults (25%/25%) on 10 replicas: surge 3, unavailable 2.
            (
                10,
                json!("25%"),
                json!("25%"),
                false,
                vec![(3, 10), (3, 5), (8, 5), (8, 0), (10, 0)],
            ),
            // Defaults on 3: surge 1, unavailable 0 — one pod at a time.
            (
                3,
                json!("25%"),
                json!("25%"),
                false,
                vec![(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)],
            ),
            // maxSurge 0, maxUnavailable 1: scale down first.
            (
                3,
                json!(0),
                json!(1),
                false,
                vec![(0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)],
            ),
            // Both zero resolves to maxUnavailable 1.
            (
                2,
                json!(0),
                json!(0),
                false,
                vec![(0, 1), (1, 1), (1, 0), (2, 0)],
            ),
            // Surge 100%: the whole new set first, then the old one goes.
            (4, json!("100%"), json!(0), false, vec![(4, 4), (4, 0)]),
            // One replica with defaults: surge 1, unavailable 0.
            (1, json!("25%"), json!("25%"), false, vec![(1, 1), (1, 0)]),
            // New pods never become available: the rollout stalls within the budget.
            (
                10,
                json!("25%"),
                json!("25%"),
                true,
                vec![(3, 10), (3, 8), (5, 8)],
            ),
            (3, json!("25%"), json!("25%"), true, vec![(1, 3)]),
        ];
        for (replicas, surge, unavail, stuck, want) in table {
            let got = rollout(replicas, surge.clone(), unavail.clone(), stuck);
            assert_eq!(
                got, want,
                "replicas={replicas} maxSurge={surge} maxUnavailable={unavail} stuck={stuck}"
            );
        }
    }

    fn rs(name: &str, spec: i64, available: i64, created: &str, max: i64) -> RsSize {
        RsSize {
            name: name.into(),
            spec,
            available,
            created: created.into(),
            desired: Some(10),
            max_replicas: Some(max),
        }
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        // The Kubernetes docs' example: 10 replicas, maxSurge 3, a stuck rollout with the new
        // ReplicaSet at 5 and the old at 8; scaled to 15, old gets 3 more and new gets 2.
        let mut new = rs("new", 5, 0, "2", 13);
        let mut old = vec![rs("old", 8, 8, "1", 13)];
        assert!(is_scaling_event(15, &[&new, &old[0]]));
        proportional_scale(15, 3, true, 13, Some(&mut new), &mut old);
        assert_eq!((old[0].spec, new.spec), (11, 7));
        // Scaling down spreads the removal the same way.
        let mut new = rs("new", 5, 0, "2", 13);
        let mut old = vec![rs("old", 8, 8, "1", 13)];
        proportional_scale(5, 2, true, 13, Some(&mut new), &mut old);
        assert_eq!(old[0].spec + new.spec, 7);
        assert!(old[0].spec >= new.spec);
        // One active ReplicaSet simply takes the new size.
        let mut new = rs("new", 10, 10, "2", 13);
        let mut old = vec![rs("old", 0, 0, "1", 13)];
        proportional_scale(4, 1, true, 10, Some(&mut new), &mut old);
        assert_eq!((old[0].spec, new.spec), (0, 4));
        // To zero: everything goes.
        let mut new = rs("new", 5, 0, "2", 13);
        let mut old = vec![rs("old", 8, 8, "1", 13)];
        proportional_scale(0, 0, true, 13, Some(&mut new), &mut old);
        assert_eq!((old[0].spec, new.spec), (0, 0));
    }

    #[test]
    fn template_hash_ignores_field_order_and_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        let b = json!({"spec": {"containers": [{"image": "nginx", "name": "web"}]}, "metadata": {"labels": {"app": "web", "pod-template-hash": "x"}}});
        assert_eq!(template_hash(&a, 0), template_hash(&b, 0));
        assert_ne!(template_hash(&a, 0), template_hash(&a, 1));
        assert!(template_hash(&a, 0)
            .chars()
            .all(|c| crate::sim::clock::SAFE_ALPHABET.contains(&(c as u8))));
    }
}
