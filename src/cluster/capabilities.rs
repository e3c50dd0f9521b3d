//! What `.Capabilities` must say of a cluster: its version (`/version`) and every
//! `group/version` and `group/version/Kind` it serves, as Helm's `GetVersionSet` lists them.

use super::{classify, Cluster, ClusterError};
use std::collections::BTreeSet;

/// The cluster's `gitVersion` and its API version set (sorted, without duplicates).
pub async fn read(cluster: &Cluster) -> Result<(String, Vec<String>), ClusterError> {
    let c = &cluster.client;
    let err = |what: &str, e: kube::Error| classify(&cluster.server, what, e);
    let version = c
        .apiserver_version()
        .await
        .map_err(|e| err("the server version", e))?
        .git_version;
    let mut set = BTreeSet::new();
    let core = c
        .list_core_api_versions()
        .await
        .map_err(|e| err("API versions", e))?;
    let mut group_versions: Vec<String> = core.versions.clone();
    let groups = c
        .list_api_groups()
        .await
        .map_err(|e| err("API groups", e))?;
    for g in groups.groups {
        for v in g.versions {
            group_versions.push(v.group_version);
        }
    }
    for gv in group_versions {
        let resources = if gv.contains('/') {
            c.list_api_group_resources(&gv).await
        } else {
            c.list_core_api_resources(&gv).await
        }
        .map_err(|e| err(&format!("the resources of {gv}"), e))?;
        for r in resources.resources {
            set.insert(format!("{gv}/{}", r.kind));
        }
        set.insert(gv);
    }
    Ok((version, set.into_iter().collect()))
}
