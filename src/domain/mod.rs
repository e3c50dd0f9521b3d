//! Pure logic: no I/O, no tokio, kube or ratatui. Values layering and provenance, the
//! manifest model, diff and masking, chart version constraints, YAML in and out.

pub mod act;
pub mod chartver;
pub mod deps;
pub mod diff;
pub mod duration;
pub mod gate;
pub mod health;
pub mod hooks;
pub mod kstatus;
pub mod manifest;
pub mod mask;
pub mod progress;
pub mod record;
pub mod repo_url;
pub mod run;
pub mod setvals;
pub mod strategy;
pub mod values;
pub mod yaml;
