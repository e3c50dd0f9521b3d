//! The command palette (`:`): `:deploy`, `:promote`, `:abort`, `:rollback [N]`,
//! `:env NAME`, `:svc NAME`, `:rollout`, `:logs`, `:help`, `:q`.

use super::super::action::Action;
use super::super::keymap::{Key, KeyCode};
use super::super::msg::Effect;
use super::super::state::{ConfirmDialog, Focus, Popup, Screen, Section, State, StatusLine};
use super::{browse, rollout};
use crate::domain::act::Act;

pub(super) fn on_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(input) = state.shell.palette.as_mut() else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Esc => {
            state.shell.palette = None;
            Vec::new()
        }
        KeyCode::Enter => {
            let line = input.value().trim().to_string();
            state.shell.palette = None;
            run(state, &line)
        }
        _ if key.ctrl && key.code == KeyCode::Char('c') => super::quit(state),
        _ => {
            super::edit(input, key);
            Vec::new()
        }
    }
}

fn error(state: &mut State, text: String) -> Vec<Effect> {
    state.shell.status = Some(StatusLine { text, error: true });
    Vec::new()
}

/// Runs one palette command.
pub fn run(state: &mut State, line: &str) -> Vec<Effect> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let arg = words.next();
    match (cmd, arg) {
        ("", _) => Vec::new(),
        ("q" | "quit" | "q!", _) => super::quit(state),
        ("deploy" | "d", _) => browse::open_launch(state),
        ("promote", _) => rollout::ask(state, Act::promote()),
        ("abort", _) => rollout::ask(state, Act::Abort),
        ("rollback", None) => rollout::ask(state, Act::Rollback { to: None }),
        ("rollback", Some(n)) => {
            let n = n.trim_start_matches('r');
            let Ok(rev) = n.parse::<u32>() else {
                return error(state, format!("`{n}` is not a revision number: try :rollback 3"));
            };
            let (Some(svc), Some(env)) = (state.selected_service(), state.selected_env()) else {
                return Vec::new();
            };
            state.popup = Some(Popup::Confirm(ConfirmDialog {
                act: Act::Rollback { to: Some(rev) },
                service: svc.name.clone(),
                env: env.name.clone(),
                consequence: format!(
                    "revision r{rev} is re-applied exactly as it was, as a new revision (rolling)."
                ),
            }));
            Vec::new()
        }
        ("env" | "e", Some(name)) => {
            let Some(i) = state.shell.environments.iter().position(|e| e.name == name) else {
                let names: Vec<&str> = state.shell.environments.iter().map(|e| e.name.as_str()).collect();
                return error(state, format!("no environment `{name}`: {}", names.join(", ")));
            };
            state.browse.cursor[1] = i;
            if i == state.browse.env {
                return Vec::new();
            }
            state.browse.env = i;
            state.screen = Screen::Browse;
            browse::reload(state)
        }
        ("svc" | "service" | "s", Some(name)) => {
            let Some(i) = state.shell.services.iter().position(|s| s.name == name) else {
                let names: Vec<&str> = state.shell.services.iter().map(|s| s.name.as_str()).collect();
                return error(state, format!("no service `{name}`: {}", names.join(", ")));
            };
            state.browse.filter.clear();
            state.browse.cursor[0] = i;
            state.browse.focus = Focus::Nav(Section::Services);
            state.screen = Screen::Browse;
            if i == state.browse.service {
                return Vec::new();
            }
            state.browse.service = i;
            browse::reload(state)
        }
        ("rollout" | "o", _) => rollout::open(state),
        ("logs" | "l", _) => {
            let mut out = rollout::open(state);
            out.extend(super::update_action(state, Action::Logs));
            out
        }
        ("help" | "h", _) => {
            state.popup = Some(Popup::Help);
            Vec::new()
        }
        (other, _) => error(
            state,
            format!("unknown command `:{other}`: :deploy :promote :abort :rollback [N] :env NAME :svc NAME :rollout :logs :q"),
        ),
    }
}
