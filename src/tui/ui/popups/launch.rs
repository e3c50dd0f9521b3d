//! The launch dialog: strategy, steps, one-off overrides, confirmation.

use crate::domain::run::StrategyKind;
use crate::tui::state::{DiffView, LaunchDialog, LaunchField, Loadable};
use crate::tui::theme::Theme;
use crate::tui::ui::centered;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(
    d: &LaunchDialog,
    diff: &Loadable<DiffView>,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let w = area.width.saturating_sub(4).min(72);
    let h = if d.protected { 15 } else { 13 };
    let rect = centered(area, w, h);
    let inner_w = w.saturating_sub(2) as usize;
    let mark = |f: LaunchField| if d.field == f { "▸ " } else { "  " };
    let mut lines = Vec::new();
    let mut strat = vec![
        Span::styled(mark(LaunchField::Strategy), theme.key()),
        Span::raw("Strategy  "),
    ];
    for s in [
        StrategyKind::Rolling,
        StrategyKind::Canary,
        StrategyKind::Bluegreen,
    ] {
        let style = if s == d.strategy {
            theme.selected()
        } else {
            theme.dim()
        };
        strat.push(Span::styled(format!(" {} ", s.as_str()), style));
        strat.push(Span::raw(" "));
    }
    lines.push(Line::from(strat));
    let plan = match d.strategy {
        StrategyKind::Canary if !d.steps.is_empty() => d.steps.join(" → "),
        StrategyKind::Canary => "canary to 20% → pause".into(),
        StrategyKind::Bluegreen => "deploy to the idle slot → wait healthy → pause → switch".into(),
        StrategyKind::Rolling => "apply everything → wait healthy".into(),
    };
    lines.push(Line::from(vec![
        Span::raw("  Steps     "),
        Span::styled(plan, theme.dim()),
    ]));
    let summary = match diff {
        Loadable::Ready { value, .. } if value.added + value.changed + value.removed == 0 => {
            Span::styled(
                "nothing differs from the live cluster".to_string(),
                theme.dim(),
            )
        }
        Loadable::Ready { value, .. } => Span::styled(
            format!(
                "~{} changed  +{} added  -{} removed (3 Diff shows them)",
                value.changed, value.added, value.removed
            ),
            theme.warn(),
        ),
        Loadable::Failed { error, .. } => Span::styled(error.clone(), theme.error()),
        _ => Span::styled("comparing with the live cluster…".to_string(), theme.dim()),
    };
    lines.push(Line::from(vec![Span::raw("  Changes   "), summary]));
    lines.push(Line::from(""));
    let set_row = lines.len();
    lines.push(Line::from(vec![
        Span::styled(mark(LaunchField::Sets), theme.key()),
        Span::raw("--set     "),
        Span::styled(d.sets.value().to_string(), theme.yaml_string()),
    ]));
    lines.push(Line::from(Span::styled(
        "            key=value, several separated by spaces",
        theme.dim(),
    )));
    let mut confirm_row = None;
    if d.protected {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!("  `{}` is protected: type its name to deploy", d.env),
            theme.warn(),
        )));
        confirm_row = Some(lines.len());
        lines.push(Line::from(vec![
            Span::styled(mark(LaunchField::Confirm), theme.key()),
            Span::raw("confirm   "),
            Span::raw(d.confirm.value().to_string()),
        ]));
    }
    lines.push(Line::from(""));
    if let Some(e) = &d.error {
        lines.push(Line::from(Span::styled(e.clone(), theme.error())));
    } else {
        lines.push(Line::from(vec![
            Span::styled("enter", theme.key()),
            Span::raw(" deploy  "),
            Span::styled("tab", theme.key()),
            Span::raw(" next field  "),
            Span::styled("esc", theme.key()),
            Span::raw(" cancel"),
        ]));
    }
    let title = format!(" Deploy {} → {} ", d.service, d.env);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(Span::styled(title, theme.title()))
                .border_style(theme.border(true)),
        ),
        rect,
    );
    let cursor = match d.field {
        LaunchField::Sets => Some((set_row, d.sets.visual_cursor())),
        LaunchField::Confirm => confirm_row.map(|r| (r, d.confirm.visual_cursor())),
        LaunchField::Strategy => None,
    };
    if let Some((row, col)) = cursor {
        let x = rect.x + 1 + 12 + col as u16;
        let y = rect.y + 1 + row as u16;
        if x < rect.right().saturating_sub(1) && y < rect.bottom().saturating_sub(1) && inner_w > 12
        {
            frame.set_cursor_position((x, y));
        }
    }
}
