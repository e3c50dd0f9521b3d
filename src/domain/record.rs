//! The release record: what helmdeck keeps in the cluster for each revision of a release
//! (DESIGN.md "State in the cluster") — chart, values layers, the objects applied, strategy,
//! the run with its phases, who ran it, the outcome — and its encoding: gzipped JSON in the
//! data of a Secret `helmdeck.v1.<release>.r<N>` of type `helmdeck.io/release.v1`.

use crate::domain::hooks::HookEvent;
use crate::domain::run::{Run, StrategyKind};
use crate::domain::strategy::Color;
use crate::domain::values::LayerSummary;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{Read, Write};

pub const SECRET_TYPE: &str = "helmdeck.io/release.v1";
pub const DATA_KEY: &str = "release";
pub const LABEL_RELEASE: &str = "helmdeck.io/release";
pub const LABEL_REVISION: &str = "helmdeck.io/revision";
pub const LABEL_STATUS: &str = "helmdeck.io/status";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "helmdeck";
/// Records larger than this (gzipped) are refused: a Secret holds at most 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024 - 16 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartInfo {
    pub repository: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    /// The commit the chart was read from (git repositories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub release: String,
    pub namespace: String,
    pub revision: u32,
    pub service: String,
    pub environment: String,
    pub chart: ChartInfo,
    /// The layers that made the values (never the values of secret layers).
    pub values_layers: Vec<LayerSummary>,
    /// The objects of this revision as rendered (chart objects, before strategy transforms;
    /// CRDs among templates included).
    pub manifests: Manifests,
    /// What Helm's lifecycle needs of this revision: `crds/`, hooks.
    #[serde(default, skip_serializing_if = "HelmParts::is_empty")]
    pub helm: HelmParts,
    pub strategy: StrategyKind,
    /// Blue/green: the slot this revision lives in.
    pub slot: Option<Color>,
    /// The revision that was live when this run started (what a rollback returns to).
    #[serde(default)]
    pub previous: Option<u32>,
    /// Blue/green: the slot that was live when this run started.
    #[serde(default)]
    pub live_before: Option<Color>,
    /// Deployments taking part in canary / blue-green (empty: all).
    #[serde(default)]
    pub workloads: Vec<String>,
    pub run: Run,
    /// `user@host`.
    pub operator: String,
    pub created: String,
    pub updated: String,
}

/// The parts of a revision Helm's lifecycle acts on, apart from its objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HelmParts {
    /// The CRDs of the chart's `crds/` folder (applied on first install only, never pruned
    /// or deleted, unless the environment's `policy.crds` says `upgrade`).
    #[serde(default, skip_serializing_if = "Manifests::is_empty")]
    pub crds: Manifests,
    /// The chart's hooks as rendered (applied only when their events come).
    #[serde(default, skip_serializing_if = "Manifests::is_empty")]
    pub hooks: Manifests,
    /// The events the revision that was live before this run has hooks for (its rollback
    /// hooks run when this run goes back to it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_hooks: Vec<HookEvent>,
}

impl HelmParts {
    pub fn is_empty(&self) -> bool {
        self == &HelmParts::default()
    }
}

/// A revision's rendered objects, kept as the JSON text they are stored in and parsed only
/// when they are needed: records are read far more often (status, history, the console
/// every second) than their objects are, and the text is about a tenth of the parsed size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Manifests(Box<serde_json::value::RawValue>);

impl Manifests {
    pub fn new(objects: &[Value]) -> Manifests {
        // Serializing JSON values cannot fail (their map keys are strings).
        Manifests(serde_json::value::to_raw_value(objects).expect("JSON values serialize"))
    }

    /// The objects, parsed.
    pub fn values(&self) -> Result<Vec<Value>, RecordError> {
        serde_json::from_str(self.0.get())
            .map_err(|e| RecordError::Corrupt(format!("rendered objects: {e}")))
    }

    /// The `(apiVersion, kind)` of each object, without parsing the rest.
    pub fn kinds(&self) -> Result<Vec<(String, String)>, RecordError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Kind {
            #[serde(default)]
            api_version: String,
            #[serde(default)]
            kind: String,
        }
        let kinds: Vec<Kind> = serde_json::from_str(self.0.get())
            .map_err(|e| RecordError::Corrupt(format!("rendered objects: {e}")))?;
        Ok(kinds.into_iter().map(|k| (k.api_version, k.kind)).collect())
    }
}

impl Default for Manifests {
    fn default() -> Manifests {
        Manifests::new(&[])
    }
}

impl Manifests {
    pub fn is_empty(&self) -> bool {
        self.0.get() == "[]"
    }
}

impl PartialEq for Manifests {
    fn eq(&self, other: &Manifests) -> bool {
        self.0.get() == other.0.get()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("release record is not valid: {0}")]
    Corrupt(String),
    #[error("release record is {size} bytes gzipped, over the {max} a Secret can hold: the release renders too much")]
    TooLarge { size: usize, max: usize },
}

