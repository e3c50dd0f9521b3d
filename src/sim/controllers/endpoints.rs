//! Endpoints and EndpointSlices: for every Service with a selector, the addresses of the
//! pods it selects (ready ones as addresses, others as notReadyAddresses; terminating
//! pods marked so in the slice), with target ports resolved by name.

use super::Controllers;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{Store, StoredObject};
use serde_json::{json, Value};

use super::replicaset::is_ready;

/// Names of the Services in `ns` that select `pod` (now, or before a change).
pub fn services_selecting(
    store: &Store,
    ns: &str,
    pod: &StoredObject,
    prev: Option<&StoredObject>,
) -> Vec<String> {
    let (svcs, _) = store.list("/services", Some(ns));
    svcs.iter()
        .filter(|s| {
            let sel = LabelSelector::from_map(&s.value()["spec"]["selector"]);
            sel.matches(pod.labels()) || prev.is_some_and(|p| sel.matches(p.labels()))
        })
        .map(|s| s.name().to_string())
        .collect()
}

fn target_port(svc_port: &Value, pod: &Value) -> Option<i64> {
    match &svc_port["targetPort"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => {
            if let Ok(n) = name.parse() {
                return Some(n);
            }
            pod["spec"]["containers"].as_array()?.iter().find_map(|c| {
                c["ports"]
                    .as_array()?
                    .iter()
                    .find(|p| p["name"] == name.as_str())
                    .and_then(|p| p["containerPort"].as_i64())
            })
        }
        _ => svc_port["port"].as_i64(),
    }
}

pub fn sync(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(epdef), Some(slicedef)) = (
        ctl.def("/endpoints"),
        ctl.def("discovery.k8s.io/endpointslices"),
    ) else {
        return;
    };
    let slice_name = format!(
        "{name}-{}",
        crate::sim::clock::safe_encode(crate::sim::clock::fnv32a(name.as_bytes()))
            .chars()
            .take(5)
            .collect::<String>()
    );
    let Some(svc) = ctl.c.store.get("/services", ns, name) else {
        let _ = ctl.c.store.remove(&epdef, ns, name, None);
        let _ = ctl.c.store.remove(&slicedef, ns, &slice_name, None);
        return;
    };
    let sel = LabelSelector::from_map(&svc.value()["spec"]["selector"]);
    if svc.value()["spec"]["selector"]
        .as_object()
        .is_none_or(|m| m.is_empty())
    {
        return; // Endpoints of selector-less Services are managed by hand.
    }
    let (pods, _) = ctl.c.store.list("/pods", Some(ns));
    let selected: Vec<&std::sync::Arc<StoredObject>> = pods
        .iter()
        .filter(|p| {
            sel.matches(p.labels())
                && p.value()["status"]["podIP"]
                    .as_str()
                    .is_some_and(|ip| !ip.is_empty())
        })
        .collect();
    let svc_ports: Vec<Value> = svc.value()["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let addr = |p: &StoredObject| {
        json!({"ip": p.value()["status"]["podIP"], "nodeName": p.value()["spec"]["nodeName"],
               "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name(), "uid": p.uid()}})
    };
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    let mut slice_eps = Vec::new();
    for p in &selected {
        let terminating = !p.value()["metadata"]["deletionTimestamp"].is_null();
        let r = is_ready(&p.value()) && !terminating;
        if !terminating {
            if r {
                ready.push(addr(p));
            } else {
                not_ready.push(addr(p));
            }
        }
        slice_eps.push(json!({
            "addresses": [p.value()["status"]["podIP"]],
            "conditions": {"ready": r, "serving": is_ready(&p.value()), "terminating": terminating},
            "nodeName": p.value()["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name(), "uid": p.uid()},
        }));
    }
    let first_pod = selected
        .first()
        .map(|p| p.value().clone())
        .unwrap_or(Value::Null);
    let ports: Vec<Value> = svc_ports
        .iter()
        .map(|sp| {
            let mut p = json!({"port": target_port(sp, &first_pod).unwrap_or(0), "protocol": sp["protocol"].as_str().unwrap_or("TCP")});
            if let Some(n) = sp["name"].as_str() {
                p["name"] = json!(n);
            }
            p
        })
        .collect();
    let mut subset = json!({"ports": ports});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    let subsets = if ready.is_empty() && not_ready.is_empty() {
        json!([])
    } else {
        json!([subset])
    };
    let labels = svc.value()["metadata"]["labels"].clone();
    let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": if labels.is_object() { labels.clone() } else { json!({}) }}, "subsets": subsets});
    upsert(ctl, &epdef, ns, name, ep, |o| o["subsets"].clone());
    let mut slice_labels = if labels.is_object() {
        labels
    } else {
        json!({})
    };
    slice_labels["kubernetes.io/service-name"] = json!(name);
    slice_labels["endpointslice.kubernetes.io/managed-by"] =
        json!("endpointslice-controller.k8s.io");
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name, "namespace": ns, "labels": slice_labels, "ownerReferences": [super::owner_ref(&svc.value())]},
        "addressType": "IPv4", "endpoints": slice_eps, "ports": ports,
    });
    upsert(ctl, &slicedef, ns, &slice_name, slice, |o| {
        json!([o["endpoints"].clone(), o["ports"].clone()])
    });
}

fn upsert(
    ctl: &Controllers,
    def: &crate::sim::kinds::ResourceDef,
    ns: &str,
    name: &str,
    obj: Value,
    content: impl Fn(&Value) -> Value,
) {
    match ctl.c.store.get(&def.storage_key(), ns, name) {
        None => {
            let _ = ctl.c.store.create(def, obj);
        }
        Some(cur) => {
            if content(&cur.value()) != content(&obj) {
                let _ = ctl.c.store.update(def, ns, name, |old| {
                    let mut new = old.clone();
                    for k in ["subsets", "endpoints", "ports", "addressType"] {
                        if let Some(v) = obj.get(k) {
                            new[k] = v.clone();
                        }
                    }
                    Ok(new)
                });
            }
        }
    }
}
