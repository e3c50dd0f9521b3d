//! Operator requests to a run that another process drives: a ConfigMap
//! `helmdeck.v1.<release>.requests` holding the last few requests (promote, abort,
//! rollback), each with an id, the revision it is for, who asked and when. A requester
//! writes only here — never the release record nor the Lease — so a request is never
//! mistaken for a take-over; the driver reads it and marks what it took in its record
//! (`run.last_request`), under its lease.

use super::{Cluster, ClusterError};
use crate::domain::record;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};

/// How many requests the ConfigMap keeps.
const KEPT: usize = 20;
const DATA_KEY: &str = "requests";

pub fn name(release: &str) -> String {
    format!("helmdeck.v1.{release}.requests")
}

/// What is asked of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Ask {
    Promote {
        #[serde(default)]
        full: bool,
        /// The check a promote past a paused gate names, as its confirmation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        past_gate: Option<String>,
    },
    Abort,
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub revision: u32,
    #[serde(flatten)]
    pub ask: Ask,
    /// `user@host (pid N)`
    pub by: String,
    pub at: String,
}

fn api(c: &Cluster) -> Api<ConfigMap> {
    Api::namespaced(c.client.clone(), &c.namespace)
}

fn parse(cm: &ConfigMap) -> Vec<Request> {
    cm.data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Leaves a request for the driver of `revision`; returns its id. Appends by
/// compare-and-swap, so two requesters never overwrite each other.
pub async fn send(
    c: &Cluster,
    release: &str,
    revision: u32,
    ask: Ask,
    by: &str,
) -> Result<u64, ClusterError> {
    let api = api(c);
    let name = name(release);
    let what = format!("ConfigMap {name}");
    let pp = PostParams::default();
    for _ in 0..10 {
        let existing = match c.call(&what, || api.get(&name)).await {
            Ok(cm) => Some(cm),
            Err(ClusterError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut list = existing.as_ref().map(parse).unwrap_or_default();
        let id = list.iter().map(|r| r.id).max().unwrap_or(0) + 1;
        list.push(Request {
            id,
            revision,
            ask: ask.clone(),
            by: by.to_string(),
            at: k8s_openapi::jiff::Timestamp::now().to_string(),
        });
        if list.len() > KEPT {
            list.drain(..list.len() - KEPT);
        }
        let text = serde_json::to_string(&list)
            .map_err(|e| ClusterError::Record(format!("requests: {e}")))?;
        let data = Some([(DATA_KEY.to_string(), text)].into());
        let written = match existing {
            Some(mut cm) => {
                cm.data = data;
                c.call(&what, || api.replace(&name, &pp, &cm)).await
            }
            None => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(c.namespace.clone()),
                        labels: Some(
                            [
                                (
                                    record::LABEL_MANAGED_BY.to_string(),
                                    record::MANAGED_BY.to_string(),
                                ),
                                (record::LABEL_RELEASE.to_string(), release.to_string()),
                            ]
                            .into(),
                        ),
                        ..Default::default()
                    },
                    data,
                    ..Default::default()
                };
                c.call(&what, || api.create(&pp, &cm)).await
            }
        };
        match written {
            Ok(_) => return Ok(id),
            Err(ClusterError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ClusterError::Conflict {
        object: what,
        message: "too many requesters at once".into(),
    })
}

/// The requests for `revision` newer than `after`, oldest first.
pub async fn pending(
    c: &Cluster,
    release: &str,
    revision: u32,
    after: u64,
) -> Result<Vec<Request>, ClusterError> {
    let api = api(c);
    let name = name(release);
    match c
        .call(&format!("ConfigMap {name}"), || api.get(&name))
        .await
    {
        Ok(cm) => Ok(parse(&cm)
            .into_iter()
            .filter(|r| r.revision == revision && r.id > after)
            .collect()),
        Err(ClusterError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_they_are_written() {
        let r = Request {
            id: 3,
            revision: 2,
            ask: Ask::Promote {
                full: true,
                past_gate: Some("smoke".into()),
            },
            by: "alice@deck (pid 7)".into(),
            at: "2026-12-07T00:00:00Z".into(),
        };
        let text = serde_json::to_string(&vec![r.clone()]).expect("json");
        assert!(text.contains("\"action\":\"promote\""), "{text}");
        let cm = ConfigMap {
            data: Some([(DATA_KEY.to_string(), text)].into()),
            ..Default::default()
        };
        assert_eq!(parse(&cm), vec![r]);
        // A damaged ConfigMap holds no requests rather than failing the drive.
        let bad = ConfigMap {
            data: Some([(DATA_KEY.to_string(), "not json".to_string())].into()),
            ..Default::default()
        };
        assert!(parse(&bad).is_empty());
    }
}
