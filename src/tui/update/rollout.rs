//! The rollout view and the one-key confirmations of promote, rollback and abort.

use super::super::action::Action;
use super::super::msg::{Effect, RunEnd};
use super::super::state::{
    ConfirmDialog, EventKind, Focus, Popup, Rollout, RolloutSnapshot, Screen, State, StatusLine,
    Tab,
};
use super::browse;
use crate::domain::act::Act;
use crate::domain::run::{Status, StrategyKind};

const PAGE: usize = 10;

/// Shows the rollout view of the selected release, starting its watch when it is not the
/// one already watched.
pub(crate) fn open(state: &mut State) -> Vec<Effect> {
    let (Some(svc), Some(env)) = (state.selected_service(), state.selected_env()) else {
        return Vec::new();
    };
    let (service, env) = (svc.name.clone(), env.name.clone());
    state.screen = Screen::Rollout;
    if state
        .rollout
        .as_ref()
        .is_some_and(|r| r.service == service && r.env == env)
    {
        return Vec::new();
    }
    let gen = state.gen();
    state.rollout = Some(Rollout {
        service: service.clone(),
        env: env.clone(),
        gen,
        snapshot: RolloutSnapshot::default(),
        events: Vec::new(),
        driving: false,
        pod_selected: 0,
        logs: None,
        last_end: None,
        cluster_events: Vec::new(),
        show_cluster_events: false,
        pause: None,
        show_gate: false,
    });
    vec![Effect::WatchRelease { gen, service, env }]
}

/// The paused gate of the run on screen: its check and last measurement, in words.
fn paused_gate(state: &State) -> Option<(String, String)> {
    let r = state.selected_rollout()?;
    let run = r.snapshot.run.as_ref()?;
    let check = run.paused_gate_check.clone()?;
    let last = run
        .gate
        .as_ref()
        .and_then(|g| g.taken(&check).last())
        .map(|m| {
            let mark = format!("{} {}", m.outcome.mark(), m.outcome.word());
            let value = m
                .value
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            let detail = m.detail.lines().next().unwrap_or_default();
            format!("last measurement {mark}{value}: {detail}")
        })
        .unwrap_or_else(|| "no measurement recorded".into());
    let what = run
        .reason
        .clone()
        .unwrap_or_else(|| format!("check `{check}`"));
    Some((
        check,
        format!(
            "r{} is paused at a gate — {what}; {last}. Promoting goes past the gate anyway, without a passing check.",
            run.revision
        ),
    ))
}

/// The newest run's status and strategy, from the live view if it shows this release,
/// else from the release list.
fn run_of(state: &State) -> (Option<Status>, Option<StrategyKind>, Option<u32>) {
    if let Some(r) = state.selected_rollout() {
        // A drive of this console that ended after the record was last read knows better
        // (the watch re-reads the record about once a second).
        if let Some(end) = r
            .last_end
            .as_ref()
            .filter(|e| e.status.is_some() && e.at_ms > r.snapshot.run_read_ms)
        {
            let strategy = end
                .strategy
                .or_else(|| r.snapshot.run.as_ref().map(|x| x.strategy));
            return (end.status, strategy, end.revision);
        }
        if let Some(run) = &r.snapshot.run {
            return (Some(run.status), Some(run.strategy), Some(run.revision));
        }
    }
    match state.selected_release() {
        Some(r) => (r.status, r.strategy, r.revision),
        None => (None, None, None),
    }
}

