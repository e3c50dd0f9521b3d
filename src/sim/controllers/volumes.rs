//! The PersistentVolume binder and a dynamic provisioner: a claim whose StorageClass
//! exists (named, or the default one) gets a volume `pvc-<uid>` of the size it asks for
//! and is Bound; a claim naming a missing class, or none with no default, stays Pending
//! with the Event a real cluster records. Deleting a claim deletes its volume when the
//! class reclaims with `Delete`.

use super::Controllers;
use serde_json::{json, Value};

const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

fn default_class(ctl: &Controllers) -> Option<Value> {
    ctl.c
        .store
        .list("storage.k8s.io/storageclasses", None)
        .0
        .into_iter()
        .map(|s| s.value())
        .find(|s| s["metadata"]["annotations"][DEFAULT_CLASS] == "true")
}

pub fn sync_claim(ctl: &mut Controllers, ns: &str, name: &str) {
    let (Some(def), Some(pvdef)) = (
        ctl.def("/persistentvolumeclaims"),
        ctl.def("/persistentvolumes"),
    ) else {
        return;
    };
    let Some(pvc) = ctl.c.store.get("/persistentvolumeclaims", ns, name) else {
        return;
    };
    if pvc.deleting() {
        return;
    }
    let cv = pvc.value();
    if cv["status"]["phase"] == "Bound" {
        return;
    }
    let class = match cv["spec"]["storageClassName"].as_str() {
        Some("") => None,
        Some(n) => ctl
            .c
            .store
            .get("storage.k8s.io/storageclasses", "", n)
            .map(|s| s.value())
            .ok_or_else(|| n.to_string())
            .map(Some)
            .unwrap_or_else(|missing| {
                let msg = format!("storageclass.storage.k8s.io \"{missing}\" not found");
                pending(ctl, &cv, "ProvisioningFailed", &msg);
                None
            }),
        None => default_class(ctl).or_else(|| {
            pending(
                ctl,
                &cv,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            );
            None
        }),
    };
    let Some(class) = class else {
        return;
    };
    let class_name = class["metadata"]["name"].as_str().unwrap_or_default();
    let size = cv["spec"]["resources"]["requests"]["storage"]
        .as_str()
        .unwrap_or("1Gi")
        .to_string();
    let modes = cv["spec"]["accessModes"].clone();
    let volume = format!("pvc-{}", pvc.uid());
    let pv = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume, "annotations": {"pv.kubernetes.io/provisioned-by": class["provisioner"]}},
        "spec": {
            "capacity": {"storage": size}, "accessModes": modes,
            "persistentVolumeReclaimPolicy": class["reclaimPolicy"].as_str().unwrap_or("Delete"),
            "storageClassName": class_name,
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": pvc.uid()},
            "hostPath": {"path": format!("/var/lib/helmdeck-sim/{volume}")},
        },
        "status": {"phase": "Bound"},
    });
    if ctl.c.store.get("/persistentvolumes", "", &volume).is_none()
        && ctl.c.store.create(&pvdef, pv).is_err()
    {
        return;
    }
    let class_name = class_name.to_string();
    let _ = ctl.c.store.update(&def, ns, name, |old| {
        let mut new = old.clone();
        new["spec"]["volumeName"] = json!(volume);
        new["spec"]["storageClassName"] = json!(class_name);
        new["status"] =
            json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
        Ok(new)
    });
    ctl.event(
        &cv,
        "Normal",
        "ProvisioningSucceeded",
        &format!("Successfully provisioned volume {volume}"),
        "persistentvolume-controller",
    );
}

fn pending(ctl: &mut Controllers, claim: &Value, reason: &str, message: &str) {
    ctl.event(
        claim,
        "Warning",
        reason,
        message,
        "persistentvolume-controller",
    );
}

/// A claim is gone: its dynamically provisioned volume follows (reclaim policy Delete).
pub fn claim_deleted(ctl: &mut Controllers, claim: &Value) {
    let Some(pvdef) = ctl.def("/persistentvolumes") else {
        return;
    };
    let Some(volume) = claim["spec"]["volumeName"].as_str() else {
        return;
    };
    let Some(pv) = ctl.c.store.get("/persistentvolumes", "", volume) else {
        return;
    };
    if pv.value()["spec"]["persistentVolumeReclaimPolicy"] == "Delete" {
        let _ = ctl.c.store.remove(&pvdef, "", volume, None);
    }
}
