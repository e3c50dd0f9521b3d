//! The releases Helm itself installed in a namespace, read from its storage: Secrets
//! `sh.helm.release.v1.<release>.v<revision>` labelled `owner=helm`, whose `release` key holds
//! the release as gzipped JSON in base64 (Helm's `storage/driver/util.go` encodeRelease).
//! Read-only: helmdeck never writes Helm's records.

use super::{classify, Cluster, ClusterError};
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use std::io::Read;

/// One Helm release: its newest revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRelease {
    pub name: String,
    pub revision: u32,
    pub status: String,
    pub chart: String,
    pub version: String,
}

/// Helm's releases in the cluster's namespace, newest revision of each, by name.
pub async fn list(cluster: &Cluster) -> Result<Vec<HelmRelease>, ClusterError> {
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let lp = ListParams::default().labels("owner=helm");
    let list = api
        .list(&lp)
        .await
        .map_err(|e| classify(&cluster.server, "Helm release Secrets", e))?;
    let mut out: Vec<HelmRelease> = Vec::new();
    for s in list.items {
        let labels = s.metadata.labels.clone().unwrap_or_default();
        let Some(name) = labels.get("name").cloned() else {
            continue;
        };
        let revision = labels
            .get("version")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        let (chart, version) = s
            .data
            .as_ref()
            .and_then(|d| d.get("release"))
            .and_then(|b| decode(&b.0))
            .map(|r| chart_of(&r))
            .unwrap_or_default();
        let release = HelmRelease {
            name,
            revision,
            status: labels.get("status").cloned().unwrap_or_default(),
            chart,
            version,
        };
        match out.iter_mut().find(|r| r.name == release.name) {
            Some(r) if r.revision < release.revision => *r = release,
            Some(_) => {}
            None => out.push(release),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Helm's encoding: base64 of (gzipped, usually) JSON.
pub fn decode(stored: &[u8]) -> Option<serde_json::Value> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored.trim_ascii())
        .ok()?;
    let json = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .ok()?;
        out
    } else {
        raw
    };
    serde_json::from_slice(&json).ok()
}

fn chart_of(release: &serde_json::Value) -> (String, String) {
    let meta = &release["chart"]["metadata"];
    (
        meta["name"].as_str().unwrap_or_default().to_string(),
        meta["version"].as_str().unwrap_or_default().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn helms_encoding_is_read_back() {
        let json =
            br#"{"name":"web","version":3,"chart":{"metadata":{"name":"web","version":"1.2.0"}}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).expect("gzip");
        let stored = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("gzip"));
        let r = decode(stored.as_bytes()).expect("decodes");
        assert_eq!(chart_of(&r), ("web".into(), "1.2.0".into()));
        // Helm before 3 did not gzip.
        let plain = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(decode(plain.as_bytes()), Some(r));
        assert_eq!(decode(b"not base64!"), None);
    }
}
