//! The live pod table: one pure row function per pod; only visible rows are built.

use super::{age, fit, offset};
use crate::domain::strategy::Track;
use crate::tui::state::PodRow;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Row, Table};
use ratatui::Frame;

/// Waiting or termination reasons that mean the pod will not get better by waiting.
const BAD: [&str; 7] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "OOMKilled",
    "Error",
    "RestartLimit",
];

pub fn is_bad(reason: &str) -> bool {
    BAD.iter().any(|b| reason.contains(b))
}

/// One pod as a table row.
pub fn row(p: &PodRow, now_ms: u64, theme: &Theme, name_w: usize) -> Row<'static> {
    let phase_style = match p.phase.as_str() {
        "Running" if p.ready.0 == p.ready.1 => theme.ok(),
        "Running" | "Pending" => theme.warn(),
        "Failed" => theme.error(),
        _ => theme.base(),
    };
    let reason = p.reason.clone().unwrap_or_default();
    let reason_style = if is_bad(&reason) {
        theme.error()
    } else {
        theme.warn()
    };
    let track_style = match p.track {
        Track::Canary => theme.canary(),
        Track::Blue => theme.hunk(),
        Track::Green => theme.ok(),
        Track::Hook => theme.warn(),
        _ => theme.base(),
    };
    Row::new(vec![
        Line::from(fit(&p.name, name_w)),
        Line::from(Span::styled(p.track.as_str(), track_style)),
        Line::from(Span::styled(p.phase.clone(), phase_style)),
        Line::from(format!("{}/{}", p.ready.0, p.ready.1)),
        Line::from(Span::styled(
            p.restarts.to_string(),
            if p.restarts > 0 {
                theme.warn()
            } else {
                theme.base()
            },
        )),
        Line::from(age(now_ms.saturating_sub(p.created_ms))),
        Line::from(Span::styled(reason, reason_style)),
    ])
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    pods: &[PodRow],
    selected: usize,
    now_ms: u64,
    theme: &Theme,
    block: Block<'_>,
) {
    let inner_h = area.height.saturating_sub(3) as usize;
    let start = offset(selected, inner_h, pods.len());
    let wide = area.width >= 100;
    let name_w = if wide { 40 } else { 24 };
    let rows: Vec<Row> = pods
        .iter()
        .enumerate()
        .skip(start)
        .take(inner_h)
        .map(|(i, p)| {
            let r = row(p, now_ms, theme, name_w);
            if i == selected {
                r.style(theme.selected())
            } else {
                r
            }
        })
        .collect();
    let widths = [
        Constraint::Length(name_w as u16),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Min(8),
    ];
    let header = Row::new(vec![
        "NAME", "TRACK", "PHASE", "READY", "RST", "AGE", "REASON",
    ])
    .style(theme.header());
    let t = Table::new(rows, widths)
        .header(header)
        .block(block)
        .style(Style::default());
    frame.render_widget(t, area);
}
