//! The console's flows through `update` alone: keys in, state and effects out. No terminal,
//! no cluster.

mod tui_fixtures;

use helmdeck::domain::act::{Act, Deploy};
use helmdeck::domain::run::{Status, StrategyKind};
use helmdeck::tui::msg::RunEnd;
use helmdeck::tui::state::{
    Connection, EventKind, Focus, Loadable, Popup, Problem, ProblemKind, Section, Tab,
};
use helmdeck::tui::update::{init, update};
use helmdeck::tui::{Effect, Key, KeyCode, Msg, State};
use tui_fixtures as fx;

fn key(s: &mut State, k: Key) -> Vec<Effect> {
    update(s, Msg::Key(k))
}

fn ch(s: &mut State, c: char) -> Vec<Effect> {
    key(s, Key::char(c))
}

fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        ch(s, c);
    }
}

/// The drive of rollout 20 ending at revision 2's canary pause, at `at_ms`.
fn paused_drive_end(at_ms: u64) -> Msg {
    Msg::RunEnded {
        gen: 20,
        result: Ok(RunEnd {
            revision: Some(2),
            status: Some(Status::Paused),
            strategy: Some(StrategyKind::Canary),
            paused: true,
            note: String::new(),
            at_ms,
        }),
    }
}

/// The deploy an effect starts: (service, environment, what it asks for).
fn deploy_of(e: &Effect) -> Option<(&str, &str, &Deploy)> {
    match e {
        Effect::Act {
            service,
            env,
            act: Act::Deploy(d),
            ..
        } => Some((service, env, d)),
        _ => None,
    }
}

/// The `--set` expressions of a deploy.
fn sets_of(d: &Deploy) -> Vec<&str> {
    d.overrides.sets.iter().map(|s| s.expr.as_str()).collect()
}

fn fresh() -> State {
    State::new(fx::services(), fx::environments(), Vec::new())
}

#[test]
fn opening_loads_the_preview_and_the_releases() {
    let mut s = fresh();
    let fx = init(&mut s);
    assert!(
        matches!(&fx[0], Effect::LoadPreview { service, env, .. } if service == "web" && env == "staging")
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::LoadReleases { env, .. } if env == "staging")));
    assert!(s.browse.preview.is_loading());
}

#[test]
fn moving_down_the_services_previews_the_next_one_and_drops_stale_results() {
    let mut s = fresh();
    init(&mut s);
    let stale = s.browse.preview.gen().expect("loading");
    let fx = ch(&mut s, 'j');
    assert_eq!(s.browse.service, 1);
    let Some(Effect::LoadPreview { gen, service, .. }) = fx.first().cloned() else {
        panic!("{fx:?}");
    };
    assert_eq!(service, "checkout");
    // The answer for web arrives late: dropped.
    update(
        &mut s,
        Msg::PreviewLoaded {
            gen: stale,
            result: Ok(fx::preview()),
        },
    );
    assert!(s.browse.preview.is_loading());
    update(
        &mut s,
        Msg::PreviewLoaded {
            gen,
            result: Ok(fx::preview()),
        },
    );
    assert!(s.browse.preview.value().is_some());
}

#[test]
fn tabs_load_their_data_once() {
    let mut s = fx::browse();
    s.browse.diff = Loadable::Idle;
    let fx = ch(&mut s, '3');
    assert_eq!(s.browse.tab, Tab::Diff);
    assert!(matches!(fx.as_slice(), [Effect::LoadDiff { .. }]));
    let again = key(&mut s, Key::plain(KeyCode::Right));
    assert_eq!(s.browse.tab, Tab::History);
    assert!(again.is_empty(), "history already loaded: {again:?}");
}

#[test]
fn v_compares_with_the_last_revision_instead_of_the_cluster() {
    let mut s = fx::browse();
    let fx = ch(&mut s, 'v');
    assert_eq!(s.browse.tab, Tab::Diff);
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::LoadDiff {
                against: Some(2),
                ..
            }]
        ),
        "{fx:?}"
    );
    let fx = ch(&mut s, 'v');
    assert!(
        matches!(fx.as_slice(), [Effect::LoadDiff { against: None, .. }]),
        "{fx:?}"
    );
}

#[test]
fn tab_cycles_panes_and_enter_on_a_release_opens_its_rollout() {
    let mut s = fx::browse();
    key(&mut s, Key::plain(KeyCode::Tab));
    key(&mut s, Key::plain(KeyCode::Tab));
    assert_eq!(s.browse.focus, Focus::Nav(Section::Releases));
    ch(&mut s, 'j');
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert_eq!(
        s.selected_service().map(|x| x.name.as_str()),
        Some("checkout")
    );
    assert!(s.showing_rollout());
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::WatchRelease { service, .. } if service == "checkout")));
    key(&mut s, Key::plain(KeyCode::Esc));
    assert!(!s.showing_rollout());
}

