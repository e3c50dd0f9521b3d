//! The browse screen: navigation on the left, the preview tabs on the right.

use crate::domain::diff::LineTag;
use crate::domain::run::Status;
use crate::tui::state::{Focus, Loadable, ManifestRow, Section, State, Tab};
use crate::tui::theme::Theme;
use crate::tui::ui::widgets::{self, fit, offset, yaml};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Tabs};
use ratatui::Frame;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let nav_w = (area.width / 5).clamp(22, 32);
    let [nav, main] =
        Layout::horizontal([Constraint::Length(nav_w), Constraint::Min(20)]).areas(area);
    draw_nav(state, theme, frame, nav);
    draw_main(state, theme, frame, main);
}

pub fn status_style(s: Option<Status>, theme: &Theme) -> Style {
    match s {
        Some(Status::Healthy) => theme.ok(),
        Some(Status::Progressing | Status::Paused) => theme.warn(),
        Some(Status::Degraded | Status::RolledBack | Status::Aborted) => theme.error(),
        None => theme.dim(),
    }
}

fn block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .title(Span::styled(
            title,
            if focused {
                theme.title()
            } else {
                theme.header()
            },
        ))
        .border_style(theme.border(focused))
}

fn list_lines(
    items: Vec<(Line<'static>, bool)>,
    cursor: usize,
    focused: bool,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let start = offset(cursor, height, items.len());
    items
        .into_iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, (l, _))| {
            if i == cursor && focused {
                l.style(theme.selected())
            } else {
                l
            }
        })
        .collect()
}

fn draw_nav(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let n_env = state.shell.environments.len() as u16;
    let n_repo = state.shell.repositories.len().min(3) as u16;
    let n_svc = state.visible_services().len().max(1) as u16;
    let [svc, env, rel, repo] = Layout::vertical([
        Constraint::Max(n_svc + 2),
        Constraint::Length(n_env + 2),
        Constraint::Min(3),
        Constraint::Length(n_repo + 2),
    ])
    .areas(area);
    let w = area.width.saturating_sub(4) as usize;

    let focused = |s: Section| state.browse.focus == Focus::Nav(s);
    // Services
    let items: Vec<(Line, bool)> = state
        .visible_services()
        .into_iter()
        .filter_map(|i| state.shell.services.get(i).map(|s| (i, s)))
        .map(|(i, s)| {
            let mark = if i == state.browse.service {
                "▸ "
            } else {
                "  "
            };
            let strat = match s.strategy {
                crate::domain::run::StrategyKind::Bluegreen if w < 26 => "b/g",
                other => other.as_str(),
            };
            let name_w = w.saturating_sub(strat.len() + 3);
            (
                Line::from(vec![
                    Span::styled(mark, theme.key()),
                    Span::raw(format!("{:<name_w$} ", fit(&s.name, name_w))),
                    Span::styled(strat.to_string(), theme.dim()),
                ]),
                i == state.browse.service,
            )
        })
        .collect();
    let f = focused(Section::Services);
    let b = block("Services".into(), f, theme);
    let h = b.inner(svc).height as usize;
    frame.render_widget(
        Paragraph::new(list_lines(items, state.browse.cursor[0], f, h, theme)).block(b),
        svc,
    );

    // Environments
    let items: Vec<(Line, bool)> = state
        .shell
        .environments
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mark = if i == state.browse.env { "▸ " } else { "  " };
            let mut spans = vec![Span::styled(mark, theme.key()), Span::raw(e.name.clone())];
            if e.protected {
                let label = if w < 26 { " ⚿" } else { " ⚿ protected" };
                spans.push(Span::styled(label, theme.warn()));
            }
            (Line::from(spans), i == state.browse.env)
        })
        .collect();
    let f = focused(Section::Environments);
    let b = block("Environments".into(), f, theme);
    let h = b.inner(env).height as usize;
    frame.render_widget(
        Paragraph::new(list_lines(items, state.browse.cursor[1], f, h, theme)).block(b),
        env,
    );

    // Releases
    let f = focused(Section::Releases);
    let env_name = state.selected_env().map(|e| e.name.as_str()).unwrap_or("-");
    let b = block(format!("Releases · {env_name}"), f, theme);
    let h = b.inner(rel).height as usize;
    let lines = match &state.browse.releases {
        Loadable::Ready { value, .. } => {
            let items = value
                .iter()
                .map(|r| {
                    let status = r
                        .status
                        .map(|s| format!("{s:?}"))
                        .unwrap_or_else(|| "not deployed".into());
                    let rev = r.revision.map(|n| format!("r{n} ")).unwrap_or_default();
                    let name_w = w.saturating_sub(status.len() + rev.len() + 1).max(4);
                    (
                        Line::from(vec![
                            Span::raw(format!("{:<name_w$} ", fit(&r.service, name_w))),
                            Span::styled(rev, theme.dim()),
                            Span::styled(status, status_style(r.status, theme)),
                        ]),
                        false,
                    )
                })
                .collect();
            list_lines(items, state.browse.cursor[2], f, h, theme)
        }
        Loadable::Failed { error, .. } => {
            vec![Line::from(Span::styled(
                fit(&error.text(), w),
                theme.error(),
            ))]
        }
        _ => vec![Line::from(Span::styled("loading…", theme.dim()))],
    };
    frame.render_widget(Paragraph::new(lines).block(b), rel);

    // Repositories
    let items: Vec<(Line, bool)> = state
        .shell
        .repositories
        .iter()
        .map(|r| {
            (
                Line::from(vec![
                    Span::raw(format!("{} ", r.name)),
                    Span::styled(format!("{} {}", r.kind, r.location), theme.dim()),
                ]),
                false,
            )
        })
        .collect();
    let f = focused(Section::Repositories);
    let b = block("Repositories".into(), f, theme);
    let h = b.inner(repo).height as usize;
    frame.render_widget(
        Paragraph::new(list_lines(items, state.browse.cursor[3], f, h, theme)).block(b),
        repo,
    );
}

