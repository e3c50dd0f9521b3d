//! Admission for built-in kinds: the defaults the API server fills in (so clients read back
//! what a real cluster returns) and the validation that answers 422 with field paths.
//! Custom resources get neither (their CRD schemas are not enforced).

use crate::sim::errors::{ApiError, Cause, Subject};
use crate::sim::kinds::ResourceDef;
use crate::sim::selector::LabelSelector;
use serde_json::{json, Value};

fn set_default(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        if m.get(key).is_none_or(Value::is_null) {
            m.insert(key.to_string(), v);
        }
    }
}

fn default_container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default().to_string();
    let latest = !image.contains(':') || image.ends_with(":latest");
    set_default(
        c,
        "imagePullPolicy",
        json!(if latest { "Always" } else { "IfNotPresent" }),
    );
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c["ports"].as_array_mut() {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if c[probe].is_object() {
            let p = &mut c[probe];
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
        }
    }
}

/// Pod spec defaults (also applied to every pod template).
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec[list].as_array_mut() {
            for c in cs {
                default_container(c);
            }
        }
    }
}

fn default_template(obj: &mut Value) {
    if obj["spec"]["template"]["spec"].is_object() {
        default_pod_spec(&mut obj["spec"]["template"]["spec"]);
    }
}

/// Drops `null` map entries, as decoding into the API types does (clients send
/// `creationTimestamp: null` in templates; keeping it would change template hashes).
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            for x in m.values_mut() {
                strip_nulls(x);
            }
        }
        Value::Array(a) => {
            for x in a {
                strip_nulls(x);
            }
        }
        _ => {}
    }
}

/// Fills in what the API server defaults for the built-in kinds.
pub fn apply_defaults(def: &ResourceDef, obj: &mut Value) {
    if def.custom {
        return;
    }
    if !obj["spec"].is_object()
        && matches!(
            def.kind.as_str(),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "Service"
        )
    {
        obj["spec"] = json!({});
    }
    match (def.group.as_str(), def.kind.as_str()) {
        ("", "Pod") => {
            default_pod_spec(&mut obj["spec"]);
            set_default(
                obj,
                "status",
                json!({"phase": "Pending", "qosClass": "BestEffort"}),
            );
        }
        ("", "Namespace") => {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            set_default(obj, "spec", json!({"finalizers": ["kubernetes"]}));
            if obj["status"]["phase"].is_null() {
                obj["status"] = json!({"phase": "Active"});
            }
        }
        ("", "Secret") => set_default(obj, "type", json!("Opaque")),
        ("", "Service") => {
            let s = &mut obj["spec"];
            set_default(s, "type", json!("ClusterIP"));
            set_default(s, "sessionAffinity", json!("None"));
            set_default(s, "ipFamilies", json!(["IPv4"]));
            set_default(s, "ipFamilyPolicy", json!("SingleStack"));
            set_default(s, "internalTrafficPolicy", json!("Cluster"));
            if let Some(ports) = s["ports"].as_array_mut() {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    set_default(p, "targetPort", port);
                }
            }
            set_default(obj, "status", json!({"loadBalancer": {}}));
        }
        ("apps", "Deployment") => {
            let s = &mut obj["spec"];
            set_default(s, "replicas", json!(1));
            set_default(s, "revisionHistoryLimit", json!(10));
            set_default(s, "progressDeadlineSeconds", json!(600));
            set_default(s, "strategy", json!({"type": "RollingUpdate"}));
            if s["strategy"]["type"] == "RollingUpdate" {
                set_default(&mut s["strategy"], "rollingUpdate", json!({}));
                set_default(
                    &mut s["strategy"]["rollingUpdate"],
                    "maxSurge",
                    json!("25%"),
                );
                set_default(
                    &mut s["strategy"]["rollingUpdate"],
                    "maxUnavailable",
                    json!("25%"),
                );
            }
            default_template(obj);
        }
        ("apps", "ReplicaSet") => {
            set_default(&mut obj["spec"], "replicas", json!(1));
            default_template(obj);
        }
        ("apps", "StatefulSet") => {
            let s = &mut obj["spec"];
            set_default(s, "replicas", json!(1));
            set_default(s, "podManagementPolicy", json!("OrderedReady"));
            set_default(s, "revisionHistoryLimit", json!(10));
            set_default(
                s,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            default_template(obj);
        }
        ("apps", "DaemonSet") => {
            let s = &mut obj["spec"];
            set_default(s, "revisionHistoryLimit", json!(10));
            set_default(
                s,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
            );
            default_template(obj);
        }
        ("batch", "Job") => {
            let s = &mut obj["spec"];
            set_default(s, "parallelism", json!(1));
            set_default(s, "completions", json!(1));
            set_default(s, "backoffLimit", json!(6));
            set_default(s, "completionMode", json!("NonIndexed"));
            set_default(s, "suspend", json!(false));
            if obj["spec"]["template"]["spec"].is_object() {
                set_default(
                    &mut obj["spec"]["template"]["spec"],
                    "restartPolicy",
                    json!("Never"),
                );
            }
            default_template(obj);
        }
        ("batch", "CronJob") => {
            let s = &mut obj["spec"];
            set_default(s, "concurrencyPolicy", json!("Allow"));
            set_default(s, "suspend", json!(false));
            set_default(s, "successfulJobsHistoryLimit", json!(3));
            set_default(s, "failedJobsHistoryLimit", json!(1));
        }
        _ => {}
    }
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !p.starts_with('-')
                && !p.ends_with('-')
        })
}

fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns_subdomain(s)
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value".into(),
        field: field.into(),
    }
}

fn invalid(field: &str, value: &Value, why: &str) -> Cause {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {why}"),
        field: field.into(),
    }
}

/// What a Secret or a ConfigMap may hold in all (corev1.MaxSecretSize, MaxConfigMapSize).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// The bytes a Secret's or ConfigMap's values hold.
fn data_size(def: &ResourceDef, obj: &Value) -> usize {
    use base64::Engine as _;
    let decoded = |v: &Value| {
        let t = v.as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(|b| b.len())
            .unwrap_or(t.len())
    };
    let sum = |f: &str, base64: bool| -> usize {
        obj[f]
            .as_object()
            .map(|m| {
                m.values()
                    .map(|v| {
                        if base64 {
                            decoded(v)
                        } else {
                            v.as_str().map(str::len).unwrap_or(0)
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    };
    if def.kind == "Secret" {
        sum("data", true) + sum("stringData", false)
    } else {
        sum("data", false) + sum("binaryData", true)
    }
}

fn check_containers(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    match spec["containers"].as_array() {
        None => causes.push(required(&format!("{path}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(required(&format!("{path}.containers"))),
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                let p = format!("{path}.containers[{i}]");
                match c["name"].as_str() {
                    None | Some("") => causes.push(required(&format!("{p}.name"))),
                    Some(n) if !is_dns_label(n) => causes.push(invalid(&format!("{p}.name"), &c["name"], "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")),
                    _ => {}
                }
                if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
                    causes.push(required(&format!("{p}.image")));
                }
            }
        }
    }
}

fn check_workload(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>, needs_replicas: bool) {
    let spec = &obj["spec"];
    if needs_replicas {
        if let Some(r) = spec["replicas"].as_i64() {
            if r < 0 {
                causes.push(invalid(
                    "spec.replicas",
                    &spec["replicas"],
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    let sel = &spec["selector"];
    if !sel.is_object() {
        causes.push(required("spec.selector"));
    } else {
        let s = LabelSelector::from_object(sel);
        if s.is_everything() {
            causes.push(invalid(
                "spec.selector",
                sel,
                "empty selector is invalid for deployment",
            ));
        } else if !s.matches(&spec["template"]["metadata"]["labels"]) {
            causes.push(invalid(
                "spec.template.metadata.labels",
                &spec["template"]["metadata"]["labels"],
                "`selector` does not match template `labels`",
            ));
        }
        if let Some(old) = old {
            if old["spec"]["selector"].is_object() && old["spec"]["selector"] != *sel {
                causes.push(invalid("spec.selector", sel, "field is immutable"));
            }
        }
    }
    check_containers(&spec["template"]["spec"], "spec.template.spec", causes);
}

/// Validates an object about to be stored (create or update). `old` is the stored version.
pub fn validate(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(required("metadata.name"));
    } else {
        let label_only = matches!(def.kind.as_str(), "Namespace" | "Service") && !def.custom;
        let ok = if label_only {
            is_dns_label(name)
        } else {
            def.custom
                || is_dns_subdomain(name)
                || def.kind.ends_with("Role")
                || def.kind.ends_with("RoleBinding")
        };
        if !ok {
            causes.push(invalid("metadata.name", &obj["metadata"]["name"], "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
        }
    }
    for f in ["labels", "annotations"] {
        let v = &obj["metadata"][f];
        if !(v.is_null() || v.is_object()) {
            causes.push(invalid(
                &format!("metadata.{f}"),
                v,
                "must be a map of string keys and string values",
            ));
        }
    }
    if let Some(a) = obj["metadata"]["annotations"].as_object() {
        for (k, v) in a {
            if !v.is_string() {
                causes.push(invalid(
                    &format!("metadata.annotations.{k}"),
                    v,
                    "annotation values must be strings",
                ));
            }
        }
    }
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if !v.is_string() {
                causes.push(invalid(
                    &format!("metadata.labels.{k}"),
                    v,
                    "label values must be strings",
                ));
            } else if v.as_str().is_some_and(|s| s.len() > 63) {
                causes.push(invalid(
                    "metadata.labels",
                    v,
                    "must be no more than 63 characters",
                ));
            }
        }
    }
    if !def.custom {
        match (def.group.as_str(), def.kind.as_str()) {
            ("", "Pod") => check_containers(&obj["spec"], "spec", &mut causes),
            ("apps", "Deployment") | ("apps", "ReplicaSet") | ("apps", "StatefulSet") => {
                check_workload(obj, old, &mut causes, true)
            }
            ("apps", "DaemonSet") => check_workload(obj, old, &mut causes, false),
            ("batch", "Job") => check_containers(
                &obj["spec"]["template"]["spec"],
                "spec.template.spec",
                &mut causes,
            ),
            ("", "Service") => {
                for (i, p) in obj["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let port = p["port"].as_i64().unwrap_or(0);
                    if !(1..=65535).contains(&port) {
                        causes.push(invalid(
                            &format!("spec.ports[{i}].port"),
                            &p["port"],
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                }
            }
            ("", "ConfigMap") | ("", "Secret") => {
                for f in ["data", "stringData", "binaryData"] {
                    if let Some(m) = obj[f].as_object() {
                        for (k, v) in m {
                            if !v.is_string() {
                                causes.push(invalid(&format!("{f}[{k}]"), v, "must be a string"));
                            }
                        }
                    }
                }
                // kube-apiserver refuses a Secret or ConfigMap whose values total more than
                // 1 MiB (corev1.MaxSecretSize / MaxConfigMapSize), counted as bytes (a
                // Secret's data and a ConfigMap's binaryData decoded from base64).
                if data_size(def, obj) > MAX_DATA_SIZE {
                    causes.push(Cause {
                        reason: "FieldValueTooLong".into(),
                        message: format!("Too long: may not be more than {MAX_DATA_SIZE} bytes"),
                        field: "data".into(),
                    });
                }
            }
            _ => {}
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        &Subject {
            group: &def.group,
            resource: &def.plural,
            kind: &def.kind,
            name,
        },
        causes,
    ))
}
