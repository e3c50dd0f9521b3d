//! The console's screens and popups drawn from fixture states at 80x24 and 160x48
//! (ratatui TestBackend + insta). A snapshot change is reviewed like code.

mod tui_fixtures;

use helmdeck::tui::state::{
    ConfirmDialog, Focus, LaunchDialog, LaunchField, Loadable, Popup, Problem, ProblemKind, State,
    Tab,
};
use helmdeck::tui::ui::draw;
use helmdeck::tui::Theme;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use tui_fixtures as fx;

fn terminal(state: &State, w: u16, h: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| draw(state, &theme, f)).expect("draws");
    t
}

fn screen(state: &State, w: u16, h: u16) -> String {
    terminal(state, w, h, Theme::monochrome())
        .backend()
        .to_string()
}

/// Snapshots `state` at both sizes.
macro_rules! both_sizes {
    ($name:literal, $state:expr) => {{
        let s = $state;
        insta::assert_snapshot!(concat!($name, "_80x24"), screen(&s, 80, 24));
        insta::assert_snapshot!(concat!($name, "_160x48"), screen(&s, 160, 48));
    }};
}

#[test]
fn browse_manifests() {
    both_sizes!("browse_manifests", fx::browse());
}

#[test]
fn browse_values_with_provenance_and_masked_secrets() {
    let mut s = fx::browse();
    s.browse.tab = Tab::Values;
    s.browse.focus = Focus::Main;
    both_sizes!("browse_values", s);
}

#[test]
fn browse_diff_against_live() {
    let mut s = fx::browse();
    s.browse.tab = Tab::Diff;
    both_sizes!("browse_diff", s);
}

#[test]
fn browse_history() {
    let mut s = fx::browse();
    s.browse.tab = Tab::History;
    both_sizes!("browse_history", s);
}

#[test]
fn browse_loading_and_error() {
    let mut s = fx::browse();
    s.browse.preview = Loadable::Loading { gen: 11 };
    s.browse.releases = Loadable::Failed {
        gen: 12,
        error: Problem::new(
            ProblemKind::Unreachable,
            "cannot reach https://127.0.0.1:6443",
            "check the kubeconfig",
        ),
    };
    s.shell.connection = helmdeck::tui::state::Connection::Failing("refused".into());
    both_sizes!("browse_loading", s);
}

#[test]
fn browse_filtered() {
    let mut s = fx::browse();
    s.browse.filter = "dep".into();
    s.browse.object = 1;
    both_sizes!("browse_filtered", s);
}

fn launch(protected: bool) -> State {
    let mut s = fx::browse();
    let mut sets = tui_input::Input::default();
    for c in "image.tag=1.3.0".chars() {
        sets.handle(tui_input::InputRequest::InsertChar(c));
    }
    let env = &fx::environments()[usize::from(protected)];
    let mut d = LaunchDialog::new(&fx::services()[0], env);
    d.field = LaunchField::Sets;
    d.sets = sets;
    // The count for the dialog's own override (the Diff tab's has none, and says ~2).
    d.changes_sets = vec!["image.tag=1.3.0".into()];
    d.changes = Loadable::Ready {
        gen: 20,
        value: helmdeck::domain::diff::DiffCounts {
            changed: 1,
            added: 0,
            removed: 0,
            unchanged: 0,
        },
    };
    s.popup = Some(Popup::Launch(Box::new(d)));
    s
}

/// The dialog with a `--set` that is not key=value: the Changes line says why.
fn launch_bad_set() -> State {
    let mut s = launch(false);
    {
        let Some(Popup::Launch(d)) = s.popup.as_mut() else {
            panic!("the fixture has the launch dialog")
        };
        d.sets = tui_input::Input::new("image.tag".into());
        d.changes_sets.clear();
        d.changes = Loadable::Failed {
            gen: 21,
            error: Problem::new(
                ProblemKind::Input,
                d.parsed_sets().expect_err("not key=value"),
                "",
            ),
        };
    }
    s
}

#[test]
fn launch_dialog() {
    both_sizes!("launch_dialog", launch(false));
}

#[test]
fn launch_dialog_editing_steps_with_an_error() {
    let mut s = launch(false);
    {
        let Some(Popup::Launch(d)) = s.popup.as_mut() else {
            panic!("the fixture has the launch dialog")
        };
        d.field = LaunchField::Steps;
        d.steps = tui_input::Input::new("2 pods, pause 5m, 150%, pause".into());
        d.error = d.parsed_steps().err();
    }
    both_sizes!("launch_dialog_steps_error", s);
}