fn draw_main(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let focused = state.browse.focus == Focus::Main;
    let title = match (state.selected_service(), state.selected_env()) {
        (Some(s), Some(e)) => format!("{} → {}", s.name, e.name),
        _ => "no service".into(),
    };
    let b = block(title, focused, theme);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let titles: Vec<Line> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| Line::from(format!("{} {}", i + 1, t.title())))
        .collect();
    frame.render_widget(
        Tabs::new(titles)
            .select(state.browse.tab.index())
            .style(theme.dim())
            .highlight_style(theme.title().patch(theme.selected())),
        tabs,
    );
    match state.browse.tab {
        Tab::Manifests => manifests(state, theme, frame, body),
        Tab::Values => values(state, theme, frame, body),
        Tab::Diff => diff(state, theme, frame, body),
        Tab::History => history(state, theme, frame, body),
    }
}

fn placeholder<T>(l: &Loadable<T>, theme: &Theme, frame: &mut Frame, area: Rect) -> bool {
    let text = match l {
        Loadable::Ready { .. } => return false,
        Loadable::Idle => Span::styled("nothing selected", theme.dim()),
        Loadable::Loading { .. } => Span::styled("loading…", theme.dim()),
        Loadable::Failed { error, .. } => Span::styled(error.text(), theme.error()),
    };
    frame.render_widget(
        Paragraph::new(Line::from(text)).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
    true
}

fn manifests(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if placeholder(&state.browse.preview, theme, frame, area) {
        return;
    }
    let Some(p) = state.browse.preview.value() else {
        return;
    };
    let list_w = (area.width / 3).clamp(18, 40);
    let [list, yaml_area] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(10)]).areas(area);
    let rows = state.browse.manifest_rows();
    let pos = state.browse.object.min(rows.len().saturating_sub(1));
    let h = list.height as usize;
    let start = offset(pos, h, rows.len());
    let w = list_w.saturating_sub(1) as usize;
    let focused = state.browse.focus == Focus::Main;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(n, row)| {
            let l = match row {
                ManifestRow::Kind {
                    kind,
                    count,
                    folded,
                } => Line::from(Span::styled(
                    fit(
                        &format!("{} {kind} ({count})", if *folded { "▸" } else { "▾" }),
                        w,
                    ),
                    theme.title(),
                )),
                ManifestRow::Object(i) => Line::from(Span::raw(fit(
                    &format!(
                        "  {}",
                        p.objects.get(*i).map(|o| o.name.as_str()).unwrap_or("")
                    ),
                    w,
                ))),
            };
            if n == pos && focused {
                l.style(theme.selected())
            } else if n == pos {
                l.style(theme.header())
            } else {
                l
            }
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(ratatui::widgets::Borders::RIGHT)
                .border_style(theme.dim()),
        ),
        list,
    );
    let yaml_area = Rect {
        x: yaml_area.x + 1,
        width: yaml_area.width.saturating_sub(1),
        ..yaml_area
    };
    match state
        .browse
        .selected_object()
        .and_then(|i| p.objects.get(i))
    {
        Some(o) => {
            let mut lines = Vec::new();
            if let Some(src) = &o.source {
                lines.push(Line::from(Span::styled(
                    format!("# Source: {src}"),
                    theme.comment(),
                )));
            }
            let h = yaml_area.height as usize;
            lines.extend(yaml::lines(
                &o.yaml,
                theme,
                state.browse.scroll,
                h.saturating_sub(lines.len()),
            ));
            frame.render_widget(Paragraph::new(lines), yaml_area);
        }
        None => frame.render_widget(
            Paragraph::new(Span::styled("no object matches the filter", theme.dim())),
            yaml_area,
        ),
    }
}

