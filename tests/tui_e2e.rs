//! Console flows end to end: key events through `update`, effects run by the executor
//! against the simulated cluster (in-process, on loopback) with real Helm.

mod support;

use helmdeck::app::{self, Executor};
use helmdeck::config::Config;
use helmdeck::domain::run::Status;
use helmdeck::sim;
use helmdeck::tui::state::{EventKind, Popup};
use helmdeck::tui::{update, Key, KeyCode, Msg, State};
use std::time::Duration;
use tokio::sync::mpsc;

const SCENARIO: &str = "speed: 20\nseed: 11\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

struct Console {
    /// The console reads HELMDECK_HELM/HELMDECK_DATA_DIR and the demo secret from the
    /// process environment, which `start` sets: held for the console's life.
    _env: support::EnvGuard,
    _sim: sim::SimHandle,
    _dir: tempfile::TempDir,
    cfg: Config,
    state: State,
    exec: Executor,
    rx: mpsc::Receiver<Msg>,
}

impl Console {
    /// A simulated cluster with `services` deployed to staging, and the console on it.
    async fn start(services: &[&str]) -> Console {
        let env = support::env_lock().await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::env::set_var("HELMDECK_HELM", support::helm());
        std::env::set_var(
            "HELMDECK_DATA_DIR",
            std::env::temp_dir().join("helmdeck-tui-e2e"),
        );
        helmdeck::demo::secret_env();
        let (handle, kubeconfig) = support::start_sim(dir.path(), SCENARIO).await;
        let cfg = helmdeck::demo::config(&kubeconfig).expect("demo config");
        let (tx, rx) = mpsc::channel(app::CHANNEL);
        let targets: Vec<(String, String)> = services
            .iter()
            .map(|s| (s.to_string(), "staging".to_string()))
            .collect();
        // Every wait in this file has a deadline: a hang fails with what it waited for.
        let sessions = helmdeck::engine::sessions::Sessions::new(cfg.clone());
        let failures = tokio::time::timeout(
            Duration::from_secs(180),
            helmdeck::demo::deploy_all(&sessions, &targets, &tx),
        )
        .await
        .expect("the first deploys finish within 180 s");
        let mut rx = rx;
        if failures > 0 {
            let mut notes = Vec::new();
            while let Ok(m) = rx.try_recv() {
                notes.push(format!("{m:?}"));
            }
            panic!("first deploys failed: {notes:#?}");
        }
        while rx.try_recv().is_ok() {}
        let mut state = helmdeck::tui::rows::console_state(&cfg);
        let mut exec = Executor::with_sessions(sessions, tx);
        for e in update::init(&mut state) {
            exec.run(e);
        }
        Console {
            _env: env,
            _sim: handle,
            _dir: dir,
            cfg,
            state,
            exec,
            rx,
        }
    }

    fn key(&mut self, k: Key) {
        app::dispatch(&mut self.state, &mut self.exec, Msg::Key(k));
    }

    fn chars(&mut self, text: &str) {
        for c in text.chars() {
            self.key(Key::char(c));
        }
    }

    /// Presses `key` until `cond` holds, at most `max` times (then fails with the screen).
    fn press_until(&mut self, key: Key, max: usize, what: &str, cond: impl Fn(&State) -> bool) {
        for _ in 0..max {
            if cond(&self.state) {
                return;
            }
            self.key(key);
        }
        assert!(
            cond(&self.state),
            "{what}: not reached after {max} key presses:\n{}",
            self.screen()
        );
    }

    /// Moves the rollout's pod selection down to a canary pod.
    fn select_canary_pod(&mut self) {
        let pods = self
            .state
            .rollout
            .as_ref()
            .map_or(0, |r| r.snapshot.pods.len());
        self.press_until(Key::char('j'), pods + 1, "a canary pod selected", |s| {
            s.rollout
                .as_ref()
                .and_then(|r| r.snapshot.pods.get(r.pod_selected))
                .is_some_and(|p| p.track == helmdeck::domain::strategy::Track::Canary)
        });
    }

    fn select(&mut self, service: &str) {
        let services = self.cfg.file.services.len();
        self.press_until(Key::char('j'), services + 1, service, |s| {
            s.selected_service().map(|s| s.name.as_str()) == Some(service)
        });
    }

