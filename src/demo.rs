//! `helmdeck demo`: the simulated cluster in-process, the demo configuration pointed at it,
//! the first revision of every service deployed behind the console's first frame. The only
//! module besides `main` and `cli::sim` that starts the simulated cluster.

use crate::cli::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::domain::act::{Act, Deploy, Surface};
use crate::engine::release::{self, ActOptions};
use crate::engine::sessions::Sessions;
use crate::render::{Helm, Renderer};
use crate::tui::Msg;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// The demo's simulated cluster: 10 simulated seconds per second, pods ready in 1–3 s, and
/// images tagged `*-crash` crash-looping.
const SCENARIO: &str = "speed: 10\npod_start: { min: 1s, max: 3s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 2s\n";

/// The demo configuration: `$HELMDECK_DEMO_CONFIG`, `./assets/demo/helmdeck.yaml`, or the
/// one of the source tree helmdeck was built from.
pub fn config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("HELMDECK_DEMO_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("assets/demo/helmdeck.yaml");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/helmdeck.yaml")
}

/// Loads the demo configuration with every environment pointed at the simulated cluster.
pub fn config(kubeconfig: &Path) -> Result<Config, Failure> {
    let mut cfg = Config::load(&config_path())?;
    for e in &mut cfg.file.environments {
        e.cluster.kubeconfig = Some(kubeconfig.display().to_string());
        e.cluster.context = Some("helmdeck-sim".into());
    }
    Ok(cfg)
}

/// The demo's secret from the environment, with a fake value when unset.
pub fn secret_env() {
    if std::env::var_os("DEMO_DB_PASSWORD").is_none_or(|v| v.is_empty()) {
        // Set before any task reads it; the value is a placeholder, not a secret.
        std::env::set_var("DEMO_DB_PASSWORD", "demo-db-password-not-secret");
    }
}

/// Every service in every environment: what the demo deploys first.
pub fn targets(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in &cfg.file.environments {
        for svc in &cfg.file.services {
            out.push((svc.name.clone(), e.name.clone()));
        }
    }
    out
}

/// Creates the namespaces of `targets` and deploys their first revision, one after the
/// other, reporting on the status line (and asking for the release list to be reloaded).
/// Returns how many failed.
pub async fn deploy_all(
    sessions: &Sessions,
    targets: &[(String, String)],
    tx: &mpsc::Sender<Msg>,
) -> usize {
    let notice = |text: String, error: bool| {
        let _ = tx.try_send(Msg::Notice { text, error });
    };
    let helm = match Helm::locate(sessions.config().file.helm.binary.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            notice(format!("demo: {e} — {}", e.hint()), true);
            return targets.len();
        }
    };
    let renderer = Renderer::new(helm);
    let mut namespaces_done: Vec<String> = Vec::new();
    let mut failures = 0;
    let explain = |e: crate::engine::EngineError| crate::app::jobs::problem(e.into()).text();
    for (svc, env) in targets {
        if !namespaces_done.contains(env) {
            if let Err(e) = create_namespace(sessions, env).await {
                notice(format!("demo: namespace for {env}: {}", explain(e)), true);
                return targets.len();
            }
            namespaces_done.push(env.clone());
        }
        notice(format!("demo: deploying {svc} to {env}…"), false);
        let result = async {
            let s = sessions.open(svc, env).await?;
            let opts = ActOptions {
                surface: Surface::Console,
                renderer: Some(renderer.clone()),
                ..Default::default()
            };
            release::act(&s, Act::Deploy(Deploy::default()), &opts, &|_| {}).await
        }
        .await;
        if let Err(e) = result {
            failures += 1;
            notice(format!("demo: {svc} in {env}: {}", explain(e)), true);
        }
        let _ = tx.try_send(Msg::Reload);
    }
    if failures == 0 {
        notice(
            "demo ready: every service runs its first revision — pick one and press d (try --set image.tag=1.3.0-crash on checkout)".into(),
            false,
        );
    }
    failures
}

async fn create_namespace(
    sessions: &Sessions,
    env: &str,
) -> Result<(), crate::engine::EngineError> {
    let c = sessions.cluster(env).await?;
    let ns = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": c.namespace },
    });
    c.apply(&ns).await?;
    Ok(())
}

/// `helmdeck demo`: starts the simulated cluster in-process (a free port, its kubeconfig in
/// a temporary folder removed on exit) and opens the console on the demo configuration,
/// the first deploys running behind the first frame.
pub async fn run() -> CmdResult {
    use crate::sim::{self, Scenario, SimOptions};
    let dir = std::env::temp_dir().join(format!("helmdeck-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot create {}: {e}", dir.display()),
            "check the temporary directory ($TMPDIR)",
        )
    })?;
    let kubeconfig = dir.join("kubeconfig");
    let scenario = Scenario::from_yaml(SCENARIO)
        .map_err(|e| Failure::new(Exit::Failed, format!("demo scenario: {e}"), ""))?;
    let handle = sim::start(SimOptions {
        speed: 10.0,
        scenario: Some(scenario),
        kubeconfig_path: Some(kubeconfig.clone()),
        ..Default::default()
    })
    .await
    .map_err(|e| {
        let _ = std::fs::remove_dir_all(&dir);
        Failure::new(
            Exit::Unreachable,
            format!("cannot start the simulated cluster: {e}"),
            "check that loopback networking works",
        )
    })?;
    secret_env();
    let result = match config(&kubeconfig) {
        Ok(cfg) => {
            let all = targets(&cfg);
            let beside: crate::app::Beside = Box::new(move |sessions, tx| {
                tokio::spawn(async move {
                    deploy_all(&sessions, &all, &tx).await;
                })
            });
            crate::app::on_terminal(cfg, Some(beside)).await
        }
        Err(f) => Err(f),
    };
    handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
