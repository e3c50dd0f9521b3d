//! Turns the console's effects into tasks, one slot per kind of job (preview, diff,
//! history, releases, changes, watch, logs, and one drive per release): a new request in a
//! slot aborts the task before it — the helm process of a superseded render is killed with
//! it (`kill_on_drop`), a superseded download is dropped. Previews and diffs asked for while
//! the cursor moves wait [`DEBOUNCE`] first, so that only the one the cursor stops on runs.
//! Results still carry the generation of their request: a result that slipped out before
//! its task was aborted is dropped by `update`.

use super::jobs;
use crate::domain::act::Surface;
use crate::engine::release::ActOptions;
use crate::engine::sessions::Sessions;
use crate::render::Renderer;
use crate::tui::state::{Problem, ProblemKind};
use crate::tui::{Effect, Msg};
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a preview or diff asked for right after another one waits before it starts:
/// while the cursor moves, each request replaces the last one before it costs anything.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long a drive replaced by a new act of this console gets to reach a safe point.
const DRIVE_STOP: Duration = Duration::from_secs(20);

/// A kind of job; each holds at most one task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    Preview,
    Diff,
    History,
    Releases,
    Changes,
    Watch,
    Logs,
    /// The drive of one release (service, environment) by this console.
    Drive(String, String),
}

impl Slot {
    /// Whether a request right after another one waits for the keyboard to rest.
    fn debounced(&self) -> bool {
        matches!(self, Slot::Preview | Slot::Diff)
    }
}

/// The task in a slot.
struct Running {
    task: JoinHandle<()>,
    /// When it was asked for.
    asked: Instant,
    /// A drive's token: cancelled, the drive stops at its next safe point.
    cancel: Option<CancellationToken>,
}

impl Running {
    fn stop(&self) {
        if let Some(c) = &self.cancel {
            c.cancel();
        }
        self.task.abort();
    }
}

/// Runs the console's effects; each task reports back through `tx`.
pub struct Executor {
    sessions: Sessions,
    renderer: Result<Renderer, Problem>,
    tx: mpsc::Sender<Msg>,
    slots: HashMap<Slot, Running>,
    debounce: Duration,
}

impl Drop for Executor {
    fn drop(&mut self) {
        for r in self.slots.values() {
            r.stop();
        }
    }
}

impl Executor {
    pub fn new(cfg: crate::config::Config, tx: mpsc::Sender<Msg>) -> Executor {
        Executor::with_sessions(Sessions::new(cfg), tx)
    }

    /// An executor on clients shared with others (the demo's first deploys, tests).
    pub fn with_sessions(sessions: Sessions, tx: mpsc::Sender<Msg>) -> Executor {
        let renderer = crate::engine::locate_helm(sessions.config())
            .map(Renderer::new)
            .map_err(|e| Problem::new(ProblemKind::Input, e.to_string(), e.hint()));
        Executor {
            sessions,
            renderer,
            tx,
            slots: HashMap::new(),
            debounce: DEBOUNCE,
        }
    }

    /// Changes the debounce (tests that step through services at their own pace).
    pub fn set_debounce(&mut self, d: Duration) {
        self.debounce = d;
    }

