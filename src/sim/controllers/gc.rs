//! Garbage collection and namespaces: dependents of a deleted owner go (Background), a
//! `foregroundDeletion` owner waits for its dependents, an `orphan` owner releases them;
//! a deleted namespace empties itself before it disappears; new namespaces get their
//! `default` ServiceAccount and `kube-root-ca.crt` ConfigMap.

use super::{Controllers, Work};
use serde_json::{json, Value};
use std::time::Duration;

fn remove_finalizer(ctl: &Controllers, key: &str, ns: &str, name: &str, fin: &str) {
    let Some(def) = ctl.def(key) else { return };
    let _ = ctl.c.store.update(&def, ns, name, |old| {
        let mut new = old.clone();
        if let Some(f) = new["metadata"]["finalizers"].as_array_mut() {
            f.retain(|x| x != fin);
        }
        Ok(new)
    });
}

/// Handles the dependents of owner `uid` (object `key`/`ns`/`name`, deleted or deleting).
pub fn collect(ctl: &mut Controllers, uid: &str, key: &str, ns: &str, name: &str) {
    let deps = ctl.c.store.dependents(uid);
    let owner = ctl.c.store.get(key, ns, name).filter(|o| o.uid() == uid);
    let fins: Vec<String> = owner
        .as_ref()
        .and_then(|o| o.value()["metadata"]["finalizers"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    if owner.is_some() && fins.iter().any(|f| f == "orphan") {
        for (dkey, d) in &deps {
            let Some(def) = ctl.def(dkey) else { continue };
            let _ = ctl.c.store.update(&def, d.namespace(), d.name(), |old| {
                let mut new = old.clone();
                if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid);
                    if refs.is_empty() {
                        if let Some(m) = new["metadata"].as_object_mut() {
                            m.remove("ownerReferences");
                        }
                    }
                }
                Ok(new)
            });
        }
        remove_finalizer(ctl, key, ns, name, "orphan");
        return;
    }
    let foreground = owner.is_some() && fins.iter().any(|f| f == "foregroundDeletion");
    if owner.is_some() && !foreground {
        return; // Still there and not asking for anything.
    }
    let mut waiting = false;
    for (dkey, d) in &deps {
        let Some(def) = ctl.def(dkey) else { continue };
        let other_owner_alive = d.value()["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                r["uid"] != uid
                    && r["uid"]
                        .as_str()
                        .is_some_and(|_| owner_alive(ctl, r, d.namespace()))
            });
        if other_owner_alive {
            let _ = ctl.c.store.update(&def, d.namespace(), d.name(), |old| {
                let mut new = old.clone();
                if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid);
                }
                Ok(new)
            });
            continue;
        }
        waiting = true;
        if d.value()["metadata"]["deletionTimestamp"].is_null() {
            let policy = if foreground { Some("Foreground") } else { None };
            let _ = ctl
                .c
                .delete_object(&def, d.namespace(), d.name(), policy, None);
        }
    }
    if foreground {
        if waiting {
            ctl.requeue_after(
                Work::Collect(
                    uid.to_string(),
                    key.to_string(),
                    ns.to_string(),
                    name.to_string(),
                ),
                Duration::from_millis(100),
            );
        } else {
            remove_finalizer(ctl, key, ns, name, "foregroundDeletion");
        }
    }
}

fn owner_alive(ctl: &Controllers, r: &Value, ns: &str) -> bool {
    let (Some(av), Some(kind), Some(name)) = (
        r["apiVersion"].as_str(),
        r["kind"].as_str(),
        r["name"].as_str(),
    ) else {
        return false;
    };
    let def = ctl.c.store.kinds().by_kind(av, kind);
    let Some(def) = def else { return false };
    let ns = if def.namespaced { ns } else { "" };
    ctl.c
        .store
        .get(&def.storage_key(), ns, name)
        .is_some_and(|o| r["uid"] == o.uid())
}

pub fn sync_namespace(ctl: &mut Controllers, name: &str) {
    let Some(nsdef) = ctl.def("/namespaces") else {
        return;
    };
    let Some(ns) = ctl.c.store.get("/namespaces", "", name) else {
        return;
    };
    if ns.value()["metadata"]["deletionTimestamp"].is_null() {
        // A live namespace gets what the service-account and root-CA controllers add.
        if let Some(sa) = ctl.def("/serviceaccounts") {
            if ctl
                .c
                .store
                .get("/serviceaccounts", name, "default")
                .is_none()
            {
                let _ = ctl.c.store.create(&sa, json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}));
            }
        }
        if let Some(cm) = ctl.def("/configmaps") {
            if ctl
                .c
                .store
                .get("/configmaps", name, "kube-root-ca.crt")
                .is_none()
            {
                let _ = ctl.c.store.create(&cm, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": name, "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nhelmdeck-sim\n-----END CERTIFICATE-----\n"}}));
            }
        }
        return;
    }
    let contents = ctl.c.store.in_namespace(name);
    if contents.is_empty() {
        let _ = ctl.c.store.remove(&nsdef, "", name, None);
        return;
    }
    for (key, obj) in contents {
        let Some(def) = ctl.def(&key) else { continue };
        if let Some(o) = ctl.c.store.get(&key, name, &obj) {
            if o.value()["metadata"]["deletionTimestamp"].is_null() {
                let _ = ctl.c.delete_object(&def, name, &obj, None, None);
            } else if o.value()["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
                && key.as_ref() != "/pods"
            {
                // Finalizers nobody will remove in the sim (foreign controllers): drop them.
                let _ = ctl.c.store.update(&def, name, &obj, |old| {
                    let mut new = old.clone();
                    new["metadata"]["finalizers"] = json!([]);
                    Ok(new)
                });
            }
        }
    }
    ctl.requeue_after(
        Work::Namespace(name.to_string()),
        Duration::from_millis(100),
    );
}
