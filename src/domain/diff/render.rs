//! The plain text form of a manifest diff: summary, totals, warnings, unified diffs.

use std::fmt::Write as _;

use super::{key_label, ManifestDiff, Side};

/// A summary (`~ apps/Deployment demo/web (+1 -1)`, `+ ...`, `- ...`), a
/// totals line, warnings about duplicate keys, then each unified diff.
/// Diff lines start with `+`, `-`, ` `, `@@`, `---` or `+++`; callers that
/// colour use [`Unified::lines`] instead.
pub fn render_plain(d: &ManifestDiff) -> String {
    let mut out = String::new();
    if d.is_empty() {
        let _ = writeln!(
            out,
            "No changes ({} object{} unchanged).",
            d.counts.unchanged,
            if d.counts.unchanged == 1 { "" } else { "s" }
        );
    } else {
        for e in d.changes() {
            let _ = write!(out, "{} {}", e.change.sigil(), key_label(&e.key));
            if let Some(u) = &e.unified {
                let _ = write!(out, " (+{} -{})", u.insertions(), u.deletions());
            }
            if let (Some(o), Some(n)) = (&e.old, &e.new) {
                if o.api_version != n.api_version {
                    let _ = write!(out, " [apiVersion {} -> {}]", o.api_version, n.api_version);
                }
                if o.source != n.source {
                    let _ = write!(
                        out,
                        " [template {} -> {}]",
                        o.source.as_deref().unwrap_or("?"),
                        n.source.as_deref().unwrap_or("?")
                    );
                }
            }
            out.push('\n');
        }
        let c = &d.counts;
        let _ = writeln!(
            out,
            "{} to add, {} to change, {} to remove, {} unchanged.",
            c.added, c.changed, c.removed, c.unchanged
        );
    }
    for dup in &d.duplicates {
        let side = match dup.side {
            Side::Old => "old",
            Side::New => "new",
        };
        let _ = writeln!(
            out,
            "warning: {} appears more than once in the {side} manifests; the last one was used.",
            key_label(&dup.key)
        );
    }
    for e in d.changes() {
        if let Some(u) = &e.unified {
            out.push('\n');
            out.push_str(u.text());
        }
    }
    out
}