#[test]
fn launch_dialog_bluegreen_auto_promote() {
    let mut s = fx::browse();
    let mut d = LaunchDialog::new(&fx::services()[2], &fx::environments()[0]);
    d.field = LaunchField::AutoPromote;
    d.auto_promote = true;
    // No --set: the same count as the Diff tab's.
    d.changes = Loadable::Ready {
        gen: 20,
        value: helmdeck::domain::diff::DiffCounts {
            changed: 2,
            added: 0,
            removed: 0,
            unchanged: 0,
        },
    };
    s.popup = Some(Popup::Launch(Box::new(d)));
    both_sizes!("launch_dialog_bluegreen", s);
}

#[test]
fn launch_dialog_with_a_bad_set_expression() {
    both_sizes!("launch_dialog_bad_set", launch_bad_set());
}

#[test]
fn a_bad_set_expression_is_red_in_the_changes_line() {
    let t = terminal(&launch_bad_set(), 160, 48, Theme::colored());
    let buf = t.backend().buffer().clone();
    let area = buf.area;
    let red = (0..area.height).find_map(|y| {
        let line: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        let col = line.find("Changes")?;
        let x = line[..col].chars().count() as u16 + "Changes   ".len() as u16 + 1;
        Some((line, buf[(x, y)].fg))
    });
    let (line, fg) = red.expect("a Changes line");
    assert!(line.contains("`image.tag` is not key=value"), "{line}");
    assert_eq!(fg, Color::Red, "{line}");
}

#[test]
fn launch_dialog_protected_environment() {
    both_sizes!("launch_dialog_protected", launch(true));
}

#[test]
fn confirm_promote() {
    let mut s = fx::rollout_paused();
    s.popup = Some(Popup::Confirm(ConfirmDialog {
        act: helmdeck::domain::act::Act::promote(),
        service: "web".into(),
        env: "staging".into(),
        consequence: "r2 continues past its pause: the next canary step, then the new version on every primary pod; the canaries are deleted.".into(),
    }));
    both_sizes!("confirm_promote", s);
}

#[test]
fn help() {
    let mut s = fx::browse();
    s.popup = Some(Popup::Help);
    both_sizes!("help", s);
}

#[test]
fn rollout_paused_canary() {
    both_sizes!("rollout_paused", fx::rollout_paused());
}

#[test]
fn rollout_auto_rollback() {
    both_sizes!("rollout_auto_rollback", fx::rollout_auto_rollback());
}

#[test]
fn rollout_following_logs() {
    let mut s = fx::rollout_auto_rollback();
    {
        let r = s.rollout.as_mut().expect("the fixture has a rollout");
        r.logs = Some(helmdeck::tui::state::LogPane {
            pod: "checkout-canary-74d5d8458d-85766".into(),
            gen: 30,
            lines: vec![
                "2026-11-25T08:14:31Z starting checkout 1.3.0-crash on :8080".into(),
                "2026-11-25T08:14:32Z connecting to postgres.database.svc.cluster.local:5432"
                    .into(),
                "2026-11-25T08:14:33Z panic: invalid configuration: FEATURE_NEW_CHECKOUT".into(),
                "2026-11-25T08:14:33Z exit status 2".into(),
            ],
            error: None,
        });
    }
    both_sizes!("rollout_logs", s);
}

