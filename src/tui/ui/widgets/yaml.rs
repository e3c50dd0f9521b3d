//! Cheap YAML highlighting, line by line: comments, keys, strings, numbers, masked secrets.

use crate::domain::mask::MASK;
use crate::tui::theme::Theme;
use ratatui::text::{Line, Span};

/// Highlighted lines of `text` from `skip`, at most `take` of them.
pub fn lines(text: &str, theme: &Theme, skip: usize, take: usize) -> Vec<Line<'static>> {
    text.lines()
        .skip(skip)
        .take(take)
        .map(|l| line(l, theme))
        .collect()
}

pub fn line(l: &str, theme: &Theme) -> Line<'static> {
    let trimmed = l.trim_start();
    let indent = &l[..l.len() - trimmed.len()];
    if trimmed.starts_with('#') {
        return Line::from(Span::styled(l.to_string(), theme.comment()));
    }
    let (dash, rest) = match trimmed.strip_prefix("- ") {
        Some(r) => ("- ", r),
        None => ("", trimmed),
    };
    let mut spans = vec![Span::raw(format!("{indent}{dash}"))];
    match split_key(rest) {
        Some((key, value)) => {
            spans.push(Span::styled(key.to_string(), theme.yaml_key()));
            spans.push(Span::raw(":"));
            if !value.is_empty() {
                spans.push(scalar(value, theme));
            }
        }
        None => spans.push(scalar(rest, theme)),
    }
    Line::from(spans)
}

fn split_key(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('"') || s.starts_with('\'') {
        let q = s.chars().next()?;
        let end = s[1..].find(q)? + 2;
        let after = &s[end..];
        return after.strip_prefix(':').map(|v| (&s[..end], v));
    }
    let idx = s
        .find(": ")
        .or_else(|| s.strip_suffix(':').map(|k| k.len()))?;
    Some((&s[..idx], &s[idx + 1..]))
}

fn scalar(v: &str, theme: &Theme) -> Span<'static> {
    let t = v.trim();
    let style = if t.contains(MASK) {
        theme.secret()
    } else if t.parse::<f64>().is_ok() || matches!(t, "true" | "false" | "null" | "~") {
        theme.yaml_number()
    } else {
        theme.yaml_string()
    };
    Span::styled(v.to_string(), style)
}