#[test]
fn filter_narrows_the_objects_fuzzily_and_esc_clears_it() {
    let mut s = fx::browse();
    s.browse.focus = Focus::Main;
    ch(&mut s, '/');
    typed(&mut s, "hpa");
    assert_eq!(s.browse.filter, "hpa");
    let names: Vec<String> = s
        .browse
        .visible_objects()
        .iter()
        .map(|i| fx::preview().objects[*i].kind.clone())
        .collect();
    assert_eq!(names, vec!["HorizontalPodAutoscaler"]);
    key(&mut s, Key::plain(KeyCode::Esc));
    assert!(s.browse.filter.is_empty() && s.browse.filtering.is_none());
    assert_eq!(s.browse.visible_objects().len(), 7);
}

#[test]
fn enter_on_a_kind_folds_its_objects() {
    use helmdeck::tui::state::ManifestRow;
    let mut s = fx::browse();
    s.browse.focus = Focus::Main;
    s.browse.object = 0;
    assert_eq!(s.browse.manifest_rows().len(), 14);
    assert!(
        matches!(&s.browse.manifest_rows()[0], ManifestRow::Kind { kind, .. } if kind == "ServiceAccount")
    );
    key(&mut s, Key::plain(KeyCode::Enter));
    assert_eq!(s.browse.manifest_rows().len(), 13);
    assert!(matches!(
        &s.browse.manifest_rows()[0],
        ManifestRow::Kind { folded: true, .. }
    ));
    assert_eq!(
        s.browse.selected_object(),
        Some(0),
        "a folded kind still previews its first object"
    );
    ch(&mut s, 'j');
    ch(&mut s, 'j');
    assert_eq!(s.browse.selected_object(), Some(1));
    key(&mut s, Key::plain(KeyCode::Enter)); // on an object: nothing to fold
    assert_eq!(s.browse.manifest_rows().len(), 13);
}

#[test]
fn filtering_in_the_navigation_narrows_the_services_and_selects_the_first_match() {
    let mut s = fx::browse();
    ch(&mut s, '/');
    let mut fx = ch(&mut s, 'c');
    fx.extend(ch(&mut s, 'k'));
    key(&mut s, Key::plain(KeyCode::Enter));
    assert_eq!(s.visible_services(), vec![1]);
    assert_eq!(
        s.selected_service().map(|x| x.name.as_str()),
        Some("checkout")
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::LoadPreview { service, .. } if service == "checkout")));
    s.browse.preview = Loadable::Ready {
        gen: 1,
        value: fx::preview(),
    };
    assert_eq!(
        s.browse.visible_objects().len(),
        7,
        "the objects are not filtered"
    );
}

#[test]
fn launch_sends_the_strategy_and_the_overrides_and_opens_the_rollout() {
    let mut s = fx::browse();
    ch(&mut s, 'd');
    assert!(matches!(s.popup, Some(Popup::Launch(_))));
    key(&mut s, Key::plain(KeyCode::Right)); // canary → bluegreen
    key(&mut s, Key::plain(KeyCode::Left)); // back to canary
    key(&mut s, Key::plain(KeyCode::Tab)); // steps
    key(&mut s, Key::plain(KeyCode::Tab)); // --set
    typed(&mut s, "image.tag=1.3.0-crash replicaCount=3");
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    let (service, env, d) = fx.iter().find_map(deploy_of).expect("launch effect");
    assert_eq!((service, env), ("web", "staging"));
    assert_eq!(d.strategy, Some(StrategyKind::Canary));
    assert_eq!(sets_of(d), ["image.tag=1.3.0-crash", "replicaCount=3"]);
    assert!(s.popup.is_none() && s.showing_rollout());
    assert!(s.rollout.as_ref().is_some_and(|r| r.driving));
}

#[test]
fn the_launch_dialog_takes_helms_other_override_flags() {
    let mut s = fx::browse();
    ch(&mut s, 'd');
    key(&mut s, Key::plain(KeyCode::Tab)); // steps
    key(&mut s, Key::plain(KeyCode::Tab)); // --set
    typed(
        &mut s,
        "a=1 --set-string b=010 --set-json=c=[1,2] --set-file tls.crt=./c.pem --set-literal d=x,y",
    );
    let Some(Popup::Launch(d)) = &s.popup else {
        panic!("dialog open");
    };
    let sets = d.parsed_sets().expect("parses");
    assert_eq!(
        sets,
        [
            "a=1",
            "--set-string b=010",
            "--set-json c=[1,2]",
            "--set-file tls.crt=./c.pem",
            "--set-literal d=x,y"
        ]
    );
    let kinds: Vec<_> = sets
        .iter()
        .map(|w| helmdeck::domain::values::SetOverride::from_word(w))
        .map(|o| (o.kind.flag(), o.expr))
        .collect();
    assert_eq!(kinds[1], ("--set-string", "b=010".to_string()));
    assert_eq!(kinds[4], ("--set-literal", "d=x,y".to_string()));
    for bad in ["--set-strin a=1", "--set-json"] {
        let mut s = fx::browse();
        ch(&mut s, 'd');
        key(&mut s, Key::plain(KeyCode::Tab));
        key(&mut s, Key::plain(KeyCode::Tab));
        typed(&mut s, bad);
        let Some(Popup::Launch(d)) = &s.popup else {
            panic!("dialog open");
        };
        let err = d.parsed_sets().expect_err(bad);
        assert!(err.contains(bad.split(' ').next().unwrap_or(bad)), "{err}");
    }
}

