//! Release records in the cluster: one Secret per revision (plus parts for rendered objects
//! too large for it), listed by label, written after every transition of a run, pruned to
//! `keep_revisions`. Only the lease holder writes a record, and every update is a
//! compare-and-swap on the record's resourceVersion: a conflict means someone else changed
//! the run, and the writer stops.

use super::{lease, Cluster, ClusterError};
use crate::domain::record::{self, ReleaseRecord};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::Value;

fn secrets(c: &Cluster) -> Api<Secret> {
    Api::namespaced(c.client.clone(), &c.namespace)
}

/// Records carry a status label; the release's own Secrets (also labelled with the release)
/// and record parts do not.
fn selector(release: &str) -> String {
    format!(
        "{}={},{}={},{}",
        record::LABEL_MANAGED_BY,
        record::MANAGED_BY,
        record::LABEL_RELEASE,
        release,
        record::LABEL_STATUS
    )
}

fn parts_selector(release: &str) -> String {
    format!(
        "{}={},{}={},{}",
        record::LABEL_MANAGED_BY,
        record::MANAGED_BY,
        record::LABEL_RELEASE,
        release,
        record::LABEL_PART
    )
}

fn to_value(s: &Secret) -> Value {
    serde_json::to_value(s).unwrap_or_default()
}

fn as_secret(v: Value, what: &str) -> Result<Secret, ClusterError> {
    serde_json::from_value(v).map_err(|e| ClusterError::Record(format!("{what}: {e}")))
}