#[test]
fn crash_loop_reason_is_red_and_no_color_drops_colour() {
    let s = fx::rollout_auto_rollback();
    let find = |t: &Terminal<TestBackend>| {
        let buf = t.backend().buffer().clone();
        let area = buf.area;
        for y in 0..area.height {
            let line: String = (0..area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if !line.contains("checkout-canary-74d5d8458d-85766") {
                continue;
            }
            if let Some(col) = line.rfind("CrashLoopBackOff") {
                let x = line[..col].chars().count() as u16;
                return Some(buf[(x, y)].fg);
            }
        }
        None
    };
    let colored = terminal(&s, 160, 48, Theme::colored());
    assert_eq!(find(&colored), Some(Color::Red));
    let mono = terminal(&s, 160, 48, Theme::monochrome());
    assert_eq!(find(&mono), Some(Color::Reset));
}

#[test]
fn tiny_terminal_does_not_panic() {
    for (w, h) in [(1, 1), (10, 5), (40, 10), (80, 24)] {
        for mut s in [fx::browse(), fx::rollout_paused(), launch(true)] {
            for tab in Tab::ALL {
                s.browse.tab = tab;
                let _ = screen(&s, w, h);
            }
        }
    }
}

#[test]
fn palette() {
    let mut s = fx::browse();
    let mut input = tui_input::Input::default();
    for c in "rollback 1".chars() {
        input.handle(tui_input::InputRequest::InsertChar(c));
    }
    s.shell.palette = Some(input);
    insta::assert_snapshot!("palette_80x24", screen(&s, 80, 24));
}

/// A rollout with 10k pods draws the window around the selected pod (its speed is measured
/// by `cargo bench --bench tui`, not asserted here).
#[test]
fn ten_thousand_pods_draw_the_selected_window() {
    let mut s = fx::rollout_paused();
    {
        let r = s.rollout.as_mut().expect("the fixture has a rollout");
        let template = r.snapshot.pods[0].clone();
        r.snapshot.pods = (0..10_000)
            .map(|i| helmdeck::tui::state::PodRow {
                name: format!("web-6f5b66657d-{i:05}"),
                ..template.clone()
            })
            .collect();
        r.pod_selected = 5_000;
    }
    let mut t = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    t.draw(|f| draw(&s, &Theme::colored(), f)).expect("draws");
    let screen = t.backend().to_string();
    assert!(screen.contains("web-6f5b66657d-05000"), "{screen}");
    assert!(screen.contains("Pods (10000)"), "{screen}");
    assert!(!screen.contains("web-6f5b66657d-00000"), "{screen}");
}

/// Images of the main screens, colours kept, for the README:
/// `HELMDECK_SCREENSHOTS=screenshots cargo test --test tui_snapshots screenshots`
/// writes `preview.svg`, `values.svg`, `diff.svg`, `launch.svg`, `rollout.svg`,
/// `auto-rollback.svg` and `gate.svg`
/// there. Without the variable they are written to a temporary folder and checked (each
/// a whole SVG with the screen's text), so the test always checks the drawing.
#[test]
fn screenshots() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("HELMDECK_SCREENSHOTS")
        .filter(|d| !d.is_empty())
        .map_or_else(|| scratch.path().to_path_buf(), std::path::PathBuf::from);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let mut values = fx::browse();
    values.browse.tab = Tab::Values;
    values.browse.focus = Focus::Main;
    let mut diff = fx::browse();
    diff.browse.tab = Tab::Diff;
    for (name, state) in [
        ("preview", fx::browse()),
        ("values", values),
        ("diff", diff),
        ("launch", launch(false)),
        ("rollout", fx::rollout_paused()),
        ("auto-rollback", fx::rollout_auto_rollback()),
        ("gate", fx::rollout_paused_at_gate()),
    ] {
        let t = terminal(&state, 120, 36, Theme::colored());
        let image = svg(t.backend().buffer());
        assert!(
            image.starts_with("<svg") && image.trim_end().ends_with("</svg>"),
            "{name}: not an SVG document"
        );
        assert!(
            image.contains("helmdeck"),
            "{name}: no screen text in the image"
        );
        std::fs::write(dir.join(format!("{name}.svg")), image).expect("writes the screenshot");
    }
    assert!(std::fs::read_dir(&dir).expect("written").count() >= 7);
}

fn hex(c: Color, default: &str) -> String {
    match c {
        Color::Reset => default.into(),
        Color::Black => "#1e1e2e".into(),
        Color::Red => "#f38ba8".into(),
        Color::Green => "#a6e3a1".into(),
        Color::Yellow => "#f9e2af".into(),
        Color::Blue => "#3b5bdb".into(),
        Color::Magenta => "#cba6f7".into(),
        Color::Cyan => "#89dceb".into(),
        Color::Gray => "#bac2de".into(),
        Color::DarkGray => "#585b70".into(),
        Color::LightRed => "#f38ba8".into(),
        Color::LightGreen => "#a6e3a1".into(),
        Color::LightYellow => "#f9e2af".into(),
        Color::LightBlue => "#89b4fa".into(),
        Color::LightMagenta => "#f5c2e7".into(),
        Color::LightCyan => "#94e2d5".into(),
        Color::White => "#ffffff".into(),
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(_) => default.into(),
    }
}