#[test]
fn a_protected_environment_needs_its_name_typed() {
    let mut s = fx::browse();
    key(&mut s, Key::plain(KeyCode::Tab)); // environments
    ch(&mut s, 'j'); // production
    assert_eq!(
        s.selected_env().map(|e| e.name.as_str()),
        Some("production")
    );
    ch(&mut s, 'd');
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(fx.is_empty());
    let Some(Popup::Launch(d)) = &s.popup else {
        panic!("dialog stays open");
    };
    assert!(d.error.as_deref().is_some_and(|e| e.contains("protected")));
    typed(&mut s, "production");
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(fx
        .iter()
        .any(|e| deploy_of(e).is_some_and(|(_, env, _)| env == "production")));
}

#[test]
fn edited_canary_steps_go_to_the_run_and_bad_ones_keep_the_dialog_open() {
    let mut s = fx::browse();
    ch(&mut s, 'd');
    key(&mut s, Key::plain(KeyCode::Tab)); // steps
    {
        let Some(Popup::Launch(d)) = &s.popup else {
            panic!("dialog open");
        };
        assert_eq!(d.steps.value(), "1 pod, pause, 50%, pause 30s");
    }
    key(&mut s, Key::ctrl('u'));
    typed(&mut s, "2 pods, pause 1m, 0%");
    assert!(key(&mut s, Key::plain(KeyCode::Enter)).is_empty());
    let Some(Popup::Launch(d)) = &s.popup else {
        panic!("dialog stays open");
    };
    let e = d.error.clone().unwrap_or_default();
    assert!(e.contains("step 3") && e.contains("1 to 100"), "{e}");
    assert_eq!(
        d.steps.value(),
        "2 pods, pause 1m, 0%",
        "nothing typed is lost"
    );
    key(&mut s, Key::plain(KeyCode::Backspace));
    key(&mut s, Key::plain(KeyCode::Backspace));
    typed(&mut s, "25%, pause");
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    let steps = fx
        .iter()
        .find_map(|e| deploy_of(e).map(|(_, _, d)| d.steps.clone()))
        .expect("launch effect");
    let got = steps.canary_steps.expect("steps overridden");
    assert_eq!(
        helmdeck::tui::steps::steps_text(&got),
        "2 pods, pause 1m, 25%, pause"
    );
    assert_eq!(steps.auto_promote, None);
}

#[test]
fn unchanged_steps_are_not_an_override_and_bluegreen_toggles_auto_promote() {
    let mut s = fx::browse();
    ch(&mut s, 'd');
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(fx
        .iter()
        .any(|e| deploy_of(e).is_some_and(|(_, _, d)| d.steps.is_empty())));
    let mut s = fx::browse();
    ch(&mut s, 'd');
    key(&mut s, Key::plain(KeyCode::Right)); // canary → bluegreen
    key(&mut s, Key::plain(KeyCode::Tab)); // auto-promote
    ch(&mut s, ' ');
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(fx
        .iter()
        .filter_map(deploy_of)
        .any(|(_, _, d)| d.strategy == Some(StrategyKind::Bluegreen)
            && d.steps.auto_promote == Some(true)
            && d.steps.canary_steps.is_none()));
}

#[test]
fn bad_set_expressions_are_refused_in_the_dialog() {
    let mut s = fx::browse();
    ch(&mut s, 'd');
    key(&mut s, Key::plain(KeyCode::Tab));
    key(&mut s, Key::plain(KeyCode::Tab));
    typed(&mut s, "image.tag");
    assert!(key(&mut s, Key::plain(KeyCode::Enter)).is_empty());
    let Some(Popup::Launch(d)) = &s.popup else {
        panic!("dialog stays open");
    };
    assert!(d.error.as_deref().is_some_and(|e| e.contains("key=value")));
    key(&mut s, Key::plain(KeyCode::Esc));
    assert!(s.popup.is_none());
}

