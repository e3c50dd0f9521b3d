//! The rollout view: phase timeline, one bar per workload, the live pod table, events.

use super::browse::status_style;
use crate::tui::state::{EventKind, State};
use crate::tui::theme::Theme;
use crate::tui::ui::widgets::{
    self, elapsed, fit, gate_detail, kube_events, phase_timeline, pod_table, workload_bars,
};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(r) = &state.rollout else {
        return;
    };
    let snap = &r.snapshot;
    let run = snap.run.as_ref();
    let upper_h = run
        .map(|x| x.steps.len())
        .unwrap_or(1)
        .max(snap.workloads.len() + 2)
        .clamp(2, 10) as u16
        + 2;
    // On small terminals the pod table keeps at least half of the screen.
    let upper_h = upper_h.min((area.height / 3).max(4));
    let events_h: u16 = match (&r.logs, area.height >= 40) {
        (Some(_), true) => area.height / 3,
        (Some(_), false) => 7,
        (None, true) => 10,
        (None, false) => 4,
    };
    let [head, upper, pods, events] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(upper_h),
        Constraint::Min(4),
        Constraint::Length(events_h),
    ])
    .areas(area);

    // Header: what runs where, how it stands, for how long.
    let mut spans = vec![Span::styled(
        format!(" {} → {} ", r.service, r.env),
        theme.title(),
    )];
    match run {
        Some(run) => {
            spans.push(Span::raw(format!(
                "· {} · r{} · ",
                run.strategy.as_str(),
                run.revision
            )));
            spans.push(Span::styled(
                format!("{:?}", run.status),
                status_style(Some(run.status), theme),
            ));
            if !run.status.is_terminal() {
                spans.push(Span::raw(format!(
                    " · elapsed {}",
                    elapsed(state.shell.now_ms.saturating_sub(run.started_ms))
                )));
            }
            if let Some(p) = r.pause.filter(|_| r.driving) {
                // This console waits the pause out: its own ticks.
                let left = elapsed(p.total_ms.saturating_sub(p.elapsed_ms));
                let text = if area.width >= 100 {
                    format!(
                        " · pause {} of {} · {left} left",
                        elapsed(p.elapsed_ms),
                        elapsed(p.total_ms)
                    )
                } else {
                    format!(" · pause {left} left")
                };
                spans.push(Span::styled(text, theme.warn()));
            } else if let Some(until) = run.pause_until_ms {
                spans.push(Span::styled(
                    format!(
                        " · pause {} left",
                        elapsed(until.saturating_sub(state.shell.now_ms))
                    ),
                    theme.warn(),
                ));
            }
            if let Some(rev) = &run.reverse {
                spans.push(Span::styled(
                    format!(" · ↩ {}", rev.as_str()),
                    theme.error(),
                ));
            }
        }
        None => spans.push(Span::styled("· no run recorded yet", theme.dim())),
    }
    if r.driving {
        spans.push(Span::styled(" · driving", theme.key()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), head);

    // Timeline and workload bars side by side.
    let tl_w = (upper.width / 2).clamp(28, 60);
    let [tl, bars] =
        Layout::horizontal([Constraint::Length(tl_w), Constraint::Min(20)]).areas(upper);
    let tl_block = Block::bordered()
        .title(Span::styled("Phases", theme.header()))
        .border_style(theme.border(false));
    match run {
        Some(run) => phase_timeline::render(frame, tl, &run.steps, theme, tl_block),
        None => frame.render_widget(
            Paragraph::new(Span::styled("waiting for the record…", theme.dim())).block(tl_block),
            tl,
        ),
    }
    let bars_block = Block::bordered()
        .title(Span::styled("Workloads (ready/desired)", theme.header()))
        .border_style(theme.border(false));
    let inner = bars_block.inner(bars);
    let mut lines: Vec<Line> = snap
        .workloads
        .iter()
        .take(inner.height as usize)
        .map(|w| workload_bars::line(w, theme, inner.width as usize))
        .collect();
    for share in workload_bars::canary_shares(&snap.workloads) {
        if lines.len() < inner.height as usize {
            lines.push(workload_bars::traffic_line(
                &share,
                theme,
                inner.width as usize,
            ));
        }
    }
    if let Some(reason) = run.and_then(|x| x.reason.as_ref()) {
        if lines.len() < inner.height as usize {
            let style = if run.is_some_and(|x| x.reverse.is_some()) {
                theme.error()
            } else {
                theme.dim()
            };
            lines.push(Line::from(Span::styled(
                fit(&format!("reason: {reason}"), inner.width as usize),
                style,
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(bars_block), bars);

    // Pods.
    let title = format!("Pods ({})", snap.pods.len());
    let mut pods_block = Block::bordered()
        .title(Span::styled(title, theme.header()))
        .border_style(theme.border(true));
    if let Some(e) = &snap.watch_error {
        pods_block = pods_block.title(Span::styled(format!(" reconnecting: {e} "), theme.warn()));
    }
    pod_table::render(
        frame,
        pods,
        &snap.pods,
        r.pod_selected,
        state.shell.now_ms,
        theme,
        pods_block,
    );

    if let Some(logs) = &r.logs {
        let mut block = Block::bordered()
            .title(Span::styled(
                format!("Logs · {} (following)", logs.pod),
                theme.header(),
            ))
            .border_style(theme.border(true));
        if let Some(e) = &logs.error {
            block = block.title(Span::styled(format!(" {e} "), theme.warn()));
        }
        let inner = block.inner(events);
        let h = inner.height as usize;
        let w = inner.width as usize;
        let lines: Vec<Line> = logs
            .lines
            .iter()
            .skip(logs.lines.len().saturating_sub(h))
            .map(|l| Line::from(widgets::fit(l, w)))
            .collect();
        frame.render_widget(Paragraph::new(lines).block(block), events);
        return;
    }
    // Kubernetes Events beside the run's on wide screens; on narrow ones instead (`e`).
    let events = if events.width >= 120 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(events);
        draw_cluster_events(state, theme, frame, right);
        left
    } else if r.show_cluster_events {
        draw_cluster_events(state, theme, frame, events);
        return;
    } else {
        events
    };
    // A gate's measurements, on request or when the run stopped at one.
    if let Some(g) = run
        .filter(|x| r.show_gate || x.paused_gate_check.is_some())
        .and_then(|x| x.gate.as_ref())
    {
        let block = Block::bordered()
            .title(Span::styled(gate_detail::title(g), theme.header()))
            .border_style(theme.border(false));
        let inner = block.inner(events);
        let lines = gate_detail::lines(
            g,
            run.and_then(|x| x.paused_gate_check.as_deref()),
            inner.width as usize,
            inner.height as usize,
            state.shell.now_ms,
            theme,
        );
        frame.render_widget(Paragraph::new(lines).block(block), events);
        return;
    }
    // The run's events: newest last.
    let ev_block = Block::bordered()
        .title(Span::styled(
            if events.width >= 120 || area.width >= 120 {
                "Run"
            } else {
                "Run (e: Kubernetes events)"
            },
            theme.header(),
        ))
        .border_style(theme.border(false));
    let inner = ev_block.inner(events);
    let h = inner.height as usize;
    let w = inner.width as usize;
    let lines: Vec<Line> = r
        .events
        .iter()
        .skip(r.events.len().saturating_sub(h))
        .map(|e| {
            let style = match e.kind {
                EventKind::Step => theme.key(),
                EventKind::Info => theme.base(),
                EventKind::Health => theme.dim(),
                EventKind::Reversing | EventKind::Error => theme.error(),
                EventKind::Warning => theme.warn(),
                EventKind::Done => theme.ok(),
            };
            Line::from(Span::styled(widgets::fit(&e.text, w), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(ev_block), events);
}

fn draw_cluster_events(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(r) = &state.rollout else {
        return;
    };
    let warnings = r.cluster_events.iter().filter(|e| e.warning).count();
    let title = if warnings > 0 {
        format!(
            "Recent events ({warnings} warning{})",
            if warnings == 1 { "" } else { "s" }
        )
    } else {
        "Recent events".to_string()
    };
    let block = Block::bordered()
        .title(Span::styled(title, theme.header()))
        .border_style(theme.border(false));
    let inner = block.inner(area);
    let lines = kube_events::lines(
        &r.cluster_events,
        state.shell.now_ms,
        inner.width as usize,
        inner.height as usize,
        theme,
    );
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
