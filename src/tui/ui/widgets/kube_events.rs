//! The "recent events" pane: the Kubernetes Events about a release, newest last —
//! age, type, reason, object, message; Warnings in red.

use crate::tui::state::KubeEvent;
use crate::tui::theme::Theme;
use crate::tui::ui::widgets::{age, fit};
use ratatui::text::{Line, Span};

/// At most `height` lines (the newest) of `width` columns.
pub fn lines(
    events: &[KubeEvent],
    now_ms: u64,
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if events.is_empty() {
        return vec![Line::from(Span::styled(
            "no events about this release yet",
            theme.dim(),
        ))];
    }
    let obj_w = (width / 4).clamp(12, 40);
    events
        .iter()
        .skip(events.len().saturating_sub(height))
        .map(|e| {
            let style = if e.warning {
                theme.error()
            } else {
                theme.base()
            };
            let count = if e.count > 1 {
                format!(" (x{})", e.count)
            } else {
                String::new()
            };
            let head = format!(
                "{:>4} {:<7} {:<17} {:<obj_w$} ",
                age(now_ms.saturating_sub(e.last_ms)),
                if e.warning { "Warning" } else { "Normal" },
                fit(&e.reason, 17),
                fit(&e.object, obj_w),
            );
            let rest = width.saturating_sub(head.chars().count());
            Line::from(vec![
                Span::styled(head, style),
                Span::styled(fit(&format!("{}{count}", e.message), rest), style),
            ])
        })
        .collect()
}