#[test]
fn promote_asks_first_and_n_changes_nothing() {
    let mut s = fx::rollout_paused();
    assert!(ch(&mut s, 'P').is_empty());
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!("confirmation expected");
    };
    assert!(
        c.consequence.contains("canaries are deleted"),
        "{}",
        c.consequence
    );
    assert!(ch(&mut s, 'n').is_empty());
    assert!(s.popup.is_none());
    ch(&mut s, 'P');
    let fx = ch(&mut s, 'y');
    assert!(
        matches!(fx.as_slice(), [Effect::Act { gen: 20, service, act: Act::Promote { .. }, .. }] if service == "web")
    );
    assert!(s.rollout.as_ref().is_some_and(|r| r.driving));
}

#[test]
fn l_follows_the_selected_pods_log_and_closes_it_again() {
    let mut s = fx::rollout_paused();
    let fx = ch(&mut s, 'L');
    assert!(
        matches!(fx.as_slice(), [Effect::FollowLogs { pod, .. }] if pod == "web-canary-55f5d8578c-gn2np")
    );
    let gen = s
        .rollout
        .as_ref()
        .and_then(|r| r.logs.as_ref())
        .map(|l| l.gen)
        .expect("pane");
    update(
        &mut s,
        Msg::LogLines {
            gen,
            lines: vec!["GET /healthz 200".into()],
            error: None,
        },
    );
    update(
        &mut s,
        Msg::LogLines {
            gen: gen + 100,
            lines: vec!["stale".into()],
            error: None,
        },
    );
    let lines = s
        .rollout
        .as_ref()
        .and_then(|r| r.logs.as_ref())
        .map(|l| l.lines.clone());
    assert_eq!(lines, Some(vec!["GET /healthz 200".to_string()]));
    assert_eq!(ch(&mut s, 'L'), vec![Effect::StopLogs]);
}

#[test]
fn promote_waits_for_a_pause_but_can_cut_a_timed_pause_short() {
    let mut s = fx::rollout_paused();
    s.rollout.as_mut().expect("rollout").driving = true;
    ch(&mut s, 'P');
    assert!(s.popup.is_none());
    assert!(s
        .shell
        .status
        .as_ref()
        .is_some_and(|l| l.text.contains("still moving")));
    {
        let run = s
            .rollout
            .as_mut()
            .and_then(|r| r.snapshot.run.as_mut())
            .expect("the fixture has a run");
        run.status = Status::Progressing;
        run.pause_until_ms = Some(fx::NOW + 20_000);
    }
    ch(&mut s, 'P');
    assert!(matches!(s.popup, Some(Popup::Confirm(_))));
}

#[test]
fn abort_and_rollback_name_what_happens() {
    let mut s = fx::rollout_paused();
    ch(&mut s, 'A');
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!("confirmation expected");
    };
    assert!(c.consequence.contains("primaries"));
    key(&mut s, Key::plain(KeyCode::Esc));
    ch(&mut s, 'R');
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Act {
            act: Act::Rollback { .. },
            ..
        }]
    ));
}

#[test]
fn r_in_the_history_tab_rolls_back_to_the_revision_under_the_cursor() {
    let mut s = fx::browse();
    ch(&mut s, '4');
    key(&mut s, Key::plain(KeyCode::BackTab)); // from services back to the main pane
    assert_eq!(s.browse.focus, Focus::Main);
    ch(&mut s, 'j'); // newest first: r2, then r1
    ch(&mut s, 'R');
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!("confirmation expected");
    };
    assert_eq!(c.act, Act::Rollback { to: Some(1) });
    assert!(c.consequence.contains("r1"), "{}", c.consequence);
    let fx = ch(&mut s, 'y');
    assert!(
        matches!(
            fx.as_slice(),
            [
                Effect::WatchRelease { .. },
                Effect::Act {
                    act: Act::Rollback { to: Some(1) },
                    ..
                }
            ]
        ),
        "{fx:?}"
    );
}

#[test]
fn promote_without_an_active_run_says_so() {
    let mut s = fx::browse();
    ch(&mut s, 'j'); // checkout: RolledBack
    s.browse.releases = Loadable::Ready {
        gen: 99,
        value: fx::releases(),
    };
    assert!(ch(&mut s, 'P').is_empty());
    assert!(s.popup.is_none());
    assert!(s
        .shell
        .status
        .as_ref()
        .is_some_and(|l| l.error && l.text.contains("no active run")));
}

#[test]
fn run_end_at_a_pause_tells_what_to_do_and_reloads_the_releases() {
    let mut s = fx::rollout_paused();
    s.rollout.as_mut().expect("rollout").driving = true;
    let fx = update(&mut s, paused_drive_end(fx::NOW));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadReleases { .. })));
    assert!(!s.rollout.as_ref().expect("rollout").driving);
    assert!(s
        .shell
        .status
        .as_ref()
        .is_some_and(|l| l.text.contains("P promotes")));
    // A run end of another (older) view is ignored.
    let fx = update(
        &mut s,
        Msg::RunEnded {
            gen: 3,
            result: Err(Problem::new(ProblemKind::Failed, "boom", "")),
        },
    );
    assert!(fx.is_empty());
}