    /// Feeds messages to `update` until `cond` holds; panics with the events after `secs`.
    async fn until(&mut self, secs: u64, what: &str, cond: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !cond(&self.state) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => app::dispatch(&mut self.state, &mut self.exec, m),
                _ => panic!(
                    "timed out waiting for {what}; status {:?}; events:\n{}",
                    self.state.shell.status,
                    self.events().join("\n")
                ),
            }
        }
    }

    fn events(&self) -> Vec<String> {
        self.state
            .rollout
            .as_ref()
            .map(|r| r.events.iter().map(|e| e.text.clone()).collect())
            .unwrap_or_default()
    }

    fn screen(&self) -> String {
        let mut t =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).expect("terminal");
        t.draw(|f| helmdeck::tui::ui::draw(&self.state, &helmdeck::tui::Theme::monochrome(), f))
            .expect("draws");
        t.backend().to_string()
    }

    async fn service_slot(&self, name: &str) -> Option<String> {
        let limit = Duration::from_secs(30);
        let s = tokio::time::timeout(
            limit,
            helmdeck::engine::Session::open(&self.cfg, name, "staging"),
        )
        .await
        .expect("a session within 30 s")
        .ok()?;
        let svc = tokio::time::timeout(limit, s.cluster.get("v1", "Service", None, name))
            .await
            .expect("the Service within 30 s")
            .ok()??;
        svc.pointer("/spec/selector/helmdeck.io~1slot")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

fn idle(s: &State) -> bool {
    s.rollout.as_ref().is_some_and(|r| !r.driving)
}

/// No longer driven by the console, and the run's record shows `status`.
fn idle_at(s: &State, status: Status) -> bool {
    idle(s)
        && s.rollout
            .as_ref()
            .and_then(|r| r.snapshot.run.as_ref())
            .is_some_and(|r| r.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_canary_reach_the_pause_promote_and_see_healthy() {
    let mut c = Console::start(&["web"]).await;
    c.until(30, "the release list", |s| {
        s.browse.releases.value().is_some()
    })
    .await;
    c.select("web");
    c.key(Key::char('d'));
    assert!(matches!(c.state.popup, Some(Popup::Launch(_))));
    c.key(Key::plain(KeyCode::Enter));
    assert!(c.state.showing_rollout());
    c.until(90, "the manual pause", |s| idle_at(s, Status::Paused))
        .await;
    let screen = c.screen();
    assert!(
        screen.contains("Paused") && screen.contains("web-canary"),
        "{screen}"
    );
    // L follows the selected pod's log.
    c.select_canary_pod();
    c.key(Key::char('L'));
    c.until(30, "log lines", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.logs.as_ref())
            .is_some_and(|l| !l.lines.is_empty())
    })
    .await;
    c.key(Key::char('L'));
    assert!(c.state.rollout.as_ref().is_some_and(|r| r.logs.is_none()));
    c.key(Key::char('P'));
    assert!(matches!(c.state.popup, Some(Popup::Confirm(_))));
    c.key(Key::char('y'));
    // The timed pause of 30s: P again cuts it short.
    c.until(90, "the timed pause", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.snapshot.run.as_ref())
            .is_some_and(|r| r.pause_until_ms.is_some())
    })
    .await;
    c.key(Key::char('P'));
    assert!(
        matches!(c.state.popup, Some(Popup::Confirm(_))),
        "{:?}",
        c.state.shell.status
    );
    c.key(Key::char('y'));
    c.until(25, "Healthy", |s| idle_at(s, Status::Healthy))
        .await;
    let screen = c.screen();
    assert!(screen.contains("Healthy"), "{screen}");
    assert!(
        c.state
            .shell
            .status
            .as_ref()
            .is_some_and(|l| l.text.contains("Healthy")),
        "{:?}",
        c.state.shell.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_canary_is_rolled_back_and_the_reason_shown() {
    let mut c = Console::start(&["checkout"]).await;
    c.select("checkout");
    c.key(Key::char('d'));
    c.key(Key::plain(KeyCode::Tab)); // steps (canary) / auto-promote (blue/green)
    c.key(Key::plain(KeyCode::Tab)); // --set
    c.chars("image.tag=1.3.0-crash");
    c.key(Key::plain(KeyCode::Enter));
    c.until(120, "the rollback", |s| idle_at(s, Status::RolledBack))
        .await;
    let r = c.state.rollout.as_ref().expect("rollout");
    let run = r.snapshot.run.as_ref().expect("run");
    assert_eq!(
        run.reverse,
        Some(helmdeck::domain::run::Reverse::AutoRollback)
    );
    assert!(
        run.reason
            .as_deref()
            .is_some_and(|x| x.contains("CrashLoopBackOff")),
        "{:?}",
        run.reason
    );
    assert!(r
        .events
        .iter()
        .any(|e| e.kind == EventKind::Reversing && e.text.contains("CrashLoopBackOff")));
    let screen = c.screen();
    assert!(
        screen.contains("auto-rollback") && screen.contains("RolledBack"),
        "{screen}"
    );
    assert!(!screen.contains("demo-db-password-not-secret"));
    // The cluster's own account, from the Events watch: the kubelet backing off the canary.
    c.until(20, "the kubelet's events", |s| {
        s.rollout.as_ref().is_some_and(|r| {
            let has = |reason: &str| {
                r.cluster_events
                    .iter()
                    .any(|e| e.reason == reason && e.object.starts_with("Pod/checkout-canary-"))
            };
            has("Scheduled")
                && has("Started")
                && r.cluster_events
                    .iter()
                    .any(|e| e.warning && e.reason == "BackOff")
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_promote_switches_and_rollback_switches_back() {
    let mut c = Console::start(&["payments"]).await;
    assert_eq!(c.service_slot("payments").await.as_deref(), Some("blue"));
    c.select("payments");
    c.key(Key::char('d'));
    c.key(Key::plain(KeyCode::Tab)); // steps (canary) / auto-promote (blue/green)
    c.key(Key::plain(KeyCode::Tab)); // --set
    c.chars("image.tag=2.5.0");
    c.key(Key::plain(KeyCode::Enter));
    c.until(90, "the pause before the switch", |s| {
        idle_at(s, Status::Paused)
    })
    .await;
    c.key(Key::char('P'));
    c.key(Key::char('y'));
    // After the switch the run waits out the scale-down delay, still driven by the console.
    c.until(90, "the switch to green", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.snapshot.run.as_ref())
            .is_some_and(|r| r.pause_until_ms.is_some())
    })
    .await;
    assert_eq!(c.service_slot("payments").await.as_deref(), Some("green"));
    c.key(Key::char('R'));
    assert!(matches!(c.state.popup, Some(Popup::Confirm(_))));
    c.key(Key::char('y'));
    c.until(90, "the switch back", |s| idle_at(s, Status::RolledBack))
        .await;
    assert_eq!(c.service_slot("payments").await.as_deref(), Some("blue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_during_a_timed_pause_leaves_the_run_in_its_phase_and_frees_the_lease() {
    let mut c = Console::start(&["web"]).await;
    c.select("web");
    c.key(Key::char('d'));
    c.key(Key::plain(KeyCode::Tab)); // steps, edited for this run
    c.key(Key::ctrl('u'));
    c.chars("1 pod, pause 30m");
    c.key(Key::plain(KeyCode::Enter));
    c.until(90, "the timed pause", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.snapshot.run.as_ref())
            .is_some_and(|r| r.pause_until_ms.is_some())
    })
    .await;
    assert!(c.state.rollout.as_ref().is_some_and(|r| r.driving));
    c.key(Key::char('q'));
    assert!(c.state.shell.quit);
    let lines = c.exec.shutdown(Duration::from_secs(20)).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.starts_with("web/staging left progressing at step")
            && line.contains("pause 30m")
            && line.contains("lease released")
            && line.contains("helmdeck deploy web --env staging --resume"),
        "{line}"
    );
    let s = helmdeck::engine::Session::open(&c.cfg, "web", "staging")
        .await
        .expect("session");
    let report = helmdeck::engine::release::status(&s).await.expect("status");
    assert_eq!(report.status, Some(Status::Progressing));
    assert!(
        report
            .current_step
            .as_deref()
            .is_some_and(|st| st.contains("pause")),
        "{:?}",
        report.current_step
    );
    assert_eq!(report.lease_holder, None, "the lease is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pods_log_line_carrying_a_secret_is_redacted() {
    let mut c = Console::start(&["web"]).await;
    let secret = std::env::var("DEMO_DB_PASSWORD").expect("demo secret set");
    c.select("web");
    c.key(Key::char('d'));
    c.key(Key::plain(KeyCode::Tab));
    c.key(Key::plain(KeyCode::Tab));
    // The pod logs its image, whose tag here is the secret's value.
    c.chars(&format!("image.tag={secret}"));
    c.key(Key::plain(KeyCode::Enter));
    c.until(90, "a running canary pod", |s| {
        s.rollout.as_ref().is_some_and(|r| {
            r.snapshot.pods.iter().any(|p| {
                p.track == helmdeck::domain::strategy::Track::Canary && p.phase == "Running"
            })
        })
    })
    .await;
    c.select_canary_pod();
    c.key(Key::char('L'));
    c.until(30, "the start banner", |s| {
        s.rollout
            .as_ref()
            .and_then(|r| r.logs.as_ref())
            .is_some_and(|l| l.lines.iter().any(|x| x.contains("starting")))
    })
    .await;
    let logs = c
        .state
        .rollout
        .as_ref()
        .and_then(|r| r.logs.as_ref())
        .expect("log pane");
    let banner = logs
        .lines
        .iter()
        .find(|l| l.contains("starting"))
        .expect("banner");
    assert!(
        banner.contains(helmdeck::domain::mask::MASK) && !banner.contains(&secret),
        "{banner}"
    );
    assert!(logs.lines.iter().all(|l| !l.contains(&secret)));
    assert!(!c.screen().contains(&secret));
}

impl Console {
    /// The clock as the loop would tick it, `ms` after the state's.
    fn tick_after(&mut self, ms: u64) {
        let now_ms = self.state.shell.now_ms + ms;
        app::dispatch(
            &mut self.state,
            &mut self.exec,
            Msg::Tick {
                now_ms,
                clock: String::new(),
            },
        );
    }

    fn launch_dialog(&self) -> &helmdeck::tui::state::LaunchDialog {
        match &self.state.popup {
            Some(Popup::Launch(d)) => d,
            other => panic!("launch dialog open: {other:?}"),
        }
    }

    /// Lets the --set text rest past the debounce, then waits for its count.
    async fn changes_after_typing(&mut self) -> (usize, usize, usize) {
        assert!(self.launch_dialog().changes_debounce.is_some());
        self.tick_after(0); // the wait starts
        self.tick_after(update::CHANGES_DEBOUNCE_MS);
        assert!(self.launch_dialog().changes_debounce.is_none());
        self.changes().await
    }

    /// The Changes line's counts: (changed, added, removed).
    async fn changes(&mut self) -> (usize, usize, usize) {
        self.until(
            60,
            "the Changes line",
            |s| matches!(&s.popup, Some(Popup::Launch(d)) if !d.changes.is_loading()),
        )
        .await;
        match &self.launch_dialog().changes {
            helmdeck::tui::state::Loadable::Ready { value, .. } => {
                (value.changed, value.added, value.removed)
            }
            other => panic!("Changes line: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_launch_dialog_counts_what_its_set_overrides_would_change() {
    let mut c = Console::start(&["web"]).await;
    c.until(30, "the release list", |s| {
        s.browse.releases.value().is_some()
    })
    .await;
    c.select("web");
    c.key(Key::char('d'));
    let none = (0, 0, 0);
    assert_eq!(c.changes().await, none, "deployed as configured");
    assert!(c.screen().contains("nothing differs from the live cluster"));
    c.press_until(Key::plain(KeyCode::Tab), 20, "the --set field", |s| {
        matches!(&s.popup, Some(Popup::Launch(d)) if d.field == helmdeck::tui::state::LaunchField::Sets)
    });
    c.chars("image.tag=1.4.2");
    assert!(c.screen().contains("comparing with the live cluster…"));
    let (changed, added, removed) = c.changes_after_typing().await;
    // The demo chart also puts the tag in every web object's version label.
    assert!(
        changed >= 1 && added == 0 && removed == 0,
        "{:?}",
        (changed, added, removed)
    );
    assert!(
        c.screen()
            .contains(&format!("~{changed} changed  +0 added  -0 removed")),
        "{}",
        c.screen()
    );
    // A value only the Deployment reads: exactly one object changes.
    c.key(Key::ctrl('u'));
    c.chars("replicaCount=6");
    let counts = c.changes_after_typing().await;
    assert_eq!(counts, (1, 0, 0), "the Deployment's replicas");
    let screen = c.screen();
    assert!(
        screen.contains("~1 changed  +0 added  -0 removed"),
        "{screen}"
    );
    // Cleared: back to the configuration as deployed.
    c.key(Key::ctrl('u'));
    assert_eq!(c.changes_after_typing().await, none);
    assert!(c.screen().contains("nothing differs from the live cluster"));
}
