//! The key of the secret fingerprints in release records: 32 random bytes in one Secret per
//! namespace (`helmdeck-fingerprint-key`), created by the first deploy that needs it and never
//! rotated (a new key would make every older fingerprint incomparable). Whoever can read the
//! records can read it too — the fingerprints keep values from people who see a record
//! elsewhere (a backup, a support ticket), not from the namespace's own readers.

use super::{Cluster, ClusterError};
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

pub const SECRET_NAME: &str = "helmdeck-fingerprint-key";
const DATA_KEY: &str = "key";

fn decode(s: &Secret) -> Option<Vec<u8>> {
    let v = s.data.as_ref()?.get(DATA_KEY)?.0.clone();
    (v.len() >= 16).then_some(v)
}

/// The namespace's key, if it has one.
pub async fn read(c: &Cluster) -> Result<Option<Vec<u8>>, ClusterError> {
    let api: Api<Secret> = Api::namespaced(c.client.clone(), &c.namespace);
    let got = c.call(SECRET_NAME, || api.get_opt(SECRET_NAME)).await?;
    Ok(got.as_ref().and_then(decode))
}

/// The namespace's key, created when it has none. Two deploys creating it at once agree:
/// the create is not an apply, so the second one's is refused and it reads the first's.
pub async fn read_or_create(c: &Cluster) -> Result<Vec<u8>, ClusterError> {
    if let Some(k) = read(c).await? {
        return Ok(k);
    }
    let mut key = vec![0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| ClusterError::Record("no random bytes for the fingerprint key".into()))?;
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "labels": { crate::domain::record::LABEL_MANAGED_BY: crate::domain::record::MANAGED_BY },
        },
        "type": "Opaque",
        "data": { DATA_KEY: base64::engine::general_purpose::STANDARD.encode(&key) },
    }))
    .map_err(|e| ClusterError::Record(e.to_string()))?;
    let api: Api<Secret> = Api::namespaced(c.client.clone(), &c.namespace);
    let pp = PostParams::default();
    match c.write(SECRET_NAME, || api.create(&pp, &secret)).await {
        Ok(_) => Ok(key),
        Err(ClusterError::Conflict { .. }) => read(c)
            .await?
            .ok_or_else(|| ClusterError::Record(format!("{SECRET_NAME} exists but holds no key"))),
        Err(e) => Err(e),
    }
}
