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
    /// Its dependencies (name, version, digest, where from), vendored or carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<crate::domain::deps::Vendored>,
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
    /// The process that last wrote this record (`user@host (pid N)`): who drives the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driven_by: Option<String>,
    /// The record Secret's resourceVersion when it was read or last written: every update
    /// is a compare-and-swap on it. Not part of the stored record.
    #[serde(skip)]
    pub resource_version: Option<String>,
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

/// How many bytes of the gzipped rendered objects (and CRDs and hooks) one part Secret holds (its base64 text
/// then stays well under the API server's request limit).
pub const PART_BYTES: usize = 700 * 1024;
/// Secret type of the parts that hold a large record's rendered objects.
pub const PART_SECRET_TYPE: &str = "helmdeck.io/release-part.v1";
/// Label of a part Secret: its index, from 1.
pub const LABEL_PART: &str = "helmdeck.io/part";
/// Annotations of a record whose rendered objects live in parts: how many, and the sha256
/// of their gzipped bytes joined.
pub const ANN_PARTS: &str = "helmdeck.io/manifest-parts";
pub const ANN_PARTS_DIGEST: &str = "helmdeck.io/manifest-digest";

/// The Secret name of part `index` (from 1) of a revision's rendered objects.
pub fn part_name(release: &str, revision: u32, index: usize) -> String {
    format!("{}.m{index}", secret_name(release, revision))
}

/// What a large record keeps in its parts: everything it holds that a revision never changes
/// and that grows with the chart (its objects, `crds/`, hooks).
#[derive(Serialize, Deserialize)]
struct Bulk {
    manifests: Manifests,
    #[serde(default)]
    crds: Manifests,
    #[serde(default)]
    hooks: Manifests,
}

/// A record as Secrets: the record itself and, when its rendered objects do not fit in one
/// Secret, the parts that hold them (written once, before the record that names them).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub head: Value,
    pub parts: Vec<Value>,
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, RecordError> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes)
        .map_err(|e| RecordError::Corrupt(e.to_string()))?;
    gz.finish().map_err(|e| RecordError::Corrupt(e.to_string()))
}

fn gunzip(bytes: &[u8], what: &str) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .take(256 * 1024 * 1024)
        .read_to_end(&mut out)
        .map_err(|e| RecordError::Corrupt(format!("{what}: not gzip: {e}")))?;
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, RecordError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| RecordError::Corrupt(format!("{what}: not base64: {e}")))
}

