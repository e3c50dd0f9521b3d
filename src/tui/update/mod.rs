//! `update(&mut State, Msg) -> Vec<Effect>`: every change of what the console shows happens
//! here, synchronously. Never awaits and does no I/O; long work is asked for as effects.

mod browse;
mod launch;
pub mod palette;
mod rollout;

use super::keymap::{Key, KeyCode, Mode};
use super::msg::{Effect, Msg};
use super::state::{
    Connection, EventKind, EventLine, Loadable, Popup, Problem, Shell, State, MAX_EVENTS,
};
use tui_input::{Input, InputRequest};

pub use browse::reload;
pub use launch::CHANGES_DEBOUNCE_MS;

/// Effects to run when the console opens: the first preview and the release list.
pub fn init(state: &mut State) -> Vec<Effect> {
    reload(state)
}

/// When the loop owes `update` a `Msg::Tick` before the regular one (ms since the epoch;
/// 0: at once): a debounce is waiting on the clock.
pub fn wake_at(state: &State) -> Option<u64> {
    launch::wake_at(state)
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Resize(..) => Vec::new(),
        Msg::Tick { now_ms, clock } => {
            state.shell.now_ms = now_ms;
            state.shell.clock = clock;
            state.shell.spinner = state.shell.spinner.wrapping_add(1);
            launch::on_tick(state)
        }
        Msg::Connection(c) => {
            state.shell.connection = c;
            Vec::new()
        }
        Msg::PreviewLoaded { gen, result } => {
            let b = &mut state.browse;
            settle(&mut state.shell, &mut b.preview, gen, result, "preview");
            if b.fetching.is_some_and(|(g, _, _)| g <= gen) {
                b.fetching = None;
            }
            Vec::new()
        }
        Msg::SourceProgress { gen, done, total } => {
            // Progress of a preview that was replaced meanwhile is dropped.
            let b = &mut state.browse;
            if b.preview.gen() == Some(gen) && b.preview.is_loading() {
                b.fetching = Some((gen, done, total));
            }
            Vec::new()
        }
        Msg::DiffLoaded { gen, result } => {
            settle(
                &mut state.shell,
                &mut state.browse.diff,
                gen,
                result,
                "diff",
            );
            Vec::new()
        }
        Msg::ChangesLoaded { gen, result } => {
            // Dropped when the dialog closed or its overrides changed since.
            if let Some(Popup::Launch(d)) = state.popup.as_mut() {
                d.changes.settle(gen, result);
            }
            Vec::new()
        }
        Msg::HistoryLoaded { gen, result } => {
            settle(
                &mut state.shell,
                &mut state.browse.history,
                gen,
                result,
                "history",
            );
            Vec::new()
        }
        Msg::ReleasesLoaded { gen, result } => {
            // The release list is read from the cluster: its answer is the connection's.
            if result.is_ok() && state.browse.releases.gen() == Some(gen) {
                state.shell.connection = Connection::Connected;
            }
            settle(
                &mut state.shell,
                &mut state.browse.releases,
                gen,
                result,
                "releases",
            );
            Vec::new()
        }
        Msg::RunProgress { gen, kind, text } => {
            // A new step ends any timed pause.
            if kind == EventKind::Step {
                if let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) {
                    r.pause = None;
                }
            }
            push_event(state, gen, kind, text);
            Vec::new()
        }
        Msg::PauseTick {
            gen,
            index,
            elapsed_ms,
            total_ms,
        } => {
            if let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) {
                r.pause = Some(super::state::PauseClock {
                    index,
                    elapsed_ms,
                    total_ms,
                });
            }
            Vec::new()
        }
        Msg::RunEnded { gen, result } => rollout::run_ended(state, gen, result),
        Msg::LogLines { gen, lines, error } => {
            if let Some(p) = state
                .rollout
                .as_mut()
                .and_then(|r| r.logs.as_mut())
                .filter(|p| p.gen == gen)
            {
                p.lines.extend(lines);
                if p.lines.len() > super::state::MAX_LOG_LINES {
                    let extra = p.lines.len() - super::state::MAX_LOG_LINES;
                    p.lines.drain(..extra);
                }
                if error.is_some() {
                    p.error = error;
                }
            }
            Vec::new()
        }
        Msg::RolloutUpdated { gen, snapshot } => {
            if let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) {
                state.shell.connection = match &snapshot.watch_error {
                    Some(e) => Connection::Failing(e.clone()),
                    None => Connection::Connected,
                };
                r.snapshot = *snapshot;
                r.pod_selected = r.pod_selected.min(r.snapshot.pods.len().saturating_sub(1));
            }
            Vec::new()
        }
        Msg::ClusterEvents { gen, events } => {
            if let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) {
                r.cluster_events = events;
            }
            Vec::new()
        }
        Msg::Reload => browse::reload_releases(state),
        Msg::Notice { text, error } => {
            state.shell.status = Some(super::state::StatusLine { text, error });
            Vec::new()
        }
    }
}