#[test]
fn errors_land_on_the_status_line() {
    let mut s = fresh();
    init(&mut s);
    let gen = s.browse.preview.gen().expect("loading");
    update(
        &mut s,
        Msg::PreviewLoaded {
            gen,
            result: Err(Problem::new(
                ProblemKind::Input,
                "no Helm found",
                "set $HELMDECK_HELM",
            )),
        },
    );
    assert!(s
        .shell
        .status
        .as_ref()
        .is_some_and(|l| l.error && l.text.contains("HELMDECK_HELM")));
}

#[test]
fn only_an_unreachable_cluster_changes_the_connection_indicator() {
    let mut s = fresh();
    init(&mut s);
    let gen = s.browse.releases.gen().expect("loading");
    // A configuration problem says nothing about the cluster.
    update(
        &mut s,
        Msg::ReleasesLoaded {
            gen,
            result: Err(Problem::new(
                ProblemKind::Input,
                "environment staging: no such context",
                "fix helmdeck.yaml",
            )),
        },
    );
    assert_eq!(s.shell.connection, Connection::Unknown);
    let fx = update(&mut s, Msg::Reload);
    let Some(Effect::LoadReleases { gen, .. }) = fx.first().cloned() else {
        panic!("{fx:?}");
    };
    update(
        &mut s,
        Msg::ReleasesLoaded {
            gen,
            result: Err(Problem::new(
                ProblemKind::Unreachable,
                "the cluster at https://127.0.0.1:1 is unreachable",
                "check that the cluster is up",
            )),
        },
    );
    assert!(matches!(s.shell.connection, Connection::Failing(_)));
}

#[test]
fn q_and_ctrl_c_quit_from_anywhere() {
    let mut s = fx::browse();
    assert_eq!(ch(&mut s, 'q'), vec![Effect::Quit]);
    assert!(s.shell.quit);
    let mut s = fx::browse();
    ch(&mut s, 'd');
    assert_eq!(key(&mut s, Key::ctrl('c')), vec![Effect::Quit]);
}

#[test]
fn the_palette_switches_environment_and_asks_before_rolling_back() {
    let mut s = fx::browse();
    ch(&mut s, ':');
    typed(&mut s, "env production");
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert_eq!(
        s.selected_env().map(|e| e.name.as_str()),
        Some("production")
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::LoadReleases { env, .. } if env == "production")));
    ch(&mut s, ':');
    typed(&mut s, "rollback 3");
    key(&mut s, Key::plain(KeyCode::Enter));
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!("confirmation expected");
    };
    assert_eq!(c.act, Act::Rollback { to: Some(3) });
    ch(&mut s, ':'); // keys go to the confirmation, not a new palette
    assert!(s.shell.palette.is_none());
    key(&mut s, Key::plain(KeyCode::Esc));
    ch(&mut s, ':');
    typed(&mut s, "frobnicate");
    key(&mut s, Key::plain(KeyCode::Enter));
    assert!(s
        .shell
        .status
        .as_ref()
        .is_some_and(|l| l.error && l.text.contains("unknown command")));
    ch(&mut s, ':');
    typed(&mut s, "q");
    assert_eq!(key(&mut s, Key::plain(KeyCode::Enter)), vec![Effect::Quit]);
}

#[test]
fn footer_and_help_come_from_the_keymap() {
    use helmdeck::tui::keymap::{Keymap, Mode};
    let km = Keymap::defaults();
    for (k, _) in km.footer(Mode::Browse) {
        assert!(!k.is_empty());
    }
    assert!(km
        .help(Mode::Rollout)
        .iter()
        .any(|(k, h)| k == "P" && h == "promote"));
    assert_eq!(
        km.lookup(Mode::Rollout, Key::char('A')),
        Some(helmdeck::tui::Action::Abort)
    );
}

#[test]
fn a_users_keymap_file_changes_a_binding_footer_and_help() {
    use helmdeck::tui::keymap::Mode;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keymap.yaml");
    std::fs::write(
        &file,
        "rollout:\n  - { key: p, action: promote, help: promote the canary, footer: promote }\n  - { key: P, action: none }\n",
    )
    .expect("writes");
    let km = helmdeck::app::load_keymap(Some(&file)).expect("loads");
    assert_eq!(km.lookup(Mode::Rollout, Key::char('P')), None);
    assert!(km
        .footer(Mode::Rollout)
        .iter()
        .any(|(k, h)| k == "p" && h == "promote"));
    let mut s = fx::rollout_paused();
    s.shell.keymap = std::sync::Arc::new(km);
    assert!(ch(&mut s, 'P').is_empty() && s.popup.is_none());
    ch(&mut s, 'p');
    assert!(matches!(s.popup, Some(Popup::Confirm(_))));
    // Other modes keep their defaults.
    assert_eq!(
        s.shell.keymap.lookup(Mode::Browse, Key::char('P')),
        Some(helmdeck::tui::Action::Promote)
    );
}