/// The Secret name of a revision's record.
pub fn secret_name(release: &str, revision: u32) -> String {
    format!("helmdeck.v1.{release}.r{revision}")
}

impl ReleaseRecord {
    /// gzipped JSON.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let json = serde_json::to_vec(self).map_err(|e| RecordError::Corrupt(e.to_string()))?;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json)
            .map_err(|e| RecordError::Corrupt(e.to_string()))?;
        let bytes = gz
            .finish()
            .map_err(|e| RecordError::Corrupt(e.to_string()))?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        Ok(bytes)
    }

    pub fn decode(bytes: &[u8]) -> Result<ReleaseRecord, RecordError> {
        let mut json = Vec::new();
        GzDecoder::new(bytes)
            .take(64 * 1024 * 1024)
            .read_to_end(&mut json)
            .map_err(|e| RecordError::Corrupt(format!("not gzip: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| RecordError::Corrupt(e.to_string()))
    }

    /// The status label value.
    pub fn status_label(&self) -> &'static str {
        match self.run.status {
            crate::domain::run::Status::Progressing => "progressing",
            crate::domain::run::Status::Paused => "paused",
            crate::domain::run::Status::Healthy => "healthy",
            crate::domain::run::Status::Degraded => "degraded",
            crate::domain::run::Status::Aborted => "aborted",
            crate::domain::run::Status::RolledBack => "rolled-back",
        }
    }

    /// The Secret that stores this record.
    pub fn to_secret(&self) -> Result<Value, RecordError> {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(self.encode()?);
        Ok(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": SECRET_TYPE,
            "metadata": {
                "name": secret_name(&self.release, self.revision),
                "namespace": self.namespace,
                "labels": {
                    LABEL_MANAGED_BY: MANAGED_BY,
                    LABEL_RELEASE: self.release,
                    LABEL_REVISION: self.revision.to_string(),
                    LABEL_STATUS: self.status_label(),
                },
            },
            "data": { DATA_KEY: data },
        }))
    }

    pub fn from_secret(secret: &Value) -> Result<ReleaseRecord, RecordError> {
        use base64::Engine as _;
        let data = secret
            .pointer(&format!("/data/{DATA_KEY}"))
            .and_then(Value::as_str)
            .ok_or_else(|| RecordError::Corrupt(format!("no `{DATA_KEY}` in the Secret's data")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| RecordError::Corrupt(format!("not base64: {e}")))?;
        ReleaseRecord::decode(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::{plan, CanaryAmount, PlanInput, PlannedCanaryStep};

    fn record() -> ReleaseRecord {
        let (p, promo) = plan(&PlanInput {
            strategy: StrategyKind::Canary,
            revision: 3,
            previous: Some(2),
            canary_steps: vec![
                PlannedCanaryStep::Pods(CanaryAmount::Replicas(1)),
                PlannedCanaryStep::Pause(None),
            ],
            live: None,
            auto_promote: false,
            scale_down_delay_ms: 0,
            pre_promotion: vec![],
            post_promotion: vec![],
            verify: vec![],
            lifecycle: crate::domain::run::Lifecycle::Upgrade,
            hooks: vec![],
            install_crds: false,
        });
        ReleaseRecord {
            release: "web".into(),
            namespace: "demo".into(),
            revision: 3,
            service: "web".into(),
            environment: "staging".into(),
            chart: ChartInfo {
                repository: "demo".into(),
                name: "web".into(),
                version: "1.2.0".into(),
                digest: "sha256:00".into(),
                revision: None,
            },
            values_layers: vec![],
            manifests: Manifests::new(&[
                serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            ]),
            helm: HelmParts::default(),
            strategy: StrategyKind::Canary,
            slot: None,
            previous: Some(2),
            live_before: None,
            workloads: vec![],
            run: Run::new(p, promo, 1_000),
            operator: "ops@host".into(),
            created: "2026-11-25T07:00:00Z".into(),
            updated: "2026-11-25T07:00:00Z".into(),
        }
    }

    #[test]
    fn a_record_round_trips_through_its_secret() {
        let r = record();
        let s = r.to_secret().expect("secret");
        assert_eq!(s["metadata"]["name"], "helmdeck.v1.web.r3");
        assert_eq!(s["type"], SECRET_TYPE);
        assert_eq!(s["metadata"]["labels"]["helmdeck.io/status"], "progressing");
        assert_eq!(ReleaseRecord::from_secret(&s).expect("decodes"), r);
    }

    #[test]
    fn corrupt_records_are_reported_not_panicked() {
        let mut s = record().to_secret().expect("secret");
        s["data"]["release"] = serde_json::json!("bm90IGd6aXA=");
        assert!(matches!(
            ReleaseRecord::from_secret(&s),
            Err(RecordError::Corrupt(_))
        ));
    }
}
