//! `?`: every key of the current screen, from the keymap.

use crate::tui::keymap::Mode;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::ui::centered;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mode = if state.showing_rollout() {
        Mode::Rollout
    } else {
        Mode::Browse
    };
    let mut lines = vec![Line::from(Span::styled(
        format!("{} keys", mode.title()),
        theme.header(),
    ))];
    for (k, h) in state.shell.keymap.help(mode) {
        lines.push(Line::from(vec![
            Span::styled(format!("{k:>10} "), theme.key()),
            Span::raw(h),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Launch dialog", theme.header())));
    for (k, h) in [
        ("tab/↑/↓", "next / previous field"),
        ("←/→ r c b", "strategy"),
        ("enter", "deploy"),
        ("esc", "cancel"),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("{k:>10} "), theme.key()),
            Span::raw(h),
        ]));
    }
    // Two columns when one does not fit (80x24 stays readable).
    let one_col = lines.len() as u16 + 2 <= area.height;
    let (w, h) = if one_col {
        (56, lines.len() as u16 + 2)
    } else {
        (
            area.width.saturating_sub(2).min(110),
            lines.len().div_ceil(2) as u16 + 2,
        )
    };
    let rect = centered(area, w, h.min(area.height));
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Span::styled(" Help — esc closes ", theme.title()))
        .border_style(theme.border(true));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if one_col {
        frame.render_widget(Paragraph::new(lines), inner);
    } else {
        let half = lines.len().div_ceil(2);
        let right: Vec<Line> = lines.split_off(half);
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(lines), l);
        frame.render_widget(Paragraph::new(right), r);
    }
}
