//! `helmdeck sim`: serves the simulated cluster on loopback until Ctrl-C or SIGTERM, and
//! writes its kubeconfig once it answers.

use super::{CmdResult, Exit, Failure};
use crate::sim::{start, Scenario, SimOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Where to write the kubeconfig (context `helmdeck-sim`, namespace `default`)
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Scenario file: speed, pod start times, faults (see README)
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Simulated seconds per real second (the scenario's `speed` wins when it has one)
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

pub async fn run(args: &SimArgs) -> CmdResult {
    let scenario = match &args.scenario {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Failure::bad_input(
                    format!("cannot read scenario {}: {e}", p.display()),
                    "check the path given to --scenario",
                )
            })?;
            Some(Scenario::from_yaml(&text).map_err(|e| {
                Failure::bad_input(
                    format!("{}: {e}", p.display()),
                    "see README.md, \"Simulated cluster\", for the scenario format",
                )
            })?)
        }
    };
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(Failure::bad_input(
            format!("--speed {} is not a positive number", args.speed),
            "use e.g. --speed 10",
        ));
    }
    let opts = SimOptions {
        port: args.port,
        speed: args.speed,
        scenario,
        kubeconfig_path: Some(args.kubeconfig.clone()),
        ..Default::default()
    };
    let handle = start(opts).await.map_err(|e| {
        Failure::new(
            Exit::Unreachable,
            format!("cannot start the simulated cluster: {e}"),
            "pick another --port, or 0 for any free port",
        )
    })?;
    eprintln!("helmdeck sim serving {} — kubeconfig written to {} (context helmdeck-sim); Ctrl-C stops it", handle.url(), args.kubeconfig.display());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::new(Exit::Failed, format!("cannot listen for SIGTERM: {e}"), ""))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown().await;
    Ok(Exit::Done)
}
