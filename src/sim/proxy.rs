//! The API server's service proxy (`/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH`),
//! answered as the selected pods' application would: a ready pod answers 200 with a small
//! JSON body, a pod hit by the `http-errors` fault answers 500 at the fault's rate (once it
//! has been ready for the fault's `after`), and with no ready endpoint the API server itself
//! answers 503, as a real one does.

use crate::sim::api::json_response;
use crate::sim::clock::SimRng;
use crate::sim::controllers::replicaset::is_ready;
use crate::sim::errors::ApiError;
use crate::sim::scenario::PodFaultKind;
use crate::sim::selector::LabelSelector;
use crate::sim::Cluster;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Which pod answers and whether it fails: seeded, so scenario runs repeat.
pub struct ProxyDice(Mutex<SimRng>);

impl ProxyDice {
    pub fn new(seed: u64) -> Self {
        ProxyDice(Mutex::new(SimRng::new(seed ^ 0x9e0)))
    }
    fn roll(&self) -> (u64, f64) {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (r.next_u64(), r.next_f64())
    }
}

fn unavailable(message: String) -> ApiError {
    ApiError::new(503, "ServiceUnavailable", message)
}

/// `[scheme:]name[:port]` → (name, port).
fn parse_ref(r: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = r.split(':').collect();
    match parts.as_slice() {
        [name] => (name, None),
        [scheme, name, port] if matches!(*scheme, "http" | "https") => {
            (name, Some(*port).filter(|p| !p.is_empty()))
        }
        [name, port] => (name, Some(*port).filter(|p| !p.is_empty())),
        _ => (r, None),
    }
}

/// Simulated time since the pod became ready (the fault's `after` counts from there).
fn ready_for(c: &Cluster, pod: &Value) -> std::time::Duration {
    let since = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|cond| cond["type"] == "Ready")
        .and_then(|cond| cond["lastTransitionTime"].as_str())
        .and_then(crate::sim::clock::parse_rfc3339);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match since {
        Some(t) => std::time::Duration::from_secs(now.saturating_sub(t).max(0) as u64)
            .mul_f64(c.clock.speed()),
        None => std::time::Duration::ZERO,
    }
}

pub async fn serve(
    c: &Arc<Cluster>,
    ns: &str,
    svc_ref: &str,
    path: &[&str],
    method: &axum::http::Method,
) -> Result<Response, ApiError> {
    if let Some(e) = c.faults.api_fault("get", "services").await {
        return Err(e);
    }
    let (name, port) = parse_ref(svc_ref);
    let svc = c
        .store
        .get("/services", ns, name)
        .ok_or_else(|| ApiError::new(404, "NotFound", format!("services \"{name}\" not found")))?;
    let svc = svc.value();
    let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let port_ok = match port {
        None => !ports.is_empty(),
        Some(p) => ports.iter().any(|sp| {
            sp["name"].as_str() == Some(p)
                || sp["port"].as_i64().map(|n| n.to_string()).as_deref() == Some(p)
        }),
    };
    if !port_ok {
        return Err(unavailable(format!(
            "no endpoints available for service \"{name}\""
        )));
    }
    let selector = &svc["spec"]["selector"];
    if selector.as_object().is_none_or(|m| m.is_empty()) {
        return Err(unavailable(format!(
            "no endpoints available for service \"{name}\""
        )));
    }
    let sel = LabelSelector::from_map(selector);
    let (pods, _) = c.store.list("/pods", Some(ns));
    let ready: Vec<Value> = pods
        .iter()
        .filter(|p| sel.matches(p.labels()))
        .map(|p| p.value())
        .filter(|p| is_ready(p) && p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    if ready.is_empty() {
        return Err(unavailable(format!(
            "no endpoints available for service \"{name}\""
        )));
    }
    let (pick, roll) = c.proxy_dice.roll();
    let pod = &ready[(pick % ready.len() as u64) as usize];
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let image = pod["spec"]["containers"][0]["image"].clone();
    let path = format!("/{}", path.join("/"));
    let failing = c
        .scenario
        .pod_fault(pod)
        .filter(|f| f.kind == PodFaultKind::HttpErrors)
        .is_some_and(|f| roll < f.rate && ready_for(c, pod) >= f.after);
    Ok(if failing {
        json_response(
            500,
            &json!({"status": "error", "pod": pod_name, "image": image, "path": path, "method": method.as_str()}),
        )
    } else {
        json_response(
            200,
            &json!({"status": "ok", "pod": pod_name, "image": image, "path": path, "method": method.as_str()}),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::parse_ref;

    #[test]
    fn service_references_like_the_api_server() {
        assert_eq!(parse_ref("web"), ("web", None));
        assert_eq!(parse_ref("web:http"), ("web", Some("http")));
        assert_eq!(parse_ref("web:80"), ("web", Some("80")));
        assert_eq!(parse_ref("https:web:443"), ("web", Some("443")));
        assert_eq!(parse_ref("web:"), ("web", None));
    }
}