fn consequence(
    act: &Act,
    status: Option<Status>,
    strategy: Option<StrategyKind>,
    rev: Option<u32>,
) -> Result<String, String> {
    let active = status.is_some_and(|s| !s.is_terminal());
    let r = rev
        .map(|n| format!("r{n}"))
        .unwrap_or_else(|| "the run".into());
    match (act, active) {
        (Act::Promote { .. } | Act::Abort, false) => Err(format!(
            "nothing to {}: no active run (deploy one with `d`)",
            act.verb()
        )),
        (Act::Promote { .. }, true) => Ok(match strategy {
            Some(StrategyKind::Canary) => format!(
                "{r} continues past its pause: the next canary step, then the new version on every primary pod; the canaries are deleted."
            ),
            Some(StrategyKind::Bluegreen) => format!(
                "the Services switch to {r}'s slot at once; the old slot stays up for a quick switch back."
            ),
            _ => format!("{r} continues past its pause."),
        }),
        (Act::Abort, true) => Ok(format!(
            "{r} stops: canaries are deleted, the primaries (or the live slot) keep serving the previous revision."
        )),
        (Act::Rollback { .. }, true) => Ok(format!(
            "{r} goes back: canaries deleted, or the previous revision re-applied if already promoted."
        )),
        (Act::Rollback { .. }, false) => Ok(
            "the last healthy revision before the live one is re-applied as a new revision (rolling)."
                .into(),
        ),
        (Act::Deploy(_), _) => Ok(format!("a new run of {r}'s service starts.")),
        (Act::Test, _) => Ok(
            "the live revision's test hooks run (helm test); nothing else changes.".into(),
        ),
    }
}

/// Asks for a one-key confirmation of `act` on the selected release. A rollback asked in
/// the History tab goes to the revision under the cursor; a promote of a run paused at a
/// gate goes past the gate, naming its check.
pub(crate) fn ask(state: &mut State, act: Act) -> Vec<Effect> {
    let (Some(svc), Some(env)) = (state.selected_service(), state.selected_env()) else {
        return Vec::new();
    };
    let (service, env) = (svc.name.clone(), env.name.clone());
    let promote = matches!(act, Act::Promote { .. });
    // While this console drives a step other than a pause, promote has nothing to act on
    // yet; in a timed pause it skips the rest of the wait.
    if promote
        && state.rollout.as_ref().is_some_and(|r| {
            r.driving
                && r.service == service
                && r.env == env
                // In a timed pause by the drive's own ticks, or by the record.
                && r.pause.is_none()
                && r.snapshot
                    .run
                    .as_ref()
                    .is_none_or(|run| run.pause_until_ms.is_none())
        })
    {
        state.shell.complain(format!(
            "{service} in {env} is still moving; promote when it pauses"
        ));
        return Vec::new();
    }
    let (status, strategy, rev) = run_of(state);
    let in_history = !state.showing_rollout()
        && state.browse.tab == Tab::History
        && state.browse.focus == Focus::Main;
    let to = match &act {
        Act::Rollback { to: None } if in_history => state
            .browse
            .history
            .value()
            .and_then(|h| h.iter().rev().nth(state.browse.scroll))
            .map(|e| (e.revision, e.chart.clone())),
        _ => None,
    };
    let gate = promote.then(|| paused_gate(state)).flatten();
    let (act, result) = match (to, gate) {
        (Some((n, chart)), _) => (
            Act::Rollback { to: Some(n) },
            Ok(format!(
                "revision r{n} ({chart}) is re-applied exactly as it was, as a new revision (rolling)."
            )),
        ),
        (None, Some((check, text))) => (
            Act::Promote {
                full: false,
                past_gate: Some(check),
            },
            Ok(text),
        ),
        (None, None) => {
            let c = consequence(&act, status, strategy, rev);
            (act, c)
        }
    };
    match result {
        Ok(consequence) => {
            state.popup = Some(Popup::Confirm(ConfirmDialog {
                act,
                service,
                env,
                consequence,
            }));
        }
        Err(e) => state.shell.complain(e),
    }
    Vec::new()
}

pub(super) fn on_confirm(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(Popup::Confirm(c)) = state.popup.take() else {
        return Vec::new();
    };
    match action {
        Action::Quit => super::quit(state),
        Action::Confirm => {
            let mut out = open(state);
            let Some(r) = state.rollout.as_mut() else {
                return out;
            };
            r.driving = true;
            let gen = r.gen;
            let ConfirmDialog {
                act,
                service,
                env,
                consequence,
            } = c;
            super::push_event(
                state,
                gen,
                EventKind::Info,
                format!("{}: {consequence}", act.verb()),
            );
            state
                .shell
                .say(format!("{} {service} in {env}…", act.verb()));
            out.push(Effect::Act {
                gen,
                service,
                env,
                act,
            });
            out
        }
        _ => {
            state
                .shell
                .say(format!("not {}: nothing changed", c.act.done()));
            Vec::new()
        }
    }
}

