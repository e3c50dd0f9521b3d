//! Executes what the user asked for against sources, Helm and (later) the cluster, and
//! reports through typed results. Shared by the CLI and the TUI: every decision lives here
//! or in `domain`, never in a face.

pub mod prepare;
