//! helmdeck: a terminal deployment console for Helm charts on Kubernetes.
//! The binary (`main.rs`) picks the TUI or a headless command; everything else lives here.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod render;
pub mod sim;
pub mod sources;
pub mod tui;
