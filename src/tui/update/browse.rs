//! The browse screen: navigation lists on the left, preview tabs on the right.

use super::super::action::Action;
use super::super::msg::Effect;
use super::super::state::{
    Focus, LaunchDialog, Loadable, ManifestRow, Popup, Section, State, StatusLine, Tab,
};
use super::rollout;
use crate::domain::act::Act;
use tui_input::Input;

const PAGE: usize = 10;

/// Reloads what the selection shows: the preview, the open tab's data, the releases.
pub fn reload(state: &mut State) -> Vec<Effect> {
    let mut out = reload_selection(state);
    if let Some(env) = state.selected_env().map(|e| e.name.clone()) {
        let gen = state.gen();
        state.browse.releases = Loadable::Loading { gen };
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
    if state.browse.releases.value().is_none() {
        state.browse.releases = Loadable::Loading { gen };
    } else if let Loadable::Ready { gen: g, .. } = &mut state.browse.releases {
        *g = gen;
    }
    vec![Effect::LoadReleases { gen, env }]
}

/// The selected service or environment changed: forget its previews and load anew.
pub(super) fn reload_selection(state: &mut State) -> Vec<Effect> {
    state.browse.preview = Loadable::Idle;
    state.browse.diff = Loadable::Idle;
    state.browse.history = Loadable::Idle;
    state.browse.object = 0;
    state.browse.scroll = 0;
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
    state.browse.preview = Loadable::Loading { gen };
    vec![Effect::LoadPreview { gen, service, env }]
}

/// Loads the open tab's data when it is not there yet.
fn load_tab(state: &mut State) -> Vec<Effect> {
    let Some((service, env)) = target(state) else {
        return Vec::new();
    };
    match state.browse.tab {
        Tab::Diff if matches!(state.browse.diff, Loadable::Idle) => {
            let gen = state.gen();
            state.browse.diff = Loadable::Loading { gen };
            let against = if state.browse.diff_against_revision {
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
        Tab::History if matches!(state.browse.history, Loadable::Idle) => {
            let gen = state.gen();
            state.browse.history = Loadable::Loading { gen };
            vec![Effect::LoadHistory { gen, service, env }]
        }
        _ => Vec::new(),
    }
}

fn section_len(state: &State, s: Section) -> usize {
    match s {
        Section::Services => state.visible_services().len(),
        Section::Environments => state.shell.environments.len(),
        Section::Releases => state.browse.releases.value().map(Vec::len).unwrap_or(0),
        Section::Repositories => state.shell.repositories.len(),
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
    match state.browse.focus {
        Focus::Nav(section) => {
            let i = section_index(section);
            let len = section_len(state, section);
            let new = step(state.browse.cursor[i], len, delta);
            state.browse.cursor[i] = new;
            match section {
                Section::Services => {
                    let vis = state.visible_services();
                    if let Some(&svc) = vis.get(new) {
                        if svc != state.browse.service {
                            state.browse.service = svc;
                            return reload_selection(state);
                        }
                    }
                }
                Section::Environments => {
                    if new != state.browse.env && new < state.shell.environments.len() {
                        state.browse.env = new;
                        return reload(state);
                    }
                }
                Section::Releases | Section::Repositories => {}
            }
            Vec::new()
        }
        Focus::Main => {
            match state.browse.tab {
                Tab::Manifests => {
                    let len = state.browse.manifest_rows().len();
                    state.browse.object = step(state.browse.object, len, delta);
                    state.browse.scroll = 0;
                }
                Tab::History => {
                    let len = state.browse.history.value().map(Vec::len).unwrap_or(0);
                    state.browse.scroll = step(state.browse.scroll, len, delta);
                }
                _ => {
                    state.browse.scroll = (state.browse.scroll as isize + delta).max(0) as usize;
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
    let i = order
        .iter()
        .position(|f| *f == state.browse.focus)
        .unwrap_or(0);
    let n = order.len();
    state.browse.focus = order[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }];
}

fn set_tab(state: &mut State, tab: Tab) -> Vec<Effect> {
    if state.browse.tab != tab {
        state.browse.tab = tab;
        state.browse.scroll = 0;
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
            let t = Tab::ALL[(state.browse.tab.index() + 1) % Tab::ALL.len()];
            set_tab(state, t)
        }
        Action::PrevTab | Action::Left => {
            let n = Tab::ALL.len();
            let t = Tab::ALL[(state.browse.tab.index() + n - 1) % n];
            set_tab(state, t)
        }
        Action::Tab(i) => match Tab::ALL.get(i) {
            Some(t) => set_tab(state, *t),
            None => Vec::new(),
        },
        Action::Open => match state.browse.focus {
            Focus::Nav(Section::Releases) => {
                let i = section_index(Section::Releases);
                let row = state
                    .browse
                    .releases
                    .value()
                    .and_then(|r| r.get(state.browse.cursor[i]))
                    .map(|r| r.service.clone());
                let Some(name) = row else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                if let Some(idx) = state.shell.services.iter().position(|s| s.name == name) {
                    if idx != state.browse.service {
                        state.browse.service = idx;
                        out.extend(reload_selection(state));
                    }
                }
                out.extend(rollout::open(state));
                out
            }
            Focus::Nav(Section::Services) | Focus::Nav(Section::Environments) => {
                state.browse.focus = Focus::Main;
                Vec::new()
            }
            // Enter on a kind folds or unfolds its objects.
            Focus::Main if state.browse.tab == Tab::Manifests => {
                if let Some(ManifestRow::Kind { kind, .. }) = state
                    .browse
                    .manifest_rows()
                    .get(state.browse.object)
                    .cloned()
                {
                    if let Some(i) = state.browse.folded.iter().position(|k| *k == kind) {
                        state.browse.folded.remove(i);
                    } else {
                        state.browse.folded.push(kind);
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        },
        Action::OpenLaunch => open_launch(state),
        Action::OpenRollout => rollout::open(state),
        Action::Promote => rollout::ask(state, Act::promote()),
        Action::Rollback => rollout::ask(state, Act::Rollback { to: None }),
        Action::Abort => rollout::ask(state, Act::Abort),
        Action::ToggleDiffBase => {
            state.browse.diff_against_revision = !state.browse.diff_against_revision;
            state.browse.diff = Loadable::Idle;
            state.browse.scroll = 0;
            if state.browse.tab != Tab::Diff {
                return set_tab(state, Tab::Diff);
            }
            load_tab(state)
        }
        Action::Palette => {
            state.shell.palette = Some(Input::default());
            Vec::new()
        }
        Action::Filter => {
            let services = matches!(state.browse.focus, Focus::Nav(_));
            if services != state.browse.filter_services {
                state.browse.filter.clear();
            }
            state.browse.filter_services = services;
            state.browse.filtering = Some(Input::new(state.browse.filter.clone()));
            Vec::new()
        }
        Action::Help => {
            state.popup = Some(Popup::Help);
            Vec::new()
        }
        Action::Refresh => {
            state.shell.status = Some(StatusLine {
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