    pub fn config(&self) -> &crate::config::Config {
        self.sessions.config()
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Releases whose drive task is still running here.
    pub fn driving(&self) -> Vec<(String, String)> {
        self.slots
            .iter()
            .filter(|(_, r)| !r.task.is_finished())
            .filter_map(|(s, _)| match s {
                Slot::Drive(svc, env) => Some((svc.clone(), env.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether a task runs in `slot` (tests).
    pub fn busy(&self, slot: &Slot) -> bool {
        self.slots.get(slot).is_some_and(|r| !r.task.is_finished())
    }

    /// Puts a task in `slot`, aborting the one before it. A debounced slot asked again
    /// within the debounce waits it out first (and is itself aborted by the next request).
    /// A drive is not aborted but stopped at its next safe point, and the new task starts
    /// once it has (it records where the run stands and writes its audit line): two drives
    /// of one release never overlap.
    fn spawn<F>(&mut self, slot: Slot, cancel: Option<CancellationToken>, job: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let now = Instant::now();
        let mut wait = None;
        let mut before = None;
        if let Some(prev) = self.slots.remove(&slot) {
            match &prev.cancel {
                Some(c) if !prev.task.is_finished() => {
                    c.cancel();
                    before = Some(prev.task);
                }
                _ => {
                    prev.stop();
                    wait = (slot.debounced() && now.duration_since(prev.asked) < self.debounce)
                        .then_some(self.debounce);
                }
            }
        }
        let task = tokio::spawn(async move {
            if let Some(mut t) = before {
                if tokio::time::timeout(DRIVE_STOP, &mut t).await.is_err() {
                    t.abort();
                }
            }
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
            }
            job.await
        });
        self.slots.insert(
            slot,
            Running {
                task,
                asked: now,
                cancel,
            },
        );
    }

    fn stop(&mut self, slot: &Slot) {
        if let Some(r) = self.slots.remove(slot) {
            r.stop();
        }
    }

    /// Stops every drive of this console at its next safe point (the drive's cancellation:
    /// the run keeps its recorded phase and the lease is released), waiting up to `within`
    /// for them; then says, per release, where each run was left and how to go on.
    pub async fn shutdown(&mut self, within: Duration) -> Vec<String> {
        let drives: Vec<(String, String, Running)> = self
            .slots
            .extract_if(|s, r| matches!(s, Slot::Drive(..)) && !r.task.is_finished())
            .filter_map(|(s, r)| match s {
                Slot::Drive(svc, env) => Some((svc, env, r)),
                _ => None,
            })
            .collect();
        for (_, _, d) in &drives {
            if let Some(c) = &d.cancel {
                c.cancel();
            }
        }
        let deadline = tokio::time::Instant::now() + within;
        let mut out = Vec::new();
        for (service, env, d) in drives {
            let mut task = d.task;
            let stopped = tokio::time::timeout_at(deadline, &mut task).await.is_ok();
            if !stopped {
                // A step that changes objects took too long to reach a safe point: the
                // record still holds its phase (each step is idempotent), the lease expires.
                task.abort();
            }
            out.push(jobs::left_line(&self.sessions, &service, &env, stopped).await);
        }
        out
    }

    pub fn run(&mut self, effect: Effect) {
        let sessions = self.sessions.clone();
        let tx = self.tx.clone();
        let renderer = self.renderer.clone();
        match effect {
            Effect::Quit => {}
            Effect::LoadPreview { gen, service, env } => {
                self.spawn(Slot::Preview, None, async move {
                    let progress = jobs::progress_to(&tx, gen);
                    let result = match renderer {
                        Ok(r) => jobs::preview(&sessions, &r, &service, &env, &progress).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::PreviewLoaded { gen, result }).await;
                });
            }
            Effect::LoadDiff {
                gen,
                service,
                env,
                against,
            } => {
                self.spawn(Slot::Diff, None, async move {
                    let result = match renderer {
                        Ok(r) => jobs::diff(&sessions, &r, &service, &env, against).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::DiffLoaded { gen, result }).await;
                });
            }
            Effect::LoadChanges {
                gen,
                service,
                env,
                sets,
            } => {
                self.spawn(Slot::Changes, None, async move {
                    let result = match renderer {
                        Ok(r) => jobs::changes(&sessions, &r, &service, &env, sets).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::ChangesLoaded { gen, result }).await;
                });
            }
            Effect::LoadHistory { gen, service, env } => {
                self.spawn(Slot::History, None, async move {
                    let result = jobs::history(&sessions, &service, &env).await;
                    let _ = tx.send(Msg::HistoryLoaded { gen, result }).await;
                });
            }
            Effect::LoadReleases { gen, env } => {
                self.spawn(Slot::Releases, None, async move {
                    let result = jobs::releases(&sessions, &env).await;
                    let _ = tx.send(Msg::ReleasesLoaded { gen, result }).await;
                });
            }
            Effect::WatchRelease { gen, service, env } => {
                self.spawn(Slot::Watch, None, async move {
                    jobs::watch(&sessions, &service, &env, gen, &tx).await;
                });
            }
            Effect::Act {
                gen,
                service,
                env,
                act,
            } => {
                // A drive of this console on the same release stops first: this one drives
                // on (steps are idempotent, so a drive stopped between two requests loses
                // nothing).
                let slot = Slot::Drive(service.clone(), env.clone());
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                self.spawn(slot, Some(cancel), async move {
                    let result = match renderer {
                        Ok(r) => {
                            let opts = ActOptions {
                                wait: false,
                                cancel: Some(token.clone()),
                                surface: Surface::Console,
                                renderer: Some(r),
                            };
                            jobs::act(&sessions, act, &service, &env, &opts, gen, &tx).await
                        }
                        Err(e) => Err(e),
                    };
                    // A drive stopped for the next act of this console (or for quitting)
                    // did not end the run: the next one reports.
                    if !token.is_cancelled() {
                        let _ = tx.send(Msg::RunEnded { gen, result }).await;
                    }
                });
            }
            Effect::StopLogs => self.stop(&Slot::Logs),
            Effect::FollowLogs {
                gen,
                service,
                env,
                pod,
            } => {
                self.spawn(Slot::Logs, None, async move {
                    let error = jobs::follow_logs(&sessions, &service, &env, &pod, gen, &tx)
                        .await
                        .err()
                        .or_else(|| Some("the log ended".into()));
                    let _ = tx
                        .send(Msg::LogLines {
                            gen,
                            lines: Vec::new(),
                            error,
                        })
                        .await;
                });
            }
        }
    }
}
