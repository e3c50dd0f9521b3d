//! Widgets that draw one thing from plain data and a `Rect`; they know nothing of the App.

pub mod gate_detail;
pub mod kube_events;
pub mod phase_timeline;
pub mod pod_table;
pub mod workload_bars;
pub mod yaml;

/// `45s`, `3m`, `2h`, `4d` — kubectl's ages.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `1m20s` for elapsed times.
pub fn elapsed(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The first index to show so that `selected` is visible in `height` rows.
pub fn offset(selected: usize, height: usize, len: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let max = len - height;
    selected.saturating_sub(height - 1).min(max)
}

/// Cuts `s` to `w` characters, marking the cut with `…`.
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}
