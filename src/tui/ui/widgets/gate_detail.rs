//! A verification gate's measurements: per check a mark per measurement and the last
//! value, then the detail of the check the run stopped on (or the last one measured).

use crate::domain::gate::{GateRecord, Outcome, Verdict};
use crate::tui::theme::Theme;
use crate::tui::ui::widgets::{age, fit};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

fn mark(o: Outcome, theme: &Theme) -> (char, Style) {
    match o {
        Outcome::Pass => ('✓', theme.ok()),
        Outcome::Fail => ('✗', theme.error()),
        Outcome::Inconclusive => ('?', theme.warn()),
    }
}

/// The pane's title: the gate's stage and where it stands.
pub fn title(g: &GateRecord) -> String {
    let verdict = match &g.verdict {
        None => "measuring".to_string(),
        Some(Verdict::Passed) => "passed".into(),
        Some(Verdict::Failed { check, .. }) => format!("`{check}` failed"),
        Some(Verdict::Inconclusive { check, .. }) => format!("`{check}` inconclusive"),
    };
    format!("Gate · {} · {verdict}", g.stage.as_str())
}

/// At most `height` lines of `width` columns.
pub fn lines(
    g: &GateRecord,
    focus: Option<&str>,
    width: usize,
    height: usize,
    now_ms: u64,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut out: Vec<Line> = Vec::new();
    let name_w = g
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .min(18);
    for c in &g.checks {
        let mut spans = vec![Span::styled(
            format!("{:<name_w$} ", fit(&c.name, name_w)),
            theme.header(),
        )];
        for m in c.measurements.iter().rev().take(12).rev() {
            let (ch, st) = mark(m.outcome, theme);
            spans.push(Span::styled(ch.to_string(), st));
        }
        if let Some(v) = c.measurements.last().and_then(|m| m.value.clone()) {
            spans.push(Span::raw(format!("  last {v}")));
        }
        out.push(Line::from(spans));
    }
    let detail = match &g.verdict {
        Some(Verdict::Failed { detail, .. } | Verdict::Inconclusive { detail, .. }) => {
            Some(detail.clone())
        }
        _ => None,
    };
    if let Some(d) = detail {
        out.push(Line::from(Span::styled(
            fit(&format!("why: {d}"), width),
            theme.error(),
        )));
    }
    // The measurements of the check in focus, newest last, one line each.
    let check = focus
        .and_then(|f| g.checks.iter().find(|c| c.name == f))
        .or_else(|| {
            g.checks
                .iter()
                .max_by_key(|c| c.measurements.last().map(|m| m.at_ms).unwrap_or(0))
        });
    if let Some(c) = check {
        let room = height.saturating_sub(out.len() + 1);
        if room > 0 && !c.measurements.is_empty() {
            out.push(Line::from(Span::styled(
                format!("{} measurements:", c.name),
                theme.dim(),
            )));
            for m in c
                .measurements
                .iter()
                .skip(c.measurements.len().saturating_sub(room))
            {
                let (ch, st) = mark(m.outcome, theme);
                let t = format!("{:>4}", age(now_ms.saturating_sub(m.at_ms)));
                let text = format!(
                    " {} {}",
                    m.value.as_deref().unwrap_or("-"),
                    m.detail.lines().next().unwrap_or_default()
                );
                out.push(Line::from(vec![
                    Span::styled(format!("{t} "), theme.dim()),
                    Span::styled(ch.to_string(), st),
                    Span::raw(fit(&text, width.saturating_sub(t.len() + 2))),
                ]));
            }
        }
    }
    out.truncate(height);
    out
}
