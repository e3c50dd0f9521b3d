//! One-key confirmation naming what will happen.

use crate::tui::state::ConfirmDialog;
use crate::tui::theme::Theme;
use crate::tui::ui::centered;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(c: &ConfirmDialog, theme: &Theme, frame: &mut Frame, area: Rect) {
    let w = area.width.saturating_sub(4).min(64);
    // The consequence wraps; a gate's confirmation says more than a pause's.
    let text_w = w.saturating_sub(2).max(1) as usize;
    let h = (c.consequence.chars().count() / text_w + 1 + 5).min(area.height as usize) as u16;
    let rect = centered(area, w, h.max(8));
    let title = match c.act.past_gate() {
        Some(check) => format!(" Promote {} past `{check}`? ", c.service),
        None => format!(" {} {} in {}? ", capital(c.act.verb()), c.service, c.env),
    };
    let lines = vec![
        Line::from(c.consequence.clone()),
        Line::from(""),
        Line::from(vec![
            Span::styled("y", theme.key()),
            Span::raw(format!(" {}   ", c.act.verb())),
            Span::styled("n/esc", theme.key()),
            Span::raw(" keep things as they are"),
        ]),
    ];
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::bordered()
                .title(Span::styled(title, theme.title()))
                .border_style(theme.warn()),
        ),
        rect,
    );
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
