//! `helmdeck values`: the effective values a release gets, and with `--explain` the layer
//! (file and line) that set every key. Secret values are always masked.

use super::{color_enabled, prepare_target, warn_all, CmdResult, Exit, OutputFormat, TargetArgs};
use crate::domain::values::Explained;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, clap::Args)]
pub struct ValuesArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Show, for every key, the layer that set it
    #[arg(long)]
    pub explain: bool,
    /// Output format: text (default), yaml or json
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// No colours
    #[arg(long)]
    pub no_color: bool,
}

/// `source:line` of an explained key.
pub fn origin_text(e: &Explained) -> String {
    match e.line {
        Some(l) => format!("{}:{l}", e.source),
        None => e.source.clone(),
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => {
            if crate::domain::yaml::plain_safe(s) {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        other => other.to_string(),
    }
}

/// The `--explain` table: KEY, VALUE, LAYER, FROM.
pub fn explain_table(rows: &[Explained], color: bool) -> String {
    let key_w = rows
        .iter()
        .map(|r| r.key.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 60);
    let vals: Vec<String> = rows
        .iter()
        .map(|r| {
            let t = value_text(&r.value);
            if t.chars().count() > 40 {
                let cut: String = t.chars().take(39).collect();
                format!("{cut}…")
            } else {
                t
            }
        })
        .collect();
    let val_w = vals
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    let mut out = format!(
        "{:key_w$}  {:val_w$}  {:11}  FROM\n",
        "KEY", "VALUE", "LAYER"
    );
    for (r, v) in rows.iter().zip(vals) {
        let layer = r.layer.label();
        let (c, reset) = if color {
            (
                match r.layer {
                    crate::domain::values::LayerKind::ChartDefaults => "\x1b[2m",
                    crate::domain::values::LayerKind::Service => "\x1b[36m",
                    crate::domain::values::LayerKind::Environment => "\x1b[33m",
                    crate::domain::values::LayerKind::Secret => "\x1b[35m",
                    crate::domain::values::LayerKind::Override => "\x1b[1;32m",
                },
                "\x1b[0m",
            )
        } else {
            ("", "")
        };
        out.push_str(&format!(
            "{c}{:key_w$}  {:val_w$}  {:11}  {}{reset}\n",
            r.key,
            v,
            layer,
            origin_text(r)
        ));
    }
    out
}

pub async fn run(config: Option<&std::path::Path>, args: &ValuesArgs) -> CmdResult {
    let (prepared, _helm) = prepare_target(config, &args.target).await?;
    warn_all(&prepared.warnings, &prepared.redactor);
    let eff = &prepared.effective;
    let text = if args.explain {
        let rows = eff.explain();
        match args.output {
            OutputFormat::Json => serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n",
            OutputFormat::Yaml => {
                crate::domain::yaml::to_string(&serde_json::to_value(&rows).unwrap_or_default())
            }
            OutputFormat::Text => explain_table(
                &rows,
                color_enabled(args.no_color, std::io::stdout().is_terminal()),
            ),
        }
    } else {
        let v = eff.masked_values();
        match args.output {
            OutputFormat::Json => serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
            OutputFormat::Yaml | OutputFormat::Text => crate::domain::yaml::to_string(&v),
        }
    };
    let text = prepared.redactor.redact(&text);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(Exit::Done)
}
