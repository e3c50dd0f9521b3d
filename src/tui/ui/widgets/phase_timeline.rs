//! The run's phase timeline: done steps ticked, the current one highlighted, failures red.

use super::fit;
use crate::domain::run::Outcome;
use crate::tui::state::{StepRow, StepState};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn lines(steps: &[StepRow], theme: &Theme, width: usize, height: usize) -> Vec<Line<'static>> {
    let current = steps
        .iter()
        .position(|s| s.state == StepState::Current)
        .unwrap_or(0);
    let start = super::offset(current, height, steps.len());
    steps
        .iter()
        .skip(start)
        .take(height)
        .map(|s| {
            let (mark, style) = match s.state {
                StepState::Done => ("✓", theme.ok()),
                StepState::Current => ("▶", theme.key()),
                StepState::Failed => ("✗", theme.error()),
                StepState::Pending => ("·", theme.dim()),
            };
            let mut text = s.text.clone();
            if let Some(o) = &s.outcome {
                if *o != Outcome::Done {
                    text.push_str(&format!(" — {o}"));
                }
            }
            let text_style = match s.state {
                StepState::Current => theme.selected(),
                StepState::Failed => theme.error(),
                StepState::Pending => theme.dim(),
                StepState::Done => theme.base(),
            };
            Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::styled(fit(&text, width.saturating_sub(2)), text_style),
            ])
        })
        .collect()
}

pub fn render(frame: &mut Frame, area: Rect, steps: &[StepRow], theme: &Theme, block: Block<'_>) {
    let inner = block.inner(area);
    let l = lines(steps, theme, inner.width as usize, inner.height as usize);
    frame.render_widget(Paragraph::new(l).block(block), area);
}