pub(super) fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Quit => super::quit(state),
        Action::Back => {
            state.screen = Screen::Browse;
            Vec::new()
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
            if let Some(r) = state.rollout.as_mut() {
                let len = r.snapshot.pods.len();
                let d: isize = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -(PAGE as isize),
                    _ => PAGE as isize,
                };
                if len > 0 {
                    r.pod_selected =
                        (r.pod_selected as isize + d).clamp(0, len as isize - 1) as usize;
                }
            }
            Vec::new()
        }
        Action::Promote => ask(state, Act::promote()),
        Action::Rollback => ask(state, Act::Rollback { to: None }),
        Action::Abort => ask(state, Act::Abort),
        Action::Logs => toggle_logs(state),
        Action::ClusterEvents => {
            if let Some(r) = state.rollout.as_mut() {
                r.show_cluster_events = !r.show_cluster_events;
            }
            Vec::new()
        }
        Action::GateDetail => {
            if let Some(r) = state.rollout.as_mut() {
                r.show_gate = !r.show_gate;
            }
            Vec::new()
        }
        Action::ToggleDiffBase => Vec::new(),
        Action::Palette => {
            state.shell.palette = Some(tui_input::Input::default());
            Vec::new()
        }
        Action::OpenLaunch => browse::open_launch(state),
        Action::Help => {
            state.popup = Some(Popup::Help);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// `L`: follows the selected pod's log, or closes the pane when it already follows it.
fn toggle_logs(state: &mut State) -> Vec<Effect> {
    let gen = state.gen();
    let Some(r) = state.rollout.as_mut() else {
        return Vec::new();
    };
    let Some(pod) = r.snapshot.pods.get(r.pod_selected).map(|p| p.name.clone()) else {
        state.shell.status = Some(StatusLine {
            text: "no pod selected: j/k pick one".into(),
            error: true,
        });
        return Vec::new();
    };
    if r.logs.as_ref().is_some_and(|l| l.pod == pod) {
        r.logs = None;
        return vec![Effect::StopLogs];
    }
    r.logs = Some(super::super::state::LogPane {
        pod: pod.clone(),
        gen,
        lines: Vec::new(),
        error: None,
    });
    vec![Effect::FollowLogs {
        gen,
        service: r.service.clone(),
        env: r.env.clone(),
        pod,
    }]
}

/// A drive of this console stopped.
pub(super) fn run_ended(
    state: &mut State,
    gen: u64,
    result: Result<RunEnd, super::super::state::Problem>,
) -> Vec<Effect> {
    let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) else {
        return Vec::new();
    };
    r.driving = false;
    r.pause = None;
    let (service, env) = (r.service.clone(), r.env.clone());
    if let Ok(end) = &result {
        r.last_end = Some(end.clone());
    }
    let (kind, text, error) = match result {
        Ok(end) => {
            let rev = end.revision.map(|n| format!(" r{n}")).unwrap_or_default();
            let what = if end.paused {
                format!("{service}{rev} paused in {env}: P promotes, R rolls back, A aborts")
            } else {
                match end.status {
                    Some(s) => format!("{service}{rev} in {env}: {s:?}{}", note(&end.note)),
                    None => format!("{service} in {env}: {}", end.note),
                }
            };
            let bad = matches!(
                end.status,
                Some(Status::RolledBack | Status::Degraded | Status::Aborted)
            );
            (
                if bad {
                    EventKind::Warning
                } else {
                    EventKind::Done
                },
                what,
                bad,
            )
        }
        Err(p) => {
            if p.kind.is_connection() {
                state.shell.connection =
                    super::super::state::Connection::Failing(p.message.clone());
            }
            (EventKind::Error, p.text(), true)
        }
    };
    super::push_event(state, gen, kind, text.clone());
    state.shell.status = Some(StatusLine { text, error });
    // The release list and the history changed with the run.
    let out = browse::reload_releases(state);
    state.browse.history = super::super::state::Loadable::Idle;
    state.browse.diff = super::super::state::Loadable::Idle;
    out
}

fn note(n: &str) -> String {
    if n.is_empty() {
        String::new()
    } else {
        format!(" — {n}")
    }
}