/// Every record of a release, oldest first. Damaged records are skipped with a warning.
pub async fn list(
    c: &Cluster,
    release: &str,
) -> Result<(Vec<ReleaseRecord>, Vec<String>), ClusterError> {
    let api = secrets(c);
    let lp = ListParams::default().labels(&selector(release));
    let list = c.call("release records", || api.list(&lp)).await?;
    let heads: Vec<Value> = list
        .items
        .iter()
        .filter(|s| s.type_.as_deref() == Some(record::SECRET_TYPE))
        .map(to_value)
        .collect();
    // Parts are read only when a record names some, in one list for the release.
    let parts: Vec<Value> = if heads.iter().any(|h| ReleaseRecord::parts_of(h) > 0) {
        let lp = ListParams::default().labels(&parts_selector(release));
        c.call("release record parts", || api.list(&lp))
            .await?
            .items
            .iter()
            .map(to_value)
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for h in heads {
        let name = h
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match ReleaseRecord::from_secrets(&h, &parts) {
            Ok(r) => out.push(r),
            Err(e) => warnings.push(format!("skipped damaged record {name}: {e}")),
        }
    }
    out.sort_by_key(|r| r.revision);
    Ok((out, warnings))
}

/// Writes a record: created when it has no resourceVersion yet (its parts first, when it
/// needs some), else replaced by compare-and-swap. On success the record carries its new
/// resourceVersion. A conflict is someone else's write: the run changed hands
/// ([`ClusterError::LeaseLost`]) — unless this process still holds the lease, when the
/// conflicting write can only be its own that landed unanswered, and is adopted.
pub async fn put(c: &Cluster, rec: &mut ReleaseRecord) -> Result<(), ClusterError> {
    let me = lease::Operator::current().identity();
    rec.driven_by = Some(me);
    let name = record::secret_name(&rec.release, rec.revision);
    let what = format!("record {name}");
    let api = secrets(c);
    let pp = PostParams::default();
    let mut adopted = false;
    loop {
        let stored = rec
            .to_secrets()
            .map_err(|e| ClusterError::Record(e.to_string()))?;
        let written = match &rec.resource_version {
            None => {
                for part in stored.parts {
                    write_part(c, &api, part).await?;
                }
                let head = as_secret(stored.head, &what)?;
                c.write(&what, || api.create(&pp, &head)).await
            }
            Some(_) => {
                let head = as_secret(stored.head, &what)?;
                c.write(&what, || api.replace(&name, &pp, &head)).await
            }
        };
        match written {
            Ok(s) => {
                rec.resource_version = s.metadata.resource_version.clone();
                if let (Some(f), Some(rv)) = (c.fence(), &rec.resource_version) {
                    f.wrote_record(&name, rv);
                }
                return Ok(());
            }
            Err(ClusterError::Conflict { .. }) if !adopted && c.fence().is_some() => {
                // Still ours (the keeper has seen no one else's lease write)? Then the
                // conflicting version is this process's own unanswered write.
                if let Some(f) = c.fence() {
                    f.permit().await?;
                }
                let current = c.call(&what, || api.get(&name)).await?;
                let same_driver = current_driver(&current).as_deref() == rec.driven_by.as_deref();
                if !same_driver {
                    return Err(changed_hands(c, &rec.release, &current).await);
                }
                rec.resource_version = current.metadata.resource_version.clone();
                adopted = true;
            }
            Err(ClusterError::Conflict { .. }) => {
                let current = c.call(&what, || api.get(&name)).await?;
                return Err(changed_hands(c, &rec.release, &current).await);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The process that last wrote a stored record.
fn current_driver(s: &Secret) -> Option<String> {
    ReleaseRecord::head_of(&to_value(s)).ok()?.driven_by
}

/// The error for a record someone else changed: who holds the lease (or wrote the record
/// last) and what the run is now.
async fn changed_hands(c: &Cluster, release: &str, current: &Secret) -> ClusterError {
    let stored = ReleaseRecord::head_of(&to_value(current)).ok();
    let (holder, since) = match lease::holder_of(c, release).await {
        Ok(Some((h, since))) => (h, since),
        _ => (
            stored
                .as_ref()
                .and_then(|r| r.driven_by.clone())
                .unwrap_or_else(|| "another operator".into()),
            stored
                .as_ref()
                .map(|r| r.updated.clone())
                .unwrap_or_default(),
        ),
    };
    ClusterError::LeaseLost {
        release: release.to_string(),
        holder,
        since,
        run: stored.map(|r| run_now(&r)),
    }
}

/// "Aborted (revision 3)" — what a record's run is now, for messages.
pub fn run_now(r: &ReleaseRecord) -> String {
    format!("{:?} (revision {})", r.run.status, r.revision)
}

/// Writes one part of a record's rendered objects: created, or replaced when a part of
/// that name is left from an earlier attempt (parts are written before the record that
/// names them, so a stale one is no one's).
async fn write_part(c: &Cluster, api: &Api<Secret>, part: Value) -> Result<(), ClusterError> {
    let name = part
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let what = format!("record part {name}");
    let secret = as_secret(part, &what)?;
    let pp = PostParams::default();
    match c.write(&what, || api.create(&pp, &secret)).await {
        Ok(_) => Ok(()),
        Err(ClusterError::Conflict { .. }) => {
            let old = c.call(&what, || api.get(&name)).await?;
            let mut replaced = secret.clone();
            replaced.metadata.resource_version = old.metadata.resource_version;
            c.write(&what, || api.replace(&name, &pp, &replaced))
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Reads one revision's record.
pub async fn get(
    c: &Cluster,
    release: &str,
    revision: u32,
) -> Result<Option<ReleaseRecord>, ClusterError> {
    let name = record::secret_name(release, revision);
    let api = secrets(c);
    let head = match c.call(&format!("record {name}"), || api.get(&name)).await {
        Ok(s) => to_value(&s),
        Err(ClusterError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = Vec::new();
    for i in 1..=ReleaseRecord::parts_of(&head) {
        let pn = record::part_name(release, revision, i);
        match c.call(&format!("record part {pn}"), || api.get(&pn)).await {
            Ok(p) => parts.push(to_value(&p)),
            Err(ClusterError::NotFound { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    ReleaseRecord::from_secrets(&head, &parts)
        .map(Some)
        .map_err(|e| ClusterError::Record(format!("{name}: {e}")))
}

/// Deletes a revision's record, then its parts (a reader never sees a record whose parts
/// are gone before it).
pub async fn delete(c: &Cluster, rec: &ReleaseRecord) -> Result<(), ClusterError> {
    let api = secrets(c);
    let name = record::secret_name(&rec.release, rec.revision);
    let dp = DeleteParams::default();
    let head = match c.call(&name, || api.get(&name)).await {
        Ok(s) => Some(to_value(&s)),
        Err(ClusterError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    match c.write(&name, || api.delete(&name, &dp)).await {
        Ok(_) | Err(ClusterError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let parts = head.as_ref().map(ReleaseRecord::parts_of).unwrap_or(0);
    for i in 1..=parts {
        let pn = record::part_name(&rec.release, rec.revision, i);
        match c.write(&pn, || api.delete(&pn, &dp)).await {
            Ok(_) | Err(ClusterError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes the oldest records beyond `keep` (never the newest, never one whose run is
/// still active).
pub async fn prune(c: &Cluster, release: &str, keep: u32) -> Result<Vec<u32>, ClusterError> {
    let (all, _) = list(c, release).await?;
    let keep = keep.max(1) as usize;
    if all.len() <= keep {
        return Ok(Vec::new());
    }
    let mut pruned = Vec::new();
    for r in &all[..all.len() - keep] {
        if !r.run.status.is_terminal() {
            continue;
        }
        delete(c, r).await?;
        pruned.push(r.revision);
    }
    Ok(pruned)
}
