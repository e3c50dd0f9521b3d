//! Drawing: a pure function of the state. Reads `State`, never changes it, does no I/O;
//! only visible rows are turned into widgets.

pub mod popups;
pub mod screens;
pub mod widgets;

use super::state::{Connection, State};
use super::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

const SPINNER: [&str; 4] = ["⠋", "⠙", "⠸", "⠴"];

/// Draws the whole console.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame) {
    let [top, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    top_bar(state, theme, frame, top);
    if state.showing_rollout() {
        screens::rollout::draw(state, theme, frame, body);
    } else {
        screens::browse::draw(state, theme, frame, body);
    }
    status_line(state, theme, frame, status);
    footer(state, theme, frame, keys);
    popups::draw(state, theme, frame, body);
}

fn top_bar(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let env = state.selected_env();
    let (conn, conn_style) = match &state.shell.connection {
        Connection::Unknown => ("○ connecting", theme.warn()),
        Connection::Connected => ("● connected", theme.ok()),
        Connection::Failing(_) => ("✗ unreachable", theme.error()),
    };
    let lease = state
        .selected_rollout()
        .and_then(|r| r.snapshot.lease_holder.clone())
        .or_else(|| {
            state
                .selected_release()
                .and_then(|r| r.lease_holder.clone())
        })
        .unwrap_or_else(|| "free".into());
    let bar = theme.bar();
    let mut spans = vec![
        Span::styled(
            " helmdeck ",
            bar.add_modifier(ratatui::style::Modifier::BOLD),
        ),
        Span::styled(
            format!(" ctx {} ", env.map(|e| e.context.as_str()).unwrap_or("-")),
            bar,
        ),
        Span::styled(
            format!(" ns {} ", env.map(|e| e.namespace.as_str()).unwrap_or("-")),
            bar,
        ),
        Span::styled(format!(" {conn} "), bar.patch(conn_style)),
    ];
    let clock = format!(" {} ", state.shell.clock);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    // The lease holder gives way first on a narrow terminal; the clock stays.
    let room = (area.width as usize).saturating_sub(used + clock.chars().count());
    let lease = widgets::fit(&format!(" lease {lease} "), room);
    let pad = room.saturating_sub(lease.chars().count());
    spans.push(Span::styled(lease, bar));
    spans.push(Span::styled(" ".repeat(pad), bar));
    spans.push(Span::styled(clock, bar));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}

fn status_line(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = if let Some(input) = &state.shell.palette {
        let x = area.x + 1 + input.visual_cursor() as u16;
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        Line::from(vec![Span::styled(
            format!(":{}", input.value()),
            theme.key(),
        )])
    } else if let Some(input) = &state.browse.filtering {
        let text = format!("/{}", input.value());
        let x = area.x + 1 + input.visual_cursor() as u16;
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        Line::from(vec![Span::styled(text, theme.key())])
    } else {
        let mut spans = Vec::new();
        let pending = state.pending();
        if pending > 0 {
            spans.push(Span::styled(
                format!("{} ", SPINNER[state.shell.spinner % SPINNER.len()]),
                theme.warn(),
            ));
        }
        if let Some(text) = state.browse.fetching_text() {
            spans.push(Span::styled(format!("{text} "), theme.warn()));
        }
        if !state.browse.filter.is_empty() {
            spans.push(Span::styled(
                format!("[/{}] ", state.browse.filter),
                theme.key(),
            ));
        }
        if let Some(s) = &state.shell.status {
            let style = if s.error { theme.error() } else { theme.base() };
            spans.push(Span::styled(s.text.clone(), style));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn footer(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mode = state.mode();
    let keymap_footer;
    let pairs: Vec<(String, &str)> = if state.shell.palette.is_some() {
        vec![
            ("enter".into(), "run"),
            ("esc".into(), "cancel"),
            (
                ":deploy :promote :abort :rollback [N] :env NAME :svc NAME :logs :q".into(),
                "",
            ),
        ]
    } else if state.browse.filtering.is_some() {
        vec![
            ("enter".into(), "keep filter"),
            ("esc".into(), "clear filter"),
        ]
    } else if matches!(state.popup, Some(super::state::Popup::Launch(_))) {
        vec![
            ("tab".into(), "next field"),
            ("←/→".into(), "strategy"),
            ("enter".into(), "deploy"),
            ("esc".into(), "cancel"),
        ]
    } else {
        keymap_footer = state.shell.keymap.footer(mode);
        keymap_footer
            .iter()
            .map(|(k, h)| (k.clone(), h.as_str()))
            .collect()
    };
    let mut spans = Vec::new();
    let mut width = 0usize;
    for (k, h) in pairs {
        let item = k.chars().count() + h.chars().count() + 3;
        if width + item > area.width as usize {
            break;
        }
        width += item;
        spans.push(Span::styled(format!(" {k}"), theme.key()));
        spans.push(Span::styled(format!(" {h} "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of `w`×`h` centred in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
