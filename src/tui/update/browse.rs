//! The browse screen: navigation lists on the left, preview tabs on the right.

use super::super::action::Action;
use super::super::msg::Effect;
use super::super::state::{
    Focus, LaunchDialog, Loadable, ManifestRow, Popup, Section, State, StatusLine, Tab,
};
use super::rollout;
use tui_input::Input;

const PAGE: usize = 10;

/// Reloads what the selection shows: the preview, the open tab's data, the releases.
pub fn reload(state: &mut State) -> Vec<Effect> {
    let mut out = reload_selection(state);
    if let Some(env) = state.selected_env().map(|e| e.name.clone()) {
        let gen = state.gen();
        state.releases = Loadable::Loading { gen };
        out.push(Effect::LoadReleases { gen, env });
    }
    out
}

/// Reloads the release list only (keeping the one shown until the new one arrives).
pub fn reload_releases(state: &mut State) -> Vec<Effect> {
    let Some(env) = state.selected_env().map(|e| e.name.clone()) else {
        return Vec::new();
    };
    let gen = state.gen();
    if state.releases.value().is_none() {
        state.releases = Loadable::Loading { gen };
    } else if let Loadable::Ready { gen: g, .. } = &mut state.releases {
        *g = gen;
    }
    vec![Effect::LoadReleases { gen, env }]
}

/// The selected service or environment changed: forget its previews and load anew.
pub(super) fn reload_selection(state: &mut State) -> Vec<Effect> {
    state.preview = Loadable::Idle;
    state.diff = Loadable::Idle;
    state.history = Loadable::Idle;
    state.object = 0;
    state.scroll = 0;
    let mut out = load_preview(state);
    out.extend(load_tab(state));
    out
}

fn target(state: &State) -> Option<(String, String)> {
    Some((
        state.selected_service()?.name.clone(),
        state.selected_env()?.name.clone(),
    ))
}

fn load_preview(state: &mut State) -> Vec<Effect> {
    let Some((service, env)) = target(state) else {
        return Vec::new();
    };
    let gen = state.gen();
    state.preview = Loadable::Loading { gen };
    vec![Effect::LoadPreview { gen, service, env }]
}

/// Loads the open tab's data when it is not there yet.
fn load_tab(state: &mut State) -> Vec<Effect> {
    let Some((service, env)) = target(state) else {
        return Vec::new();
    };
    match state.tab {
        Tab::Diff if matches!(state.diff, Loadable::Idle) => {
            let gen = state.gen();
            state.diff = Loadable::Loading { gen };
            let against = if state.diff_against_revision {
                state.selected_release().and_then(|r| r.revision)
            } else {
                None
            };
            vec![Effect::LoadDiff {
                gen,
                service,
                env,
                against,
            }]
        }
        Tab::History if matches!(state.history, Loadable::Idle) => {
            let gen = state.gen();
            state.history = Loadable::Loading { gen };
            vec![Effect::LoadHistory { gen, service, env }]
        }
        _ => Vec::new(),
    }
}

fn section_len(state: &State, s: Section) -> usize {
    match s {
        Section::Services => state.visible_services().len(),
        Section::Environments => state.environments.len(),
        Section::Releases => state.releases.value().map(Vec::len).unwrap_or(0),
        Section::Repositories => state.repositories.len(),
    }
}

fn section_index(s: Section) -> usize {
    Section::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn step(cur: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    (cur as isize + delta).clamp(0, len as isize - 1) as usize
}

fn move_cursor(state: &mut State, delta: isize) -> Vec<Effect> {
    match state.focus {
        Focus::Nav(section) => {
            let i = section_index(section);
            let len = section_len(state, section);
            let new = step(state.cursor[i], len, delta);
            state.cursor[i] = new;
            match section {
                Section::Services => {
                    let vis = state.visible_services();
                    if let Some(&svc) = vis.get(new) {
                        if svc != state.service {
                            state.service = svc;
                            return reload_selection(state);
                        }
                    }
                }
                Section::Environments => {
                    if new != state.env && new < state.environments.len() {
                        state.env = new;
                        return reload(state);
                    }
                }
                Section::Releases | Section::Repositories => {}
            }
            Vec::new()
        }
        Focus::Main => {
            match state.tab {
                Tab::Manifests => {
                    let len = state.manifest_rows().len();
                    state.object = step(state.object, len, delta);
                    state.scroll = 0;
                }
                Tab::History => {
                    let len = state.history.value().map(Vec::len).unwrap_or(0);
                    state.scroll = step(state.scroll, len, delta);
                }
                _ => {
                    state.scroll = (state.scroll as isize + delta).max(0) as usize;
                }
            }
            Vec::new()
        }
    }
}

fn cycle_focus(state: &mut State, forward: bool) {
    let order = [
        Focus::Nav(Section::Services),
        Focus::Nav(Section::Environments),
        Focus::Nav(Section::Releases),
        Focus::Nav(Section::Repositories),
        Focus::Main,
    ];
    let i = order.iter().position(|f| *f == state.focus).unwrap_or(0);
    let n = order.len();
    state.focus = order[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }];
}

