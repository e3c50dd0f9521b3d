//! Secrets as data: where each one came from, a keyed fingerprint of its value (what the
//! release record keeps — never the value), and which secrets changed between two revisions.
//! Pure: values come in already read; the fingerprint key is given by the caller.

use crate::domain::values::LayerKind;
use serde::{Deserialize, Serialize};

/// Where a secret's value was read: what `values --explain`, the release record and
/// `diff --revision` name instead of the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecretOrigin {
    /// An environment variable of the helmdeck process.
    Env { var: String },
    /// A file, as written in helmdeck.yaml.
    File { file: String },
    /// A program's standard output, as configured (program and arguments).
    Command { command: Vec<String> },
    /// A key of a cluster Secret.
    Cluster {
        namespace: String,
        name: String,
        key: String,
    },
    /// A value of a SOPS-encrypted values file (local, or from git at a commit).
    Sops {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
}

impl SecretOrigin {
    /// One phrase for people: `env DB_PASSWORD`, `cluster Secret db/creds key password`.
    pub fn label(&self) -> String {
        match self {
            SecretOrigin::Env { var } => format!("env {var}"),
            SecretOrigin::File { file } => format!("file {file}"),
            SecretOrigin::Command { command } => format!("command {}", command.join(" ")),
            SecretOrigin::Cluster {
                namespace,
                name,
                key,
            } => format!("cluster Secret {namespace}/{name} key {key}"),
            SecretOrigin::Sops {
                file,
                repository: Some(r),
                commit,
            } => format!(
                "sops:git:{r}@{}:{file}",
                commit
                    .as_deref()
                    .map(|c| c.get(..7).unwrap_or(c))
                    .unwrap_or("?")
            ),
            SecretOrigin::Sops { file, .. } => format!("sops:{file}"),
        }
    }

    /// The same source, whatever commit it was read at (a SOPS file from git keeps its
    /// identity across commits; its values' fingerprints say whether they changed).
    fn same_source(&self, other: &SecretOrigin) -> bool {
        match (self, other) {
            (
                SecretOrigin::Sops {
                    file: a,
                    repository: ra,
                    ..
                },
                SecretOrigin::Sops {
                    file: b,
                    repository: rb,
                    ..
                },
            ) => a == b && ra == rb,
            (a, b) => a == b,
        }
    }
}

/// One secret value in force for a release, with where it came from. Its `Debug` never
/// shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    /// JSON Pointer into the values (`/database/password`).
    pub pointer: String,
    pub layer: LayerKind,
    pub origin: SecretOrigin,
    pub value: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("pointer", &self.pointer)
            .field("layer", &self.layer)
            .field("origin", &self.origin)
            .field("value", &crate::domain::mask::MASK)
            .finish()
    }
}

/// What the release record keeps of a secret: its place, its source and an HMAC of its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFingerprint {
    pub pointer: String,
    pub layer: LayerKind,
    pub origin: SecretOrigin,
    /// HMAC-SHA256 (hex) of the pointer and the value, keyed by the namespace's
    /// fingerprint key: equal values give equal fingerprints only under the same key and
    /// at the same place, and nobody without the key can test guesses against it.
    pub fingerprint: String,
}

/// The keyed fingerprint of `value` at `pointer`.
pub fn fingerprint(key: &[u8], pointer: &str, value: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(pointer.as_bytes());
    ctx.update(&[0]);
    ctx.update(value.as_bytes());
    hex::encode(ctx.sign().as_ref())
}