fn values(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if placeholder(&state.browse.preview, theme, frame, area) {
        return;
    }
    let Some(p) = state.browse.preview.value() else {
        return;
    };
    let vis = state.browse.visible_values();
    let h = area.height.saturating_sub(1) as usize;
    let start = state.browse.scroll.min(vis.len().saturating_sub(h.max(1)));
    let wide = area.width >= 100;
    let rows: Vec<Row> = vis
        .iter()
        .skip(start)
        .take(h)
        .filter_map(|i| p.values.get(*i))
        .map(|v| {
            let src = match v.line {
                Some(l) => format!("{}:{l}", short_path(&v.source)),
                None => short_path(&v.source),
            };
            let vstyle = if v.secret {
                theme.secret()
            } else {
                theme.yaml_string()
            };
            Row::new(vec![
                Line::from(Span::styled(v.key.clone(), theme.yaml_key())),
                Line::from(Span::styled(v.value.clone(), vstyle)),
                Line::from(if wide {
                    v.layer.label()
                } else {
                    short_layer(v.layer)
                }),
                Line::from(Span::styled(src, theme.dim())),
            ])
        })
        .collect();
    let widths = if wide {
        [
            Constraint::Percentage(35),
            Constraint::Percentage(25),
            Constraint::Length(11),
            Constraint::Min(10),
        ]
    } else {
        [
            Constraint::Percentage(32),
            Constraint::Percentage(22),
            Constraint::Length(6),
            Constraint::Min(10),
        ]
    };
    let header = Row::new(vec!["KEY", "VALUE", "LAYER", "SOURCE"]).style(theme.header());
    frame.render_widget(Table::new(rows, widths).header(header), area);
}

fn short_layer(l: crate::domain::values::LayerKind) -> &'static str {
    use crate::domain::values::LayerKind as L;
    match l {
        L::ChartDefaults => "chart",
        L::Service => "svc",
        L::Environment => "env",
        L::Secret => "secret",
        L::Override => "set",
    }
}

/// The last two components of a path: enough to recognise a values file.
fn short_path(p: &str) -> String {
    let parts: Vec<&str> = p.rsplit('/').take(2).collect();
    if parts.len() < 2 || !p.contains('/') {
        return p.to_string();
    }
    format!("{}/{}", parts[1], parts[0])
}

fn diff(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if placeholder(&state.browse.diff, theme, frame, area) {
        return;
    }
    let Some(d) = state.browse.diff.value() else {
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("against {}: ", d.against)),
        Span::styled(format!("+{} added ", d.added), theme.insert()),
        Span::styled(format!("~{} changed ", d.changed), theme.warn()),
        Span::styled(format!("-{} removed ", d.removed), theme.delete()),
        Span::styled(format!("={} unchanged", d.unchanged), theme.dim()),
    ])];
    if d.lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no changes: the live cluster runs exactly this",
            theme.ok(),
        )));
    }
    let h = area.height.saturating_sub(1) as usize;
    let start = state
        .browse
        .scroll
        .min(d.lines.len().saturating_sub(h.max(1)));
    lines.extend(d.lines.iter().skip(start).take(h).map(|(tag, text)| {
        let style = match tag {
            LineTag::FileHeader => theme.header(),
            LineTag::HunkHeader => theme.hunk(),
            LineTag::Insert => theme.insert(),
            LineTag::Delete => theme.delete(),
            LineTag::Context => theme.base(),
        };
        Line::from(Span::styled(text.clone(), style))
    }));
    frame.render_widget(Paragraph::new(lines), area);
}

fn history(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if placeholder(&state.browse.history, theme, frame, area) {
        return;
    }
    let Some(h) = state.browse.history.value() else {
        return;
    };
    if h.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "never deployed here: `d` launches the first revision",
                theme.dim(),
            )),
            area,
        );
        return;
    }
    let wide = area.width >= 100;
    let visible = area.height.saturating_sub(1) as usize;
    let start = offset(state.browse.scroll, visible, h.len());
    let focused = state.browse.focus == Focus::Main;
    let rows: Vec<Row> = h
        .iter()
        .rev()
        .enumerate()
        .skip(start)
        .take(visible)
        .map(|(i, e)| {
            let mut cells = vec![
                Line::from(format!("r{}", e.revision)),
                Line::from(Span::styled(
                    format!("{:?}", e.status),
                    status_style(Some(e.status), theme),
                )),
                Line::from(e.strategy.as_str()),
                Line::from(e.chart.clone()),
            ];
            if wide {
                cells.push(Line::from(e.operator.clone()));
                cells.push(Line::from(widgets::fit(&e.updated, 20)));
            }
            cells.push(Line::from(Span::styled(
                e.reason.clone().unwrap_or_default(),
                theme.dim(),
            )));
            let row = Row::new(cells);
            if focused && i == state.browse.scroll {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "REV", "STATUS", "STRATEGY", "CHART", "OPERATOR", "UPDATED", "REASON",
            ],
            vec![
                Constraint::Length(5),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Length(20),
                Constraint::Min(10),
            ],
        )
    } else {
        (
            vec!["REV", "STATUS", "STRATEGY", "CHART", "REASON"],
            vec![
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Min(6),
            ],
        )
    };
    frame.render_widget(
        Table::new(rows, widths).header(Row::new(header).style(theme.header())),
        area,
    );
}
