//! Release records in the cluster: one Secret per revision, listed by label, written after
//! every transition of a run, pruned to `keep_revisions`.

use super::{with_retry, Cluster, ClusterError};
use crate::domain::record::{self, ReleaseRecord};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};

fn secrets(c: &Cluster) -> Api<Secret> {
    Api::namespaced(c.client.clone(), &c.namespace)
}

/// Records carry a status label; the release's own Secrets (also labelled with the release)
/// do not.
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

/// Every record of a release, oldest first. Damaged records are skipped with a warning.
pub async fn list(
    c: &Cluster,
    release: &str,
) -> Result<(Vec<ReleaseRecord>, Vec<String>), ClusterError> {
    let api = secrets(c);
    let lp = ListParams::default().labels(&selector(release));
    let list = with_retry(&c.server, "release records", || api.list(&lp)).await?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for s in list.items {
        let name = s.metadata.name.clone().unwrap_or_default();
        if s.type_.as_deref() != Some(record::SECRET_TYPE) {
            continue;
        }
        let v = serde_json::to_value(&s).unwrap_or_default();
        match ReleaseRecord::from_secret(&v) {
            Ok(r) => out.push(r),
            Err(e) => warnings.push(format!("skipped damaged record {name}: {e}")),
        }
    }
    out.sort_by_key(|r| r.revision);
    Ok((out, warnings))
}

/// Writes (creates or replaces) a record.
pub async fn put(c: &Cluster, rec: &ReleaseRecord) -> Result<(), ClusterError> {
    let secret = rec
        .to_secret()
        .map_err(|e| ClusterError::Record(e.to_string()))?;
    let name = record::secret_name(&rec.release, rec.revision);
    let api = secrets(c);
    let params = PatchParams::apply("helmdeck-records").force();
    let patch = Patch::Apply(&secret);
    with_retry(&c.server, &format!("record {name}"), || {
        api.patch(&name, &params, &patch)
    })
    .await?;
    Ok(())
}

/// Reads one revision's record.
pub async fn get(
    c: &Cluster,
    release: &str,
    revision: u32,
) -> Result<Option<ReleaseRecord>, ClusterError> {
    let name = record::secret_name(release, revision);
    let api = secrets(c);
    match with_retry(&c.server, &format!("record {name}"), || api.get(&name)).await {
        Ok(s) => {
            let v = serde_json::to_value(&s).unwrap_or_default();
            ReleaseRecord::from_secret(&v)
                .map(Some)
                .map_err(|e| ClusterError::Record(format!("{name}: {e}")))
        }
        Err(ClusterError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the oldest records beyond `keep` (never the newest, never one whose run is
/// still active).
pub async fn prune(c: &Cluster, release: &str, keep: u32) -> Result<Vec<u32>, ClusterError> {
    let (all, _) = list(c, release).await?;
    let keep = keep.max(1) as usize;
    if all.len() <= keep {
        return Ok(Vec::new());
    }
    let api = secrets(c);
    let mut pruned = Vec::new();
    for r in &all[..all.len() - keep] {
        if !r.run.status.is_terminal() {
            continue;
        }
        let name = record::secret_name(release, r.revision);
        let dp = DeleteParams::default();
        match with_retry(&c.server, &name, || api.delete(&name, &dp)).await {
            Ok(_) | Err(ClusterError::NotFound { .. }) => pruned.push(r.revision),
            Err(e) => return Err(e),
        }
    }
    Ok(pruned)
}