fn set_tab(state: &mut State, tab: Tab) -> Vec<Effect> {
    if state.tab != tab {
        state.tab = tab;
        state.scroll = 0;
    }
    load_tab(state)
}

/// Opens the launch dialog for the selected service and environment.
pub(crate) fn open_launch(state: &mut State) -> Vec<Effect> {
    let (Some(svc), Some(env)) = (state.selected_service(), state.selected_env()) else {
        return Vec::new();
    };
    let dialog = LaunchDialog::new(svc, env);
    state.popup = Some(Popup::Launch(Box::new(dialog)));
    // Its own comparison, not the Diff tab's: that one may be against a revision, or
    // older than the last deploy.
    super::launch::compare(state)
}

pub(super) fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Quit => super::quit(state),
        Action::Up => move_cursor(state, -1),
        Action::Down => move_cursor(state, 1),
        Action::PageUp => move_cursor(state, -(PAGE as isize)),
        Action::PageDown => move_cursor(state, PAGE as isize),
        Action::Top => move_cursor(state, -100_000),
        Action::Bottom => move_cursor(state, 100_000),
        Action::NextPane => {
            cycle_focus(state, true);
            Vec::new()
        }
        Action::PrevPane => {
            cycle_focus(state, false);
            Vec::new()
        }
        Action::NextTab | Action::Right => {
            let t = Tab::ALL[(state.tab.index() + 1) % Tab::ALL.len()];
            set_tab(state, t)
        }
        Action::PrevTab | Action::Left => {
            let n = Tab::ALL.len();
            let t = Tab::ALL[(state.tab.index() + n - 1) % n];
            set_tab(state, t)
        }
        Action::Tab(i) => match Tab::ALL.get(i) {
            Some(t) => set_tab(state, *t),
            None => Vec::new(),
        },
        Action::Open => match state.focus {
            Focus::Nav(Section::Releases) => {
                let i = section_index(Section::Releases);
                let row = state
                    .releases
                    .value()
                    .and_then(|r| r.get(state.cursor[i]))
                    .map(|r| r.service.clone());
                let Some(name) = row else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                if let Some(idx) = state.services.iter().position(|s| s.name == name) {
                    if idx != state.service {
                        state.service = idx;
                        out.extend(reload_selection(state));
                    }
                }
                out.extend(rollout::open(state));
                out
            }
            Focus::Nav(Section::Services) | Focus::Nav(Section::Environments) => {
                state.focus = Focus::Main;
                Vec::new()
            }
            // Enter on a kind folds or unfolds its objects.
            Focus::Main if state.tab == Tab::Manifests => {
                if let Some(ManifestRow::Kind { kind, .. }) =
                    state.manifest_rows().get(state.object).cloned()
                {
                    if let Some(i) = state.folded.iter().position(|k| *k == kind) {
                        state.folded.remove(i);
                    } else {
                        state.folded.push(kind);
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        },
        Action::OpenLaunch => open_launch(state),
        Action::OpenRollout => rollout::open(state),
        Action::Promote => rollout::ask(state, super::super::state::RunAction::Promote),
        Action::Rollback => rollout::ask(state, super::super::state::RunAction::Rollback),
        Action::Abort => rollout::ask(state, super::super::state::RunAction::Abort),
        Action::ToggleDiffBase => {
            state.diff_against_revision = !state.diff_against_revision;
            state.diff = Loadable::Idle;
            state.scroll = 0;
            if state.tab != Tab::Diff {
                return set_tab(state, Tab::Diff);
            }
            load_tab(state)
        }
        Action::Palette => {
            state.palette = Some(Input::default());
            Vec::new()
        }
        Action::Filter => {
            let services = matches!(state.focus, Focus::Nav(_));
            if services != state.filter_services {
                state.filter.clear();
            }
            state.filter_services = services;
            state.filtering = Some(Input::new(state.filter.clone()));
            Vec::new()
        }
        Action::Help => {
            state.popup = Some(Popup::Help);
            Vec::new()
        }
        Action::Refresh => {
            state.status = Some(StatusLine {
                text: "refreshing…".into(),
                error: false,
            });
            reload(state)
        }
        Action::Back
        | Action::Confirm
        | Action::Cancel
        | Action::Logs
        | Action::GateDetail
        | Action::ClusterEvents => Vec::new(),
    }
}
