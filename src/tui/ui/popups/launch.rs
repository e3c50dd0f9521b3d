//! The launch dialog: strategy, steps, one-off overrides, confirmation.

use crate::domain::run::{CanaryStep, StrategyKind};
use crate::tui::state::{LaunchDialog, LaunchField, Loadable};
use crate::tui::theme::Theme;
use crate::tui::ui::centered;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(d: &LaunchDialog, theme: &Theme, frame: &mut Frame, area: Rect) {
    let w = area.width.saturating_sub(4).min(72);
    let h = if d.protected { 16 } else { 14 };
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
    let mut steps_row = None;
    match d.strategy {
        StrategyKind::Canary => {
            steps_row = Some(lines.len());
            lines.push(Line::from(vec![
                Span::styled(mark(LaunchField::Steps), theme.key()),
                Span::raw("Steps     "),
                Span::styled(d.steps.value().to_string(), theme.yaml_string()),
            ]));
            // What the line means, step by step — or why it cannot run.
            let plan = match d.parsed_steps() {
                Ok(steps) => Span::styled(
                    steps
                        .iter()
                        .enumerate()
                        .map(|(i, st)| format!("{} {}", i + 1, describe(st)))
                        .collect::<Vec<_>>()
                        .join(" → "),
                    theme.dim(),
                ),
                Err(e) => Span::styled(e, theme.error()),
            };
            lines.push(Line::from(vec![Span::raw("            "), plan]));
        }
        StrategyKind::Bluegreen => {
            lines.push(Line::from(vec![
                Span::styled(mark(LaunchField::AutoPromote), theme.key()),
                Span::raw("Promote   "),
                Span::styled(
                    if d.auto_promote {
                        "[x] on its own once healthy"
                    } else {
                        "[ ] waits for P (verification pause)"
                    },
                    if d.field == LaunchField::AutoPromote {
                        theme.selected()
                    } else {
                        theme.dim()
                    },
                ),
            ]));
            lines.push(Line::from(Span::styled(
                "            idle slot → wait healthy → pause → switch the Services",
                theme.dim(),
            )));
        }
        StrategyKind::Rolling => {
            lines.push(Line::from(vec![
                Span::raw("  Steps     "),
                Span::styled("apply everything → wait healthy", theme.dim()),
            ]));
        }
    }
    // Only ever the count for the overrides typed: while they are being edited, or a
    // count for them is on its way, the line says it is comparing.
    let comparing = Span::styled("comparing with the live cluster…".to_string(), theme.dim());
    let summary = match &d.changes {
        _ if d.changes_debounce.is_some() => comparing,
        Loadable::Ready { value, .. } if value.changes() == 0 => Span::styled(
            "nothing differs from the live cluster".to_string(),
            theme.dim(),
        ),
        Loadable::Ready { value, .. } => Span::styled(
            format!(
                "~{} changed  +{} added  -{} removed {}",
                value.changed,
                value.added,
                value.removed,
                // The Diff tab compares without the dialog's overrides.
                if d.changes_sets.is_empty() {
                    "(3 Diff shows them)"
                } else {
                    "(with the --set)"
                }
            ),
            theme.warn(),
        ),
        Loadable::Failed { error, .. } => Span::styled(error.text(), theme.error()),
        Loadable::Idle | Loadable::Loading { .. } => comparing,
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
        match d.field {
            LaunchField::Steps => {
                "            N pods, P%, pause, pause 30s, verify · comma-separated"
            }
            _ => "            key=value, several separated by spaces",
        },
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
        LaunchField::Steps => steps_row.map(|r| (r, d.steps.visual_cursor())),
        LaunchField::Strategy | LaunchField::AutoPromote => None,
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

/// A step in words, for the line under the editor.
fn describe(step: &CanaryStep) -> String {
    match step {
        CanaryStep::Replicas(n) => format!("canary {n} pod{}", if *n == 1 { "" } else { "s" }),
        CanaryStep::Percent(p) => format!("canary {p}%"),
        CanaryStep::Pause(p) => match p.duration {
            Some(d) => format!("wait {d}"),
            None => "wait for P".into(),
        },
        CanaryStep::Verify(c) => format!(
            "verify {}",
            c.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join("+")
        ),
    }
}
