//! The launch dialog: strategy, canary steps (one editable line) or blue/green
//! auto-promotion, one-off `--set` overrides, typed confirmation for protected environments;
//! Enter launches, Esc closes. Bad input keeps the dialog open with what was typed.
//! The Changes line compares the configuration *with the typed `--set`* to the cluster,
//! recomputed once typing rests (ticks time it; nothing here waits).

use super::super::keymap::{Key, KeyCode};
use super::super::msg::Effect;
use super::super::state::{
    Debounce, EventKind, LaunchField, Loadable, Popup, Problem, ProblemKind, State, StatusLine,
};
use super::rollout;
use crate::domain::act::{Act, Deploy, Overrides};
use crate::domain::run::{StepOverrides, StrategyKind};

/// How long the `--set` text rests before the Changes line is recomputed: one render
/// when typing pauses, not one per key.
pub const CHANGES_DEBOUNCE_MS: u64 = 300;

const STRATEGIES: [StrategyKind; 3] = [
    StrategyKind::Rolling,
    StrategyKind::Canary,
    StrategyKind::Bluegreen,
];

fn cycle(s: StrategyKind, forward: bool) -> StrategyKind {
    let i = STRATEGIES.iter().position(|x| *x == s).unwrap_or(0);
    let n = STRATEGIES.len();
    STRATEGIES[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

pub(super) fn on_key(state: &mut State, key: Key) -> Vec<Effect> {
    let Some(Popup::Launch(d)) = state.popup.as_mut() else {
        return Vec::new();
    };
    if key.ctrl && key.code == KeyCode::Char('c') {
        return super::quit(state);
    }
    let fields = d.fields();
    let i = fields.iter().position(|f| *f == d.field).unwrap_or(0);
    match key.code {
        KeyCode::Esc => {
            state.popup = None;
            return Vec::new();
        }
        KeyCode::Tab | KeyCode::Down => d.field = fields[(i + 1) % fields.len()],
        KeyCode::BackTab | KeyCode::Up => d.field = fields[(i + fields.len() - 1) % fields.len()],
        KeyCode::Enter => return launch(state),
        _ => match d.field {
            LaunchField::Strategy => match key.code {
                KeyCode::Left | KeyCode::Char('h') => d.strategy = cycle(d.strategy, false),
                KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                    d.strategy = cycle(d.strategy, true)
                }
                KeyCode::Char('r') => d.strategy = StrategyKind::Rolling,
                KeyCode::Char('c') => d.strategy = StrategyKind::Canary,
                KeyCode::Char('b') => d.strategy = StrategyKind::Bluegreen,
                _ => {}
            },
            LaunchField::Steps => super::edit(&mut d.steps, key),
            LaunchField::AutoPromote => {
                if matches!(
                    key.code,
                    KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right
                ) {
                    d.auto_promote = !d.auto_promote;
                }
            }
            LaunchField::Sets => {
                let before = d.sets.value().to_string();
                super::edit(&mut d.sets, key);
                if d.sets.value() != before {
                    // The wait starts at the next tick (keys carry no time).
                    d.changes_debounce = Some(Debounce { due_ms: None });
                }
            }
            LaunchField::Confirm => super::edit(&mut d.confirm, key),
        },
    }
    d.error = None;
    Vec::new()
}

/// Validates the dialog and starts the run; the rollout view opens on it.
fn launch(state: &mut State) -> Vec<Effect> {
    let Some(Popup::Launch(d)) = state.popup.as_mut() else {
        return Vec::new();
    };
    if d.protected && d.confirm.value().trim() != d.env {
        d.error = Some(format!(
            "`{}` is protected: type its name in the last field to deploy",
            d.env
        ));
        d.field = LaunchField::Confirm;
        return Vec::new();
    }
    let sets = match d.parsed_sets() {
        Ok(sets) => sets,
        Err(e) => {
            d.error = Some(e);
            d.field = LaunchField::Sets;
            return Vec::new();
        }
    };
    let mut steps = StepOverrides::default();
    match d.strategy {
        StrategyKind::Canary => match d.parsed_steps() {
            Ok(parsed) if parsed == d.configured => {}
            Ok(parsed) => steps.canary_steps = Some(parsed),
            Err(e) => {
                d.error = Some(e);
                d.field = LaunchField::Steps;
                return Vec::new();
            }
        },
        StrategyKind::Bluegreen if d.auto_promote != d.configured_auto_promote => {
            steps.auto_promote = Some(d.auto_promote);
        }
        _ => {}
    }
    let (service, env, strategy) = (d.service.clone(), d.env.clone(), d.strategy);
    state.popup = None;
    let mut out = rollout::open(state);
    let Some(r) = state.rollout.as_mut() else {
        return out;
    };
    r.driving = true;
    let gen = r.gen;
    let mut what = if sets.is_empty() {
        String::new()
    } else {
        format!(" with --set {}", sets.join(" "))
    };
    if let Some(st) = &steps.canary_steps {
        what.push_str(&format!(
            " — steps for this run: {}",
            crate::tui::steps::steps_text(st)
        ));
    }
    if let Some(a) = steps.auto_promote {
        what.push_str(if a {
            " — promotes on its own"
        } else {
            " — waits for P before switching"
        });
    }
    super::push_event(
        state,
        gen,
        EventKind::Info,
        format!("launching {service} → {env} ({}){what}", strategy.as_str()),
    );
    state.shell.status = Some(StatusLine {
        text: format!("deploying {service} to {env}…"),
        error: false,
    });
    out.push(Effect::Act {
        gen,
        service,
        env,
        act: Act::Deploy(Deploy {
            strategy: Some(strategy),
            overrides: Overrides::sets(sets),
            steps,
            resume: false,
        }),
    });
    out
}

/// Asks for the Changes line of the `--set` text as it stands (on opening, and when a
/// debounce comes due). A text that does not parse shows why instead of a count; the same
/// overrides as the line already has (or is loading) ask for nothing.
pub(super) fn compare(state: &mut State) -> Vec<Effect> {
    let gen = state.gen();
    let Some(Popup::Launch(d)) = state.popup.as_mut() else {
        return Vec::new();
    };
    d.changes_debounce = None;
    let sets = match d.parsed_sets() {
        Ok(sets) => sets,
        Err(error) => {
            // A new generation: a count still on its way is for other overrides.
            d.changes = Loadable::Failed {
                gen,
                error: Problem::new(ProblemKind::Input, error, ""),
            };
            d.changes_sets.clear();
            return Vec::new();
        }
    };
    let current = matches!(d.changes, Loadable::Ready { .. } | Loadable::Loading { .. });
    if current && sets == d.changes_sets {
        return Vec::new();
    }
    d.changes = Loadable::Loading { gen };
    d.changes_sets = sets.clone();
    vec![Effect::LoadChanges {
        gen,
        service: d.service.clone(),
        env: d.env.clone(),
        sets,
    }]
}

/// A tick: starts the wait of a debounce begun by a key, or recomputes once it is due.
pub(super) fn on_tick(state: &mut State) -> Vec<Effect> {
    let now = state.shell.now_ms;
    let Some(Popup::Launch(d)) = state.popup.as_mut() else {
        return Vec::new();
    };
    match d.changes_debounce {
        Some(Debounce { due_ms: None }) => {
            d.changes_debounce = Some(Debounce {
                due_ms: Some(now + CHANGES_DEBOUNCE_MS),
            });
            Vec::new()
        }
        Some(Debounce { due_ms: Some(due) }) if now >= due => compare(state),
        _ => Vec::new(),
    }
}

/// When the loop should send a `Msg::Tick` sooner than its regular one (ms since the
/// epoch; 0: at once, to start a debounce's wait).
pub(super) fn wake_at(state: &State) -> Option<u64> {
    match &state.popup {
        Some(Popup::Launch(d)) => d.changes_debounce.map(|b| b.due_ms.unwrap_or(0)),
        _ => None,
    }
}