impl ReleaseRecord {
    /// gzipped JSON, refused when over what one Secret holds.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        let bytes = self.encode_any_size()?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge {
                size: bytes.len(),
                max: MAX_RECORD_BYTES,
            });
        }
        Ok(bytes)
    }

    fn encode_any_size(&self) -> Result<Vec<u8>, RecordError> {
        let json = serde_json::to_vec(self).map_err(|e| RecordError::Corrupt(e.to_string()))?;
        gzip(&json)
    }

    pub fn decode(bytes: &[u8]) -> Result<ReleaseRecord, RecordError> {
        let json = gunzip(bytes, "release record")?;
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

    fn labels(&self) -> Value {
        serde_json::json!({
            LABEL_MANAGED_BY: MANAGED_BY,
            LABEL_RELEASE: self.release,
            LABEL_REVISION: self.revision.to_string(),
        })
    }

    /// The Secret that stores this record (whole: fails when it is too large for one).
    pub fn to_secret(&self) -> Result<Value, RecordError> {
        let stored = self.to_secrets()?;
        if !stored.parts.is_empty() {
            let size = self.encode_any_size()?.len();
            return Err(RecordError::TooLarge {
                size,
                max: MAX_RECORD_BYTES,
            });
        }
        Ok(stored.head)
    }

    /// The Secrets that store this record: one while it fits, else the record without its
    /// rendered objects plus numbered parts holding them (gzipped, split, with a digest). A
    /// revision's rendered objects never change, so the parts are written once; the record
    /// that names them is the commit point. The resourceVersion, when known, makes the
    /// record's update a compare-and-swap.
    pub fn to_secrets(&self) -> Result<StoredRecord, RecordError> {
        let whole = self.encode_any_size()?;
        let mut labels = self.labels();
        labels[LABEL_STATUS] = Value::String(self.status_label().into());
        let mut metadata = serde_json::json!({
            "name": secret_name(&self.release, self.revision),
            "namespace": self.namespace,
            "labels": labels,
        });
        if let Some(rv) = &self.resource_version {
            metadata["resourceVersion"] = Value::String(rv.clone());
        }
        let head = |metadata: Value, data: &[u8]| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": SECRET_TYPE,
                "metadata": metadata,
                "data": { DATA_KEY: b64(data) },
            })
        };
        if whole.len() <= MAX_RECORD_BYTES {
            return Ok(StoredRecord {
                head: head(metadata, &whole),
                parts: Vec::new(),
            });
        }
        let blob = serde_json::to_vec(&Bulk {
            manifests: self.manifests.clone(),
            crds: self.helm.crds.clone(),
            hooks: self.helm.hooks.clone(),
        })
        .map_err(|e| RecordError::Corrupt(e.to_string()))?;
        let objects = gzip(&blob)?;
        let digest = sha256_hex(&objects);
        let mut parts = Vec::new();
        for (i, chunk) in objects.chunks(PART_BYTES).enumerate() {
            let mut labels = self.labels();
            labels[LABEL_PART] = Value::String((i + 1).to_string());
            parts.push(serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": PART_SECRET_TYPE,
                "metadata": {
                    "name": part_name(&self.release, self.revision, i + 1),
                    "namespace": self.namespace,
                    "labels": labels,
                    "annotations": { ANN_PARTS_DIGEST: digest },
                },
                "data": { DATA_KEY: b64(chunk) },
            }));
        }
        let slim = ReleaseRecord {
            manifests: Manifests::default(),
            helm: HelmParts {
                crds: Manifests::default(),
                hooks: Manifests::default(),
                ..self.helm.clone()
            },
            ..self.clone()
        };
        let bytes = slim.encode()?;
        metadata["annotations"] = serde_json::json!({
            ANN_PARTS: parts.len().to_string(),
            ANN_PARTS_DIGEST: digest,
        });
        Ok(StoredRecord {
            head: head(metadata, &bytes),
            parts,
        })
    }

    /// How many parts a stored record's rendered objects are in (0: in the record itself).
    pub fn parts_of(secret: &Value) -> usize {
        secret
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANN_PARTS))
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// A record read back from its Secret (one that needs no parts).
    pub fn from_secret(secret: &Value) -> Result<ReleaseRecord, RecordError> {
        ReleaseRecord::from_secrets(secret, &[])
    }

    /// The run and metadata of a stored record without its parts (its rendered objects are
    /// empty when they live in parts): enough to see who drives it and where it stands.
    pub fn head_of(secret: &Value) -> Result<ReleaseRecord, RecordError> {
        let data = secret
            .pointer(&format!("/data/{DATA_KEY}"))
            .and_then(Value::as_str)
            .ok_or_else(|| RecordError::Corrupt(format!("no `{DATA_KEY}` in the Secret's data")))?;
        let mut rec = ReleaseRecord::decode(&unb64(data, "release record")?)?;
        rec.resource_version = secret
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(rec)
    }

    /// A record read back from its Secret and, when it names some, its parts (any order).
    /// Parts that are missing, of another write, or damaged are refused: the digest covers
    /// them all.
    pub fn from_secrets(secret: &Value, parts: &[Value]) -> Result<ReleaseRecord, RecordError> {
        let mut rec = ReleaseRecord::head_of(secret)?;
        let n = ReleaseRecord::parts_of(secret);
        if n == 0 {
            return Ok(rec);
        }
        let digest = secret
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANN_PARTS_DIGEST))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut joined = Vec::new();
        for i in 1..=n {
            let name = part_name(&rec.release, rec.revision, i);
            let part = parts
                .iter()
                .find(|p| p.pointer("/metadata/name").and_then(Value::as_str) == Some(&name))
                .ok_or_else(|| RecordError::Corrupt(format!("part {name} is missing")))?;
            let text = part
                .pointer(&format!("/data/{DATA_KEY}"))
                .and_then(Value::as_str)
                .ok_or_else(|| RecordError::Corrupt(format!("part {name} holds no data")))?;
            joined.extend(unb64(text, &name)?);
        }
        if sha256_hex(&joined) != digest {
            return Err(RecordError::Corrupt(format!(
                "the rendered objects' parts do not match the record's digest {digest}"
            )));
        }
        let text = String::from_utf8(gunzip(&joined, "rendered objects")?)
            .map_err(|e| RecordError::Corrupt(format!("rendered objects: {e}")))?;
        let bulk: Bulk = serde_json::from_str(&text)
            .map_err(|e| RecordError::Corrupt(format!("rendered objects: {e}")))?;
        rec.manifests = bulk.manifests;
        rec.helm.crds = bulk.crds;
        rec.helm.hooks = bulk.hooks;
        Ok(rec)
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
                dependencies: Vec::new(),
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
            driven_by: None,
            resource_version: None,
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

    /// Rendered objects that gzip badly (random text), about `mb` MB of them.
    fn big_manifests(mb: usize) -> Manifests {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut objs = Vec::new();
        let mut size = 0;
        while size < mb * 1024 * 1024 {
            let mut text = String::with_capacity(4096);
            while text.len() < 4000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(&format!("{x:016x}"));
            }
            size += text.len();
            objs.push(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{}", objs.len())}, "data": {"blob": text}}));
        }
        Manifests::new(&objs)
    }

    #[test]
    fn a_record_too_large_for_one_secret_is_split_into_parts_and_read_back_whole() {
        let mut r = record();
        r.manifests = big_manifests(3);
        let stored = r.to_secrets().expect("stored");
        assert!(stored.parts.len() >= 2, "{} parts", stored.parts.len());
        for p in &stored.parts {
            let data = p["data"]["release"].as_str().expect("data");
            assert!(data.len() < 1024 * 1024, "part of {} bytes", data.len());
            assert_eq!(p["type"], PART_SECRET_TYPE);
            assert!(p["metadata"]["labels"].get(LABEL_STATUS).is_none());
        }
        assert_eq!(ReleaseRecord::parts_of(&stored.head), stored.parts.len());
        let mut reversed = stored.parts.clone();
        reversed.reverse();
        let back = ReleaseRecord::from_secrets(&stored.head, &reversed).expect("whole");
        assert_eq!(back, r);
        // The record alone, or with a part of another write, is refused.
        assert!(matches!(
            ReleaseRecord::from_secret(&stored.head),
            Err(RecordError::Corrupt(m)) if m.contains("missing")
        ));
        let mut tampered = stored.parts.clone();
        tampered[0]["data"]["release"] = serde_json::json!(b64(&gzip(b"[]").expect("gz")));
        assert!(matches!(
            ReleaseRecord::from_secrets(&stored.head, &tampered),
            Err(RecordError::Corrupt(m)) if m.contains("digest")
        ));
        // One Secret alone cannot hold it.
        assert!(matches!(r.to_secret(), Err(RecordError::TooLarge { .. })));
    }

    #[test]
    fn the_resource_version_is_read_and_sent_back_for_compare_and_swap() {
        let mut r = record();
        r.resource_version = Some("42".into());
        let s = r.to_secret().expect("secret");
        assert_eq!(s["metadata"]["resourceVersion"], "42");
        let back = ReleaseRecord::from_secret(&s).expect("decodes");
        assert_eq!(back.resource_version.as_deref(), Some("42"));
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