#[test]
fn a_bad_keymap_file_names_the_file_line_and_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keymap.yaml");
    let cases = [
        (
            "rollout:\n  - { key: p, action: promot }\n",
            2,
            "did you mean `promote`?",
        ),
        (
            "browse:\n  - { key: j, action: down }\n  - { key: ctrl-xy, action: up }\n",
            3,
            "not a key",
        ),
        (
            "rolout:\n  - { key: p, action: promote }\n",
            1,
            "did you mean `rollout`?",
        ),
        ("help:\n  - { action: back }\n", 2, "without `key`"),
    ];
    for (text, line, says) in cases {
        std::fs::write(&file, text).expect("writes");
        let e = helmdeck::app::load_keymap(Some(&file))
            .expect_err("refused")
            .to_string();
        let at = format!("{}:{line}:", file.display());
        assert!(e.starts_with(&at) && e.contains(says), "{e}");
    }
}

#[test]
fn promote_on_a_paused_gate_confirms_the_check_and_goes_past_it() {
    let mut s = fx::rollout_paused_at_gate();
    ch(&mut s, 'P');
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!("asks first");
    };
    assert!(
        c.consequence.contains("`smoke` failed") && c.consequence.contains("✗ failed 500"),
        "{}",
        c.consequence
    );
    let fx = ch(&mut s, 'y');
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::Act { act, .. } if act.past_gate() == Some("smoke")
        )),
        "{fx:?}"
    );
    // A plain pause promotes without naming any gate.
    let mut s = fx::rollout_paused();
    ch(&mut s, 'P');
    let fx = ch(&mut s, 'y');
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Act {
            act: Act::Promote {
                past_gate: None,
                ..
            },
            ..
        }
    )));
}

#[test]
fn g_toggles_the_gate_pane() {
    let mut s = fx::rollout_paused();
    ch(&mut s, 'g');
    assert!(s.rollout.as_ref().is_some_and(|r| r.show_gate));
    ch(&mut s, 'g');
    assert!(s.rollout.as_ref().is_some_and(|r| !r.show_gate));
}

#[test]
fn pause_ticks_count_down_and_a_new_step_clears_them() {
    let mut s = fx::rollout_paused();
    let gen = s.rollout.as_ref().map(|r| r.gen).unwrap_or_default();
    update(
        &mut s,
        Msg::PauseTick {
            gen,
            index: 5,
            elapsed_ms: 1_000,
            total_ms: 30_000,
        },
    );
    // A stale drive's tick is dropped.
    update(
        &mut s,
        Msg::PauseTick {
            gen: gen + 100,
            index: 5,
            elapsed_ms: 29_000,
            total_ms: 30_000,
        },
    );
    assert_eq!(
        s.rollout
            .as_ref()
            .and_then(|r| r.pause)
            .map(|p| p.elapsed_ms),
        Some(1_000)
    );
    update(
        &mut s,
        Msg::RunProgress {
            gen,
            kind: EventKind::Step,
            text: "▸ [6] promote".into(),
        },
    );
    assert!(s.rollout.as_ref().is_some_and(|r| r.pause.is_none()));
}

#[test]
fn promote_right_after_the_drive_pauses_trusts_the_drive_over_an_older_record() {
    // The watch read the record before the new run existed: r1, Healthy.
    let mut s = fx::rollout_paused();
    {
        let r = s.rollout.as_mut().expect("the fixture has a rollout");
        r.driving = true;
        {
            let run = r.snapshot.run.as_mut().expect("the fixture has a run");
            run.revision = 1;
            run.status = Status::Healthy;
        }
        r.snapshot.run_read_ms = fx::NOW - 2_000;
    }
    update(&mut s, paused_drive_end(fx::NOW - 1_000));
    ch(&mut s, 'P');
    let Some(Popup::Confirm(c)) = &s.popup else {
        panic!(
            "asks to promote r2, not `no active run`: {:?}",
            s.shell.status
        );
    };
    assert!(c.consequence.starts_with("r2 "), "{}", c.consequence);
}

#[test]
fn promote_in_a_timed_pause_known_from_the_drives_ticks() {
    // The record still shows the step before the pause; the drive already ticks it.
    let mut s = fx::rollout_paused();
    let gen = s.rollout.as_ref().map(|r| r.gen).unwrap_or_default();
    {
        let r = s.rollout.as_mut().expect("the fixture has a rollout");
        r.driving = true;
        {
            let run = r.snapshot.run.as_mut().expect("the fixture has a run");
            run.status = Status::Progressing;
        }
    }
    ch(&mut s, 'P');
    assert!(s.popup.is_none(), "still moving: no pause yet");
    update(
        &mut s,
        Msg::PauseTick {
            gen,
            index: 6,
            elapsed_ms: 2_000,
            total_ms: 30_000,
        },
    );
    ch(&mut s, 'P');
    assert!(
        matches!(s.popup, Some(Popup::Confirm(_))),
        "{:?}",
        s.shell.status
    );
}

