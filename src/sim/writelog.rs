//! The sim's write log: every successful write through the API (create, update, patch,
//! delete), in commit order, with the client that sent it (the `x-helmdeck-client` header
//! helmdeck sets: `user@host (pid N)`) and, for Leases, the holder it left. Tests check
//! invariants against it — above all that no two drivers wrote in overlapping lease terms,
//! which managedFields (per manager, to the second) cannot show.

use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use serde_json::Value;
use std::sync::Mutex;

/// The header that names a helmdeck process.
pub use crate::cluster::CLIENT_HEADER;
/// Entries kept (the oldest are dropped beyond it).
const KEPT: usize = 200_000;
/// Bodies larger than this are not read for the log (the entry keeps no version).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteEntry {
    /// The store's resourceVersion right after the write: commit order.
    pub resource_version: u64,
    pub client: Option<String>,
    pub method: String,
    /// The request path (no query).
    pub path: String,
    /// Leases: `spec.holderIdentity` as written (empty when released).
    pub holder: Option<String>,
}

impl WriteEntry {
    pub fn is_lease(&self) -> bool {
        self.path.contains("/leases/")
    }
}

#[derive(Debug, Default)]
pub struct WriteLog {
    entries: Mutex<Vec<WriteEntry>>,
}

pub fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

impl WriteLog {
    /// Every entry so far, in commit order.
    pub fn entries(&self) -> Vec<WriteEntry> {
        let mut v = self.entries.lock().map(|e| e.clone()).unwrap_or_default();
        v.sort_by_key(|e| e.resource_version);
        v
    }

    /// Logs a successful write and hands its response on unchanged. `store_rv` is the
    /// store's version now, used when the answer carries none (a delete's Status).
    pub async fn record(
        &self,
        client: Option<String>,
        method: &Method,
        path: &str,
        resp: Response,
        store_rv: u64,
    ) -> Response {
        let (parts, body) = resp.into_parts();
        let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => return Response::from_parts(parts, Body::empty()),
        };
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let resource_version = v
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(store_rv);
        let holder = path.contains("/leases/").then(|| {
            v.pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
        if let Ok(mut e) = self.entries.lock() {
            if e.len() >= KEPT {
                e.drain(..KEPT / 10);
            }
            e.push(WriteEntry {
                resource_version,
                client,
                method: method.to_string(),
                path: path.to_string(),
                holder,
            });
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// A write by a client outside its lease terms on a release: the checker's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub release: String,
    pub write: WriteEntry,
    /// Who held the lease when it landed ("" when free).
    pub holder: String,
}

/// Writes by helmdeck drivers to `namespace` that landed while another process held the
/// release's lease (`helmdeck-<release>`), or while it was free after the writer had held
/// it. Writes by a client that never held the lease (requests, other tools) and the
/// lease's own writes are not driver writes. `owned` says which paths belong to the
/// release (its objects and records).
pub fn overlapping_terms(
    entries: &[WriteEntry],
    release: &str,
    owned: &dyn Fn(&str) -> bool,
) -> Vec<Overlap> {
    let lease_path = format!("/leases/helmdeck-{release}");
    let mut holder = String::new();
    let mut held_once = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for e in entries {
        if e.path.ends_with(&lease_path) {
            if let Some(h) = &e.holder {
                holder = h.clone();
                if !h.is_empty() {
                    held_once.insert(h.clone());
                }
            }
            continue;
        }
        let Some(client) = &e.client else { continue };
        if !held_once.contains(client) || !owned(&e.path) || e.path.ends_with(".requests") {
            continue;
        }
        if &holder != client {
            out.push(Overlap {
                release: release.to_string(),
                write: e.clone(),
                holder: holder.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(rv: u64, client: &str, path: &str, holder: Option<&str>) -> WriteEntry {
        WriteEntry {
            resource_version: rv,
            client: Some(client.into()),
            method: "PUT".into(),
            path: path.into(),
            holder: holder.map(str::to_string),
        }
    }

    #[test]
    fn a_write_after_the_lease_changed_hands_is_an_overlap() {
        let lease = "/apis/coordination.k8s.io/v1/namespaces/demo/leases/helmdeck-web";
        let dep = "/apis/apps/v1/namespaces/demo/deployments/web";
        let log = vec![
            w(1, "a", lease, Some("a")),
            w(2, "a", dep, None),
            w(3, "b", lease, Some("b")),
            w(4, "b", dep, None),
            w(5, "a", dep, None),
            w(6, "b", lease, Some("")),
            w(7, "a", dep, None),
        ];
        let found = overlapping_terms(&log, "web", &|_| true);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].write.resource_version, 5);
        assert_eq!(found[0].holder, "b");
        assert_eq!(found[1].write.resource_version, 7);
        assert_eq!(found[1].holder, "");
        // A requester that never held the lease is not a driver.
        let log = vec![w(1, "a", lease, Some("a")), w(2, "c", dep, None)];
        assert!(overlapping_terms(&log, "web", &|_| true).is_empty());
    }
}
