//! The audit log: one JSON line per mutating action (who, what, release, revision, outcome)
//! in the user's data directory (`$HELMDECK_DATA_DIR` overrides it). Never holds values.

use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    pub time: String,
    pub operator: &'a str,
    /// `cli`, `console` or `agent`.
    pub surface: &'a str,
    /// As a command line says it: `promote --past-gate smoke`, `rollback --to 3`.
    pub action: &'a str,
    /// The check of the paused gate a promote went past.
    pub past_gate: Option<&'a str>,
    pub service: &'a str,
    pub environment: &'a str,
    pub release: &'a str,
    pub namespace: &'a str,
    pub revision: Option<u32>,
    pub outcome: String,
}

pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HELMDECK_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("io", "helmdeck", "helmdeck")
        .map(|d| d.data_local_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("helmdeck-data"))
}

pub fn path() -> PathBuf {
    data_dir().join("audit.jsonl")
}

/// Appends an entry; a failure to write is logged, never fatal to the action.
pub fn append(entry: &AuditEntry<'_>) {
    let p = path();
    let write = || -> std::io::Result<()> {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)?;
        let mut line = serde_json::to_vec(entry).unwrap_or_default();
        line.push(b'\n');
        f.write_all(&line)
    };
    if let Err(e) = write() {
        tracing::warn!(path = %p.display(), error = %e, "cannot write the audit log");
    }
}