/// Fingerprints of every secret value, for the record.
pub fn fingerprints(key: &[u8], secrets: &[SecretValue]) -> Vec<SecretFingerprint> {
    secrets
        .iter()
        .map(|s| SecretFingerprint {
            pointer: s.pointer.clone(),
            layer: s.layer,
            origin: s.origin.clone(),
            fingerprint: fingerprint(key, &s.pointer, &s.value),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretChangeKind {
    Added,
    Removed,
    /// Same source, another value (a rotated password behind an unchanged reference).
    ValueChanged,
    /// Another source; `value_changed` says whether the value moved too.
    SourceChanged,
    /// The old revision kept no fingerprint to compare with (recorded before fingerprints,
    /// or under another key).
    Unknown,
}

/// A secret that differs between two revisions — never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretChange {
    /// Dotted key, as `values --explain` shows it.
    pub key: String,
    pub change: SecretChangeKind,
    pub old_source: Option<String>,
    pub new_source: Option<String>,
    pub value_changed: bool,
}

impl SecretChange {
    /// `secret database.password (env DB_PASSWORD): value changed`.
    pub fn line(&self) -> String {
        let src = |s: &Option<String>| s.clone().unwrap_or_default();
        match self.change {
            SecretChangeKind::Added => {
                format!("secret {} ({}): added", self.key, src(&self.new_source))
            }
            SecretChangeKind::Removed => {
                format!("secret {} ({}): removed", self.key, src(&self.old_source))
            }
            SecretChangeKind::ValueChanged => format!(
                "secret {} ({}): value changed",
                self.key,
                src(&self.new_source)
            ),
            SecretChangeKind::SourceChanged => format!(
                "secret {}: source {} → {}{}",
                self.key,
                src(&self.old_source),
                src(&self.new_source),
                if self.value_changed {
                    ", value changed"
                } else {
                    ", same value"
                }
            ),
            SecretChangeKind::Unknown => format!(
                "secret {} ({}): not comparable (the old revision kept no fingerprint of it)",
                self.key,
                src(&self.new_source)
            ),
        }
    }
}

fn dotted(pointer: &str) -> String {
    crate::domain::yaml::pointer_segments(pointer)
        .iter()
        .map(|s| {
            if s.contains('.') {
                format!("{s:?}")
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Which secrets differ between an old revision's fingerprints and the new ones (both taken
/// with the same key), matched by their place in the values.
pub fn secret_changes(old: &[SecretFingerprint], new: &[SecretFingerprint]) -> Vec<SecretChange> {
    let mut out = Vec::new();
    for n in new {
        let change = match old.iter().find(|o| o.pointer == n.pointer) {
            None => Some((SecretChangeKind::Added, None, true)),
            Some(o) if !o.origin.same_source(&n.origin) => Some((
                SecretChangeKind::SourceChanged,
                Some(o.origin.label()),
                o.fingerprint != n.fingerprint,
            )),
            Some(o) if o.fingerprint.is_empty() || n.fingerprint.is_empty() => {
                Some((SecretChangeKind::Unknown, Some(o.origin.label()), false))
            }
            Some(o) if o.fingerprint != n.fingerprint => {
                Some((SecretChangeKind::ValueChanged, Some(o.origin.label()), true))
            }
            Some(_) => None,
        };
        if let Some((change, old_source, value_changed)) = change {
            out.push(SecretChange {
                key: dotted(&n.pointer),
                change,
                old_source,
                new_source: Some(n.origin.label()),
                value_changed,
            });
        }
    }
    for o in old {
        if !new.iter().any(|n| n.pointer == o.pointer) {
            out.push(SecretChange {
                key: dotted(&o.pointer),
                change: SecretChangeKind::Removed,
                old_source: Some(o.origin.label()),
                new_source: None,
                value_changed: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(key: &[u8], pointer: &str, origin: SecretOrigin, value: &str) -> SecretFingerprint {
        fingerprints(
            key,
            &[SecretValue {
                pointer: pointer.into(),
                layer: LayerKind::Secret,
                origin,
                value: value.into(),
            }],
        )
        .remove(0)
    }

    fn env(var: &str) -> SecretOrigin {
        SecretOrigin::Env { var: var.into() }
    }

    #[test]
    fn a_fingerprint_depends_on_key_place_and_value_and_never_holds_the_value() {
        let a = fingerprint(b"k1", "/db/password", "hunter2");
        assert_eq!(a, fingerprint(b"k1", "/db/password", "hunter2"));
        assert_ne!(a, fingerprint(b"k2", "/db/password", "hunter2"));
        assert_ne!(a, fingerprint(b"k1", "/api/token", "hunter2"));
        assert_ne!(a, fingerprint(b"k1", "/db/password", "hunter3"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("hunter2"));
    }

    #[test]
    fn a_rotated_value_behind_the_same_source_is_a_value_change() {
        let old = vec![fp(b"k", "/db/password", env("DB_PASSWORD"), "old")];
        let new = vec![fp(b"k", "/db/password", env("DB_PASSWORD"), "new")];
        let c = secret_changes(&old, &new);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].change, SecretChangeKind::ValueChanged);
        assert_eq!(
            c[0].line(),
            "secret db.password (env DB_PASSWORD): value changed"
        );
        assert!(secret_changes(&new, &new).is_empty());
    }

    #[test]
    fn added_removed_and_moved_secrets_are_named_with_their_sources() {
        let cluster = SecretOrigin::Cluster {
            namespace: "web".into(),
            name: "db".into(),
            key: "password".into(),
        };
        let old = vec![
            fp(b"k", "/db/password", env("DB_PASSWORD"), "same"),
            fp(b"k", "/old/token", env("OLD"), "x"),
        ];
        let new = vec![
            fp(b"k", "/db/password", cluster, "same"),
            fp(b"k", "/api/token", env("TOKEN"), "y"),
        ];
        let lines: Vec<String> = secret_changes(&old, &new)
            .iter()
            .map(SecretChange::line)
            .collect();
        assert_eq!(
            lines,
            vec![
                "secret db.password: source env DB_PASSWORD → cluster Secret web/db key password, same value",
                "secret api.token (env TOKEN): added",
                "secret old.token (env OLD): removed",
            ]
        );
    }

    #[test]
    fn a_sops_file_on_a_new_commit_is_the_same_source() {
        let at = |c: &str| SecretOrigin::Sops {
            file: "env/prod.yaml".into(),
            repository: Some("envs".into()),
            commit: Some(c.into()),
        };
        let old = vec![fp(b"k", "/db/password", at("aaaaaaaaaa"), "v1")];
        let same = vec![fp(b"k", "/db/password", at("bbbbbbbbbb"), "v1")];
        let rotated = vec![fp(b"k", "/db/password", at("bbbbbbbbbb"), "v2")];
        assert!(secret_changes(&old, &same).is_empty());
        let c = secret_changes(&old, &rotated);
        assert_eq!(c[0].change, SecretChangeKind::ValueChanged);
        assert_eq!(
            c[0].line(),
            "secret db.password (sops:git:envs@bbbbbbb:env/prod.yaml): value changed"
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        let s = SecretValue {
            pointer: "/a".into(),
            layer: LayerKind::Secret,
            origin: env("A"),
            value: "hunter2".into(),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
