//! Server-side printing: `meta.k8s.io/v1` Tables that `kubectl get` asks for, with the
//! columns kubectl users know per kind (pods, deployments, replica sets, services …) and
//! NAME/AGE for everything else. Pure functions of the stored objects.

use crate::sim::api::Query;
use crate::sim::clock::parse_rfc3339;
use crate::sim::kinds::ResourceDef;
use crate::sim::selector::LabelSelector;
use crate::sim::store::StoredObject;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// kubectl's `HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let r = s % 60;
        return if r == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{r}s")
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = m / 60;
    if h < 8 {
        let r = m % 60;
        return if r == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{r}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if d < 8 {
        let r = h % 24;
        return if r == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{r}h")
        };
    }
    if d < 365 * 2 {
        return format!("{d}d");
    }
    format!("{}y", d / 365)
}

fn age(v: &Value, field: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match v["metadata"][field].as_str().and_then(parse_rfc3339) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn ago(ts: &Value) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match ts.as_str().and_then(parse_rfc3339) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn col(name: &str, ty: &str, priority: i64) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": name, "priority": priority})
}

/// kubectl's pod STATUS column.
pub fn pod_status(p: &Value) -> String {
    let mut reason = p["status"]["reason"]
        .as_str()
        .or(p["status"]["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    let mut initializing = false;
    for (i, c) in p["status"]["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let st = &c["state"];
        if st["terminated"]["exitCode"].as_i64() == Some(0) {
            continue;
        }
        initializing = true;
        reason = match st["waiting"]["reason"].as_str() {
            Some(r) if r != "PodInitializing" => format!("Init:{r}"),
            _ => format!(
                "Init:{i}/{}",
                p["spec"]["initContainers"]
                    .as_array()
                    .map(|a| a.len())
                    .unwrap_or(0)
            ),
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
        {
            let st = &c["state"];
            if let Some(r) = st["waiting"]["reason"].as_str() {
                reason = r.to_string();
            } else if let Some(t) = st["terminated"].as_object() {
                reason = t
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("ExitCode:{}", int(&st["terminated"]["exitCode"])));
            } else if st["running"].is_object() && c["ready"].as_bool() == Some(true) {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if !p["metadata"]["deletionTimestamp"].is_null() {
        reason = "Terminating".into();
    }
    reason
}

fn row(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"].as_str().unwrap_or_default());
    let s = &o["status"];
    let spec = &o["spec"];
    match (def.group.as_str(), def.kind.as_str()) {
        ("", "Pod") => {
            let cs = s["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = spec["containers"].as_array().map(|a| a.len()).unwrap_or(0);
            let ready = cs
                .iter()
                .filter(|c| c["ready"].as_bool() == Some(true))
                .count();
            let restarts: i64 = cs.iter().map(|c| int(&c["restartCount"])).sum();
            let last = cs
                .iter()
                .filter_map(|c| c["lastState"]["terminated"]["finishedAt"].as_str())
                .max()
                .map(|t| ago(&json!(t)));
            let restarts = match last {
                Some(a) if restarts > 0 => format!("{restarts} ({a} ago)"),
                _ => restarts.to_string(),
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts),
                json!(age(o, "creationTimestamp")),
                json!(s["podIP"].as_str().unwrap_or("<none>")),
                json!(spec["nodeName"].as_str().unwrap_or("<none>")),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("apps", "Deployment") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(&s["readyReplicas"]),
                int(&spec["replicas"])
            )),
            json!(int(&s["updatedReplicas"])),
            json!(int(&s["availableReplicas"])),
            json!(age(o, "creationTimestamp")),
            json!(containers(o)),
            json!(images(o)),
            json!(LabelSelector::from_object(&spec["selector"]).to_query()),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            json!(int(&spec["replicas"])),
            json!(int(&s["replicas"])),
            json!(int(&s["readyReplicas"])),
            json!(age(o, "creationTimestamp")),
            json!(containers(o)),
            json!(images(o)),
            json!(LabelSelector::from_object(&spec["selector"]).to_query()),
        ],
        ("apps", "StatefulSet") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(&s["readyReplicas"]),
                int(&spec["replicas"])
            )),
            json!(age(o, "creationTimestamp")),
        ],
        ("apps", "DaemonSet") => vec![
            name,
            json!(int(&s["desiredNumberScheduled"])),
            json!(int(&s["currentNumberScheduled"])),
            json!(int(&s["numberReady"])),
            json!(int(&s["updatedNumberScheduled"])),
            json!(int(&s["numberAvailable"])),
            json!("<none>"),
            json!(age(o, "creationTimestamp")),
        ],
        ("batch", "Job") => {
            let done = s["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["status"] == "True")
                .and_then(|c| c["type"].as_str())
                .unwrap_or("Running");
            let status = match done {
                "Complete" => "Complete",
                "Failed" => "Failed",
                _ => "Running",
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(&s["succeeded"]),
                    spec["completions"].as_i64().unwrap_or(1)
                )),
                json!(""),
                json!(age(o, "creationTimestamp")),
            ]
        }
        ("", "Service") => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!(
                        "{}:{}/{}",
                        int(&p["port"]),
                        np,
                        p["protocol"].as_str().unwrap_or("TCP")
                    ),
                    None => format!(
                        "{}/{}",
                        int(&p["port"]),
                        p["protocol"].as_str().unwrap_or("TCP")
                    ),
                })
                .collect();
            vec![
                name,
                json!(spec["type"].as_str().unwrap_or("ClusterIP")),
                json!(spec["clusterIP"].as_str().unwrap_or("<none>")),
                json!("<none>"),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                }),
                json!(age(o, "creationTimestamp")),
            ]
        }
        ("", "Namespace") => vec![
            name,
            json!(s["phase"].as_str().unwrap_or("Active")),
            json!(age(o, "creationTimestamp")),
        ],
        ("", "Node") => vec![
            name,
            json!("Ready"),
            json!("control-plane"),
            json!(age(o, "creationTimestamp")),
            json!("v1.33.0"),
        ],
        ("", "Event") => vec![
            json!(ago(if o["lastTimestamp"].is_null() {
                &o["eventTime"]
            } else {
                &o["lastTimestamp"]
            })),
            json!(o["type"].as_str().unwrap_or_default()),
            json!(o["reason"].as_str().unwrap_or_default()),
            json!(format!(
                "{}/{}",
                o["involvedObject"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase(),
                o["involvedObject"]["name"].as_str().unwrap_or_default()
            )),
            json!(o["message"].as_str().unwrap_or_default()),
        ],
        ("", "ConfigMap") => vec![
            name,
            json!(
                o["data"].as_object().map(|m| m.len()).unwrap_or(0)
                    + o["binaryData"].as_object().map(|m| m.len()).unwrap_or(0)
            ),
            json!(age(o, "creationTimestamp")),
        ],
        ("", "Secret") => vec![
            name,
            json!(o["type"].as_str().unwrap_or("Opaque")),
            json!(o["data"].as_object().map(|m| m.len()).unwrap_or(0)),
            json!(age(o, "creationTimestamp")),
        ],
        ("", "Endpoints") => {
            let mut eps = Vec::new();
            for sub in o["subsets"].as_array().into_iter().flatten() {
                for a in sub["addresses"].as_array().into_iter().flatten() {
                    for p in sub["ports"].as_array().into_iter().flatten() {
                        eps.push(format!(
                            "{}:{}",
                            a["ip"].as_str().unwrap_or_default(),
                            int(&p["port"])
                        ));
                    }
                }
            }
            vec![
                name,
                json!(if eps.is_empty() {
                    "<none>".to_string()
                } else {
                    eps.join(",")
                }),
                json!(age(o, "creationTimestamp")),
            ]
        }
        _ => vec![name, json!(age(o, "creationTimestamp"))],
    }
}