/// Takes a result into its slot when it answers the request in flight; a problem goes to
/// the status line (and to the connection indicator when it is the cluster's).
fn settle<T>(
    shell: &mut Shell,
    slot: &mut Loadable<T>,
    gen: u64,
    result: Result<T, Problem>,
    what: &str,
) {
    let problem = result.as_ref().err().cloned();
    if slot.settle(gen, result) {
        if let Some(p) = problem {
            shell.report(what, &p);
        }
    }
}

/// Appends a line to the rollout's events when it belongs to the run on screen.
pub(crate) fn push_event(state: &mut State, gen: u64, kind: EventKind, text: String) {
    let now = state.shell.now_ms;
    if let Some(r) = state.rollout.as_mut().filter(|r| r.gen == gen) {
        r.events.push(EventLine {
            at_ms: now,
            kind,
            text,
        });
        if r.events.len() > MAX_EVENTS {
            let extra = r.events.len() - MAX_EVENTS;
            r.events.drain(..extra);
        }
    }
}

fn on_key(state: &mut State, key: Key) -> Vec<Effect> {
    if state.browse.filtering.is_some() {
        return on_filter_key(state, key);
    }
    if state.shell.palette.is_some() {
        return palette::on_key(state, key);
    }
    if matches!(state.popup, Some(Popup::Launch(_))) {
        return launch::on_key(state, key);
    }
    let m = state.mode();
    let Some(action) = state.shell.keymap.lookup(m, key) else {
        return Vec::new();
    };
    match m {
        Mode::Help => {
            if action == super::Action::Quit {
                return quit(state);
            }
            state.popup = None;
            Vec::new()
        }
        Mode::Confirm => rollout::on_confirm(state, action),
        Mode::Rollout => rollout::on_action(state, action),
        Mode::Browse => browse::on_action(state, action),
    }
}

/// Runs an action in the mode in force, as if its key had been pressed.
pub(crate) fn update_action(state: &mut State, action: super::Action) -> Vec<Effect> {
    match state.mode() {
        Mode::Help => Vec::new(),
        Mode::Confirm => rollout::on_confirm(state, action),
        Mode::Rollout => rollout::on_action(state, action),
        Mode::Browse => browse::on_action(state, action),
    }
}

pub(crate) fn quit(state: &mut State) -> Vec<Effect> {
    state.shell.quit = true;
    vec![Effect::Quit]
}

fn on_filter_key(state: &mut State, key: Key) -> Vec<Effect> {
    let b = &mut state.browse;
    let Some(input) = b.filtering.as_mut() else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Enter => {
            b.filtering = None;
        }
        KeyCode::Esc => {
            b.filtering = None;
            b.filter.clear();
        }
        _ => {
            edit(input, key);
            b.filter = input.value().to_string();
        }
    }
    b.object = 0;
    b.scroll = 0;
    if b.filter_services {
        b.cursor[0] = 0;
        // The first match becomes the selected service.
        if let Some(&first) = b.visible_services(&state.shell.services).first() {
            if first != b.service {
                b.service = first;
                return browse::reload_selection(state);
            }
        }
    }
    Vec::new()
}

/// Applies a key to a text field (tui-input), the way a line editor would.
pub(crate) fn edit(input: &mut Input, key: Key) {
    let req = match (key.code, key.ctrl) {
        (KeyCode::Char('u'), true) => Some(InputRequest::DeleteLine),
        (KeyCode::Char('w'), true) => Some(InputRequest::DeletePrevWord),
        (KeyCode::Char('a'), true) | (KeyCode::Home, _) => Some(InputRequest::GoToStart),
        (KeyCode::Char('e'), true) | (KeyCode::End, _) => Some(InputRequest::GoToEnd),
        (KeyCode::Char(c), false) => Some(InputRequest::InsertChar(c)),
        (KeyCode::Backspace, _) => Some(InputRequest::DeletePrevChar),
        (KeyCode::Delete, _) => Some(InputRequest::DeleteNextChar),
        (KeyCode::Left, _) => Some(InputRequest::GoToPrevChar),
        (KeyCode::Right, _) => Some(InputRequest::GoToNextChar),
        _ => None,
    };
    if let Some(r) = req {
        input.handle(r);
    }
}