#[test]
fn a_chart_download_shows_its_progress_until_the_preview_arrives() {
    let mut s = fresh();
    init(&mut s);
    let first = s.browse.preview.gen().expect("loading");
    update(
        &mut s,
        Msg::SourceProgress {
            gen: first,
            done: 512 * 1024,
            total: Some(1024 * 1024),
        },
    );
    assert_eq!(
        s.browse.fetching_text().as_deref(),
        Some("fetching 512 KiB of 1.0 MiB (50%)")
    );
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("t");
    t.draw(|f| helmdeck::tui::ui::draw(&s, &helmdeck::tui::theme::Theme::colored(), f))
        .expect("draws");
    assert!(
        t.backend()
            .to_string()
            .contains("fetching 512 KiB of 1.0 MiB"),
        "{}",
        t.backend()
    );
    // Another service is picked: the old download's reports are dropped.
    ch(&mut s, 'j');
    assert_eq!(s.browse.fetching_text(), None);
    update(
        &mut s,
        Msg::SourceProgress {
            gen: first,
            done: 900 * 1024,
            total: Some(1024 * 1024),
        },
    );
    assert_eq!(s.browse.fetching_text(), None);
    let now = s.browse.preview.gen().expect("loading");
    update(
        &mut s,
        Msg::SourceProgress {
            gen: now,
            done: 3000,
            total: None,
        },
    );
    assert_eq!(s.browse.fetching_text().as_deref(), Some("fetching 3 KiB"));
    update(
        &mut s,
        Msg::PreviewLoaded {
            gen: now,
            result: Ok(fx::preview()),
        },
    );
    assert_eq!(s.browse.fetching_text(), None);
    assert_eq!(s.browse.fetching, None);
}

fn tick(s: &mut State, now_ms: u64) -> Vec<Effect> {
    update(
        s,
        Msg::Tick {
            now_ms,
            clock: String::new(),
        },
    )
}

fn dialog(s: &State) -> &helmdeck::tui::state::LaunchDialog {
    match &s.popup {
        Some(Popup::Launch(d)) => d,
        other => panic!("launch dialog open: {other:?}"),
    }
}

/// The dialog's Changes line, as drawn.
fn changes_line(s: &State) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).expect("tty");
    t.draw(|f| helmdeck::tui::ui::draw(s, &helmdeck::tui::Theme::monochrome(), f))
        .expect("draws");
    let screen = t.backend().to_string();
    let line = screen
        .lines()
        .find(|l| l.contains("Changes"))
        .unwrap_or_else(|| panic!("no Changes line:\n{screen}"));
    let start = line.find("Changes").unwrap_or(0) + "Changes".len();
    line[start..]
        .trim_end_matches(['"', '│', ' '])
        .trim()
        .to_string()
}

fn changes_effects(fx: &[Effect]) -> Vec<(u64, Vec<String>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::LoadChanges { gen, sets, .. } => Some((*gen, sets.clone())),
            _ => None,
        })
        .collect()
}

/// The dialog open on web → staging, its first comparison (no overrides) answered with
/// nothing differing, the cursor in the --set field.
fn dialog_on_sets() -> State {
    let mut s = fx::browse();
    let fx = ch(&mut s, 'd');
    let [(gen, sets)] = changes_effects(&fx).try_into().expect("one comparison");
    assert!(sets.is_empty(), "{sets:?}");
    update(
        &mut s,
        Msg::ChangesLoaded {
            gen,
            result: Ok(Default::default()),
        },
    );
    assert_eq!(changes_line(&s), "nothing differs from the live cluster");
    key(&mut s, Key::plain(KeyCode::Tab)); // steps
    key(&mut s, Key::plain(KeyCode::Tab)); // --set
    s
}

