//! One progress bar per workload and track/slot: ready pods out of desired.

use super::fit;
use crate::domain::strategy::Track;
use crate::tui::state::WorkloadBar;
use crate::tui::theme::Theme;
use ratatui::text::{Line, Span};

pub fn line(w: &WorkloadBar, theme: &Theme, width: usize) -> Line<'static> {
    let name_w = (width / 3).clamp(8, 32);
    let label = format!("{:<name_w$} {:<7} ", fit(&w.name, name_w), w.track);
    let count = format!(" {}/{}", w.ready, w.desired);
    let bar_w = width
        .saturating_sub(label.chars().count() + count.chars().count())
        .max(4);
    let filled = if w.desired == 0 {
        0
    } else {
        (bar_w * w.ready.min(w.desired) as usize) / w.desired as usize
    };
    let style = if w.desired > 0 && w.ready >= w.desired {
        theme.ok()
    } else {
        theme.warn()
    };
    let track_style = match w.track {
        Track::Canary => theme.canary(),
        _ => theme.base(),
    };
    Line::from(vec![
        Span::styled(label, track_style),
        Span::styled("█".repeat(filled), style),
        Span::styled("░".repeat(bar_w - filled), theme.dim()),
        Span::raw(count),
    ])
}

/// The share of traffic a canary gets without a mesh: its ready pods among all ready pods
/// behind the same Service (the primary `D` and `D-canary`).
pub fn canary_shares(workloads: &[WorkloadBar]) -> Vec<(String, u32, u32, u32)> {
    workloads
        .iter()
        .filter(|w| w.track == Track::Canary)
        .map(|c| {
            let base = c.name.strip_suffix("-canary").unwrap_or(&c.name);
            let primary = workloads
                .iter()
                .find(|w| w.name == base)
                .map(|w| w.ready)
                .unwrap_or(0);
            let total = primary + c.ready;
            let pct = (c.ready * 100).checked_div(total).unwrap_or(0);
            (c.name.clone(), pct, c.ready, total)
        })
        .collect()
}

/// `traffic  web-canary ▕████░░░░░░▏ 20% (1 of 5 ready pods)`.
pub fn traffic_line(share: &(String, u32, u32, u32), theme: &Theme, width: usize) -> Line<'static> {
    let (name, pct, ready, total) = share;
    let label = format!("traffic → {name} ");
    let tail = format!(" {pct}% ({ready} of {total} ready pods)");
    let bar_w = width
        .saturating_sub(label.chars().count() + tail.chars().count())
        .clamp(4, 30);
    let filled = (bar_w * *pct as usize) / 100;
    Line::from(vec![
        Span::styled(label, theme.canary()),
        Span::styled("█".repeat(filled), theme.canary()),
        Span::styled("░".repeat(bar_w - filled), theme.dim()),
        Span::raw(tail),
    ])
}
