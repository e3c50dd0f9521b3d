//! `helmdeck render`: the objects a service would get in an environment (or an ad-hoc chart),
//! as Helm renders them, with Secret values masked.

use super::{prepare_target, warn_all, CmdResult, Exit, OutputFormat, TargetArgs};
use crate::domain::manifest::Object;
use crate::domain::mask::masked;
use crate::render::Renderer;
use std::io::Write;

#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format: yaml (default; Helm's stream with `# Source:` lines) or json (a v1 List)
    #[arg(long, short = 'o', value_enum, default_value = "yaml")]
    pub output: OutputFormat,
}

pub async fn run(config: Option<&std::path::Path>, args: &RenderArgs) -> CmdResult {
    let (prepared, helm) = prepare_target(config, &args.target).await?;
    let renderer = Renderer::new(helm);
    let rendered = renderer.render(&prepared.render_request()).await?;
    warn_all(&prepared.warnings, &prepared.redactor);
    let objects: Vec<&Object> = rendered.manifests.all().collect();
    let text = match args.output {
        OutputFormat::Json => {
            let list = serde_json::json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": objects.iter().map(|o| masked(o)).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
        }
        OutputFormat::Yaml | OutputFormat::Text => {
            let mut out = String::new();
            for o in &objects {
                out.push_str("---\n");
                if let Some(src) = &o.source {
                    out.push_str("# Source: ");
                    out.push_str(src);
                    out.push('\n');
                }
                out.push_str(&crate::domain::yaml::to_string(&masked(o)));
            }
            out
        }
    };
    let text = prepared.redactor.redact(&text);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes());
    Ok(Exit::Done)
}