#[test]
fn the_dialog_compares_its_own_overrides_once_typing_rests() {
    let mut s = dialog_on_sets();
    let t0 = s.shell.now_ms;
    for c in "image.tag=1.3.0".chars() {
        assert!(ch(&mut s, c).is_empty(), "no work per key");
    }
    // The count for no overrides is not shown for these.
    assert_eq!(changes_line(&s), "comparing with the live cluster…");
    // The first tick starts the wait; more keys restart it.
    assert!(tick(&mut s, t0 + 100).is_empty());
    assert!(tick(&mut s, t0 + 399).is_empty());
    assert!(ch(&mut s, ' ').is_empty());
    assert!(ch(&mut s, 'x').is_empty());
    assert!(key(&mut s, Key::plain(KeyCode::Backspace)).is_empty());
    assert_eq!(
        helmdeck::tui::update::wake_at(&s),
        Some(0),
        "wants the time"
    );
    assert!(tick(&mut s, t0 + 500).is_empty());
    assert_eq!(helmdeck::tui::update::wake_at(&s), Some(t0 + 800));
    assert!(tick(&mut s, t0 + 799).is_empty());
    let fx = tick(&mut s, t0 + 800);
    let [(gen, sets)] = changes_effects(&fx).try_into().expect("one comparison");
    assert_eq!(fx.len(), 1, "{fx:?}");
    assert_eq!(sets, vec!["image.tag=1.3.0".to_string()]);
    assert!(tick(&mut s, t0 + 1300).is_empty(), "asked once");
    assert_eq!(helmdeck::tui::update::wake_at(&s), None);
    assert_eq!(changes_line(&s), "comparing with the live cluster…");
    update(
        &mut s,
        Msg::ChangesLoaded {
            gen,
            result: Ok(helmdeck::domain::diff::DiffCounts {
                changed: 1,
                added: 0,
                removed: 0,
                unchanged: 0,
            }),
        },
    );
    assert_eq!(
        changes_line(&s),
        "~1 changed  +0 added  -0 removed (with the --set)"
    );
    // The deploy gets the overrides the line was computed for.
    let fx = key(&mut s, Key::plain(KeyCode::Enter));
    assert!(fx
        .iter()
        .any(|e| deploy_of(e).is_some_and(|(_, _, d)| sets_of(d) == ["image.tag=1.3.0"])));
}

#[test]
fn a_count_for_older_overrides_is_dropped() {
    let mut s = dialog_on_sets();
    let t0 = s.shell.now_ms;
    typed(&mut s, "image.tag=1.3.0");
    tick(&mut s, t0);
    let [(old, _)] = changes_effects(&tick(&mut s, t0 + 300))
        .try_into()
        .expect("first comparison");
    typed(&mut s, " replicaCount=5");
    tick(&mut s, t0 + 400);
    let [(new, sets)] = changes_effects(&tick(&mut s, t0 + 700))
        .try_into()
        .expect("second comparison");
    assert!(new > old);
    assert_eq!(sets.len(), 2);
    // The first answer arrives late: it is for image.tag alone.
    update(
        &mut s,
        Msg::ChangesLoaded {
            gen: old,
            result: Ok(helmdeck::domain::diff::DiffCounts {
                changed: 1,
                ..Default::default()
            }),
        },
    );
    assert_eq!(changes_line(&s), "comparing with the live cluster…");
    assert!(dialog(&s).changes.is_loading());
    update(
        &mut s,
        Msg::ChangesLoaded {
            gen: new,
            result: Ok(helmdeck::domain::diff::DiffCounts {
                changed: 2,
                added: 1,
                removed: 0,
                unchanged: 0,
            }),
        },
    );
    assert_eq!(
        changes_line(&s),
        "~2 changed  +1 added  -0 removed (with the --set)"
    );
    // Typing after the count hides it again until the new one is in.
    ch(&mut s, ' ');
    assert_eq!(changes_line(&s), "comparing with the live cluster…");
    // Same overrides once the text rests (a trailing space): the count stands, no new work.
    tick(&mut s, t0 + 1000);
    assert!(tick(&mut s, t0 + 1300).is_empty());
    assert_eq!(
        changes_line(&s),
        "~2 changed  +1 added  -0 removed (with the --set)"
    );
}

#[test]
fn a_bad_set_expression_or_a_failed_render_shows_why_instead_of_a_count() {
    let mut s = dialog_on_sets();
    let t0 = s.shell.now_ms;
    typed(&mut s, "image.tag");
    tick(&mut s, t0);
    assert!(tick(&mut s, t0 + 300).is_empty(), "nothing to render");
    assert_eq!(
        changes_line(&s),
        "`image.tag` is not key=value (Helm --set syntax)"
    );
    assert!(matches!(dialog(&s).changes, Loadable::Failed { .. }));
    typed(&mut s, "=1.3.0");
    tick(&mut s, t0 + 400);
    let [(gen, _)] = changes_effects(&tick(&mut s, t0 + 700))
        .try_into()
        .expect("comparison");
    update(
        &mut s,
        Msg::ChangesLoaded {
            gen,
            result: Err(Problem::new(
                ProblemKind::Input,
                "chart web: template error",
                "",
            )),
        },
    );
    assert_eq!(changes_line(&s), "chart web: template error");
    // Strategy changes render the same objects: nothing to compare again.
    key(&mut s, Key::plain(KeyCode::BackTab));
    key(&mut s, Key::plain(KeyCode::BackTab));
    assert!(key(&mut s, Key::plain(KeyCode::Right)).is_empty());
    assert_eq!(helmdeck::tui::update::wake_at(&s), None);
}