/// A terminal buffer as SVG: one rect per coloured background cell, one text run per style.
fn svg(buf: &ratatui::buffer::Buffer) -> String {
    use ratatui::style::Modifier;
    const W: f32 = 8.4;
    const H: f32 = 18.0;
    const FG: &str = "#cdd6f4";
    const BG: &str = "#1e1e2e";
    let area = buf.area;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\">\n<rect width=\"100%\" height=\"100%\" fill=\"{BG}\"/>\n",
        area.width as f32 * W,
        area.height as f32 * H
    );
    for y in 0..area.height {
        let mut x = 0;
        while x < area.width {
            let cell = &buf[(x, y)];
            let reversed = cell.modifier.contains(Modifier::REVERSED);
            let (fg, bg) = if reversed {
                (hex(cell.bg, BG), hex(cell.fg, FG))
            } else {
                (hex(cell.fg, FG), hex(cell.bg, BG))
            };
            let bold = cell.modifier.contains(Modifier::BOLD);
            let italic = cell.modifier.contains(Modifier::ITALIC);
            let mut text = String::new();
            let start = x;
            while x < area.width {
                let c = &buf[(x, y)];
                if c.fg != cell.fg || c.bg != cell.bg || c.modifier != cell.modifier {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            if bg != BG {
                out.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{H}\" fill=\"{bg}\"/>\n",
                    start as f32 * W,
                    y as f32 * H,
                    (x - start) as f32 * W
                ));
            }
            if !text.trim().is_empty() {
                let escaped = text
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                out.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" fill=\"{fg}\" xml:space=\"preserve\" textLength=\"{}\"{}{}>{escaped}</text>\n",
                    start as f32 * W,
                    y as f32 * H + 13.0,
                    (x - start) as f32 * W,
                    if bold { " font-weight=\"bold\"" } else { "" },
                    if italic { " font-style=\"italic\"" } else { "" },
                ));
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

#[test]
fn rollout_paused_at_a_failed_gate_shows_its_measurements() {
    both_sizes!("rollout_gate", fx::rollout_paused_at_gate());
}

#[test]
fn promote_past_a_failed_gate_names_the_check_and_its_last_measurement() {
    let mut s = fx::rollout_paused_at_gate();
    let _ = helmdeck::tui::update::update(
        &mut s,
        helmdeck::tui::Msg::Key(helmdeck::tui::Key::char('P')),
    );
    assert!(matches!(
        &s.popup,
        Some(Popup::Confirm(ConfirmDialog { act, .. })) if act.past_gate() == Some("smoke")
    ));
    both_sizes!("confirm_promote_past_gate", s);
}

#[test]
fn rollout_in_a_timed_pause_shows_elapsed_and_time_left() {
    let mut s = fx::rollout_paused();
    {
        let r = s.rollout.as_mut().expect("the fixture has a rollout");
        r.driving = true;
        r.pause = Some(helmdeck::tui::state::PauseClock {
            index: 5,
            elapsed_ms: 80_000,
            total_ms: 300_000,
        });
    }
    both_sizes!("rollout_timed_pause", s);
}

#[test]
fn rollout_narrow_shows_kubernetes_events_on_e() {
    let mut s = fx::rollout_auto_rollback();
    let _ = helmdeck::tui::update::update(
        &mut s,
        helmdeck::tui::Msg::Key(helmdeck::tui::Key::char('e')),
    );
    insta::assert_snapshot!("rollout_kube_events_80x24", screen(&s, 80, 24));
}

#[test]
fn warning_events_are_red() {
    let s = fx::rollout_auto_rollback();
    let t = terminal(&s, 160, 48, Theme::colored());
    let buf = t.backend().buffer();
    let area = buf.area;
    let red_backoff = (0..area.height).any(|y| {
        let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
        line.find("BackOff ").is_some_and(|i| {
            let x = line[..i].chars().count() as u16;
            buf[(x, y)].fg == Color::Red
        })
    });
    assert!(red_backoff, "the BackOff warning is drawn in red");
}

/// Peak memory of the console's state and drawing with 10k pods (the rollout view's rows,
/// drawn 200 times while they change). Prints VmHWM — a measurement, not an assertion
/// (target ≤ 60 MB for the console with 10k pods watched; the namespace watch's stores are
/// measured by the engine's benchmarks):
/// `cargo test --release --test tui_snapshots rss -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn rss_with_ten_thousand_pods() {
    let hwm = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into())
    };
    println!("VmHWM before: {}", hwm());
    let mut s = fx::rollout_paused();
    let mut t = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let theme = Theme::colored();
    for round in 0..200u32 {
        {
            let r = s.rollout.as_mut().expect("the fixture has a rollout");
            let template = r.snapshot.pods[0].clone();
            r.snapshot.pods = (0..10_000)
                .map(|i| helmdeck::tui::state::PodRow {
                    name: format!("web-6f5b66657d-{i:05}"),
                    restarts: (i + round) % 4,
                    ..template.clone()
                })
                .collect();
            r.pod_selected = (round as usize * 37) % 10_000;
        }
        t.draw(|f| draw(&s, &theme, f)).expect("draws");
    }
    println!("VmHWM of the console state + draw with 10k pods: {}", hwm());
}
