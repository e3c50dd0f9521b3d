//! Console benchmarks (targets in issue #5): a draw of the rollout view with 10k pods into
//! a 160x48 TestBackend ≤ 2 ms; key press → frame (update + draw) ≤ 16 ms at p99 while
//! the 10k pods stream updates. `cargo bench --bench tui`; the p99 is printed.

#[path = "../tests/tui_fixtures/mod.rs"]
mod fx;

use criterion::{criterion_group, criterion_main, Criterion};
use helmdeck::tui::state::{PodRow, RolloutSnapshot};
use helmdeck::tui::{update, Key, Msg, State, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

const PODS: usize = 10_000;

fn pods(generation: u32) -> Vec<PodRow> {
    let template = fx::rollout_paused()
        .rollout
        .and_then(|r| r.snapshot.pods.into_iter().next())
        .expect("fixture pod");
    (0..PODS)
        .map(|i| PodRow {
            name: format!("web-6f5b66657d-{i:05}"),
            restarts: (i as u32 + generation) % 3,
            ..template.clone()
        })
        .collect()
}

fn state_with_pods() -> State {
    let mut s = fx::rollout_paused();
    if let Some(r) = s.rollout.as_mut() {
        r.snapshot.pods = pods(0);
        r.pod_selected = PODS / 2;
    }
    s
}

fn snapshot(s: &State, generation: u32) -> Box<RolloutSnapshot> {
    let mut snap = s
        .rollout
        .as_ref()
        .map(|r| r.snapshot.clone())
        .unwrap_or_default();
    snap.pods = pods(generation);
    Box::new(snap)
}

fn tui_benches(c: &mut Criterion) {
    let theme = Theme::colored();
    let state = state_with_pods();
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let mut g = c.benchmark_group("tui");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.bench_function("draw_rollout_10k_pods_160x48", |b| {
        b.iter(|| {
            term.draw(|f| helmdeck::tui::ui::draw(&state, &theme, f))
                .expect("draws");
        })
    });
    g.finish();

    // Key → frame while pods stream: every fourth key follows a fresh snapshot of all
    // 10k pods (built beforehand: the watch task builds them off the UI loop).
    let mut s = state_with_pods();
    let gen = s.rollout.as_ref().map(|r| r.gen).unwrap_or_default();
    let rounds = 2_000;
    let mut snapshots: Vec<Box<RolloutSnapshot>> =
        (0..rounds / 4).map(|i| snapshot(&s, i as u32)).collect();
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        if i % 4 == 0 {
            if let Some(snapshot) = snapshots.pop() {
                let _ = update::update(&mut s, Msg::RolloutUpdated { gen, snapshot });
            }
        }
        let key = if (i / 50) % 2 == 0 { 'j' } else { 'k' };
        let t = Instant::now();
        let _ = update::update(&mut s, Msg::Key(Key::char(key)));
        term.draw(|f| helmdeck::tui::ui::draw(&s, &theme, f))
            .expect("draws");
        samples.push(t.elapsed());
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "key → frame with {PODS} pods streaming: p50 {:?}, p99 {:?}, max {:?} (target p99 ≤ 16 ms)",
        p(0.5),
        p(0.99),
        samples[samples.len() - 1]
    );
}

criterion_group!(benches, tui_benches);
criterion_main!(benches);
