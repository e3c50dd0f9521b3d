//! `update(&mut State, Msg) -> Vec<Effect>`: every change of what the console shows happens
//! here, synchronously. Never awaits and does no I/O; long work is asked for as effects.

mod browse;
mod launch;
pub mod palette;
mod rollout;

use super::keymap::{Key, KeyCode, Mode};
use super::msg::{Effect, Msg};
use super::state::{
    Connection, EventKind, EventLine, Loadable, Popup, State, StatusLine, MAX_EVENTS,
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

/// The keymap mode in force.
pub fn mode(state: &State) -> Mode {
    match &state.popup {
        Some(Popup::Confirm(_)) => Mode::Confirm,
        Some(Popup::Help) => Mode::Help,
        _ if state.show_rollout => Mode::Rollout,
        _ => Mode::Browse,
    }
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Resize(..) => Vec::new(),
        Msg::Tick { now_ms, clock } => {
            state.now_ms = now_ms;
            state.clock = clock;
            state.spinner = state.spinner.wrapping_add(1);
            launch::on_tick(state)
        }
        Msg::Connection(c) => {
            state.connection = c;
            Vec::new()
        }
        Msg::PreviewLoaded { gen, result } => {
            settle(state, |s| &mut s.preview, gen, result, "preview");
            if state.fetching.is_some_and(|(g, _, _)| g <= gen) {
                state.fetching = None;
            }
            Vec::new()
        }
        Msg::SourceProgress { gen, done, total } => {
            // Progress of a preview that was replaced meanwhile is dropped.
            if state.preview.gen() == Some(gen) && state.preview.is_loading() {
                state.fetching = Some((gen, done, total));
            }
            Vec::new()
        }
        Msg::DiffLoaded { gen, result } => {
            settle(state, |s| &mut s.diff, gen, result, "diff");
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
            settle(state, |s| &mut s.history, gen, result, "history");
            Vec::new()
        }
        Msg::ReleasesLoaded { gen, result } => {
            if let Err(e) = &result {
                if state.releases.gen() == Some(gen) {
                    state.connection = Connection::Failing(e.clone());
                }
            } else if state.releases.gen() == Some(gen) {
                state.connection = Connection::Connected;
            }
            settle(state, |s| &mut s.releases, gen, result, "releases");
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
                state.connection = match &snapshot.watch_error {
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
            state.status = Some(StatusLine { text, error });
            Vec::new()
        }
    }
}

fn settle<T>(
    state: &mut State,
    slot: impl Fn(&mut State) -> &mut Loadable<T>,
    gen: u64,
    result: Result<T, String>,
    what: &str,
) {
    let error = result.as_ref().err().cloned();
    if slot(state).settle(gen, result) {
        if let Some(e) = error {
            state.status = Some(StatusLine {
                text: format!("{what}: {e}"),
                error: true,
            });
        }
    }
}

/// Appends a line to the rollout's events when it belongs to the run on screen.
pub(crate) fn push_event(state: &mut State, gen: u64, kind: EventKind, text: String) {
    let now = state.now_ms;
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
    if state.filtering.is_some() {
        return on_filter_key(state, key);
    }
    if state.palette.is_some() {
        return palette::on_key(state, key);
    }
    if matches!(state.popup, Some(Popup::Launch(_))) {
        return launch::on_key(state, key);
    }
    let m = mode(state);
    let Some(action) = state.keymap.lookup(m, key) else {
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
    match mode(state) {
        Mode::Help => Vec::new(),
        Mode::Confirm => rollout::on_confirm(state, action),
        Mode::Rollout => rollout::on_action(state, action),
        Mode::Browse => browse::on_action(state, action),
    }
}

pub(crate) fn quit(state: &mut State) -> Vec<Effect> {
    state.quit = true;
    vec![Effect::Quit]
}

fn on_filter_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(input) = state.filtering.as_mut() else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Enter => {
            state.filtering = None;
        }
        KeyCode::Esc => {
            state.filtering = None;
            state.filter.clear();
        }
        _ => {
            edit(input, key);
            state.filter = input.value().to_string();
        }
    }
    state.object = 0;
    state.scroll = 0;
    if state.filter_services {
        state.cursor[0] = 0;
        // The first match becomes the selected service.
        if let Some(&first) = state.visible_services().first() {
            if first != state.service {
                state.service = first;
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