fn template_containers(o: &Value) -> Vec<Value> {
    o["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn containers(o: &Value) -> String {
    template_containers(o)
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(",")
}

fn images(o: &Value) -> String {
    template_containers(o)
        .iter()
        .filter_map(|c| c["image"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(",")
}

fn columns(def: &ResourceDef) -> Vec<Value> {
    let s = |n: &str| col(n, "string", 0);
    let i = |n: &str| col(n, "integer", 0);
    match (def.group.as_str(), def.kind.as_str()) {
        ("", "Pod") => vec![
            s("Name"),
            s("Ready"),
            s("Status"),
            s("Restarts"),
            s("Age"),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        ("apps", "Deployment") => vec![
            s("Name"),
            s("Ready"),
            i("Up-to-date"),
            i("Available"),
            s("Age"),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        ("apps", "ReplicaSet") => vec![
            s("Name"),
            i("Desired"),
            i("Current"),
            i("Ready"),
            s("Age"),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        ("apps", "StatefulSet") => vec![s("Name"), s("Ready"), s("Age")],
        ("apps", "DaemonSet") => vec![
            s("Name"),
            i("Desired"),
            i("Current"),
            i("Ready"),
            i("Up-to-date"),
            i("Available"),
            s("Node Selector"),
            s("Age"),
        ],
        ("batch", "Job") => vec![
            s("Name"),
            s("Status"),
            s("Completions"),
            s("Duration"),
            s("Age"),
        ],
        ("", "Service") => vec![
            s("Name"),
            s("Type"),
            s("Cluster-IP"),
            s("External-IP"),
            s("Port(s)"),
            s("Age"),
        ],
        ("", "Namespace") => vec![s("Name"), s("Status"), s("Age")],
        ("", "Node") => vec![s("Name"), s("Status"), s("Roles"), s("Age"), s("Version")],
        ("", "Event") => vec![
            s("Last Seen"),
            s("Type"),
            s("Reason"),
            s("Object"),
            s("Message"),
        ],
        ("", "ConfigMap") => vec![s("Name"), i("Data"), s("Age")],
        ("", "Secret") => vec![s("Name"), s("Type"), i("Data"), s("Age")],
        ("", "Endpoints") => vec![s("Name"), s("Endpoints"), s("Age")],
        _ => vec![s("Name"), s("Age")],
    }
}

/// A Table of `items` (one row each) as `kubectl get` receives it.
pub fn table(
    def: &ResourceDef,
    items: &[&StoredObject],
    rv: &str,
    cont: Option<&str>,
    q: &Query,
) -> Value {
    let include = q
        .get("includeObject")
        .map(String::as_str)
        .unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let v = o.value();
            let cells = row(def, &v);
            let object = match include {
                "None" => Value::Null,
                "Object" => v,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let mut md = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        md["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md, "columnDefinitions": columns(def), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 5 + 60), "5h1m");
        assert_eq!(human_duration(86400 * 3), "3d");
    }

    #[test]
    fn pod_status_column() {
        let p = json!({"status": {"phase": "Running", "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&p), "CrashLoopBackOff");
        let p = json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&p), "Terminating");
    }
}
