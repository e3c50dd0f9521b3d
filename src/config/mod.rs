//! `helmdeck.yaml`: finding it, parsing it with positions, and validating it, so that every
//! problem is reported as `file:line:column: what is wrong — what to do`. No network.

pub mod schema;
pub mod secrets;
pub mod starter;
mod validate;

pub use schema::*;

use crate::domain::yaml::{self, Doc, Pos};
use std::fmt;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "helmdeck.yaml";

/// A loaded, validated configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    pub path: PathBuf,
    doc: Doc,
}

/// A problem with the configuration (or with what it points at), located when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `file:line:column`, or just `file`.
    pub location: Option<String>,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, " — {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(
        location: Option<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ConfigError {
            location,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Where `--config` was not given: `./helmdeck.yaml`, then the user's config directory.
pub fn default_locations() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(FILE_NAME)];
    if let Some(dirs) = directories::ProjectDirs::from("io", "helmdeck", "helmdeck") {
        out.push(dirs.config_dir().join(FILE_NAME));
    }
    out
}

/// Loads the configuration: `explicit` if given, else the first of [`default_locations`].
pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    if let Some(p) = explicit {
        return Config::load(p);
    }
    let candidates = default_locations();
    for c in &candidates {
        if c.is_file() {
            return Config::load(c);
        }
    }
    let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(ConfigError::new(
        None,
        format!("no configuration found (looked for {})", tried.join(", ")),
        "create helmdeck.yaml (see README.md, \"Configuration\") or pass --config FILE",
    ))
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                Some(path.display().to_string()),
                format!("cannot read the configuration: {e}"),
                "check the path given to --config",
            )
        })?;
        Config::from_text(path, &text)
    }

    /// Parses and validates configuration text as if read from `path` (relative paths in it
    /// are relative to `path`'s folder).
    pub fn from_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let doc = yaml::parse_document(text).map_err(|e| {
            ConfigError::new(
                Some(format!("{shown}:{}", e.pos())),
                format!("invalid YAML: {}", yaml_message(&e)),
                "fix the YAML syntax (indentation, quotes, colons)",
            )
        })?;
        if let Some((ptr, pos)) = doc.duplicate_keys.first() {
            return Err(ConfigError::new(
                Some(format!("{shown}:{pos}")),
                format!(
                    "`{}` is given twice",
                    yaml::pointer_to_dotted(ptr, &doc.value)
                ),
                "keep one of them",
            ));
        }
        let value = if doc.value.is_null() {
            serde_json::Value::Object(Default::default())
        } else {
            doc.value.clone()
        };
        let file: ConfigFile =
            serde_path_to_error::deserialize(value).map_err(|e| serde_error(&shown, &doc, e))?;
        let cfg = Config {
            file,
            path: path.to_path_buf(),
            doc,
        };
        validate::validate(&cfg)?;
        Ok(cfg)
    }

    /// The folder relative paths are resolved against.
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Resolves a path written in the config: `~/` is the home directory, relative paths are
    /// relative to the config file.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        if let Some(rest) = p.strip_prefix("~/") {
            if let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()) {
                return home.join(rest);
            }
        }
        let pb = PathBuf::from(p);
        let joined = if pb.is_absolute() {
            pb
        } else {
            self.dir().join(pb)
        };
        clean(&joined)
    }

    pub fn position(&self, pointer: &str) -> Option<Pos> {
        self.doc.position_of(pointer)
    }

    /// `file:line:column` of the node at `pointer` (or of its nearest ancestor).
    pub fn locate(&self, pointer: &str) -> String {
        match self.position(pointer) {
            Some(pos) => format!("{}:{pos}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    pub fn service(&self, name: &str) -> Result<(usize, &Service), ConfigError> {
        find_named(
            &self.file.services,
            |s| &s.name,
            name,
            "service",
            &self.path,
        )
    }

    pub fn environment(&self, name: &str) -> Result<(usize, &Environment), ConfigError> {
        find_named(
            &self.file.environments,
            |e| &e.name,
            name,
            "environment",
            &self.path,
        )
    }

    pub fn repository(&self, name: &str) -> Result<(usize, &Repository), ConfigError> {
        find_named(
            &self.file.repositories,
            |r| &r.name,
            name,
            "repository",
            &self.path,
        )
    }
}

/// Drops `.` components and folds `dir/..`, without touching the file system.
pub fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn find_named<'a, T>(
    items: &'a [T],
    name_of: impl Fn(&T) -> &String,
    name: &str,
    what: &str,
    path: &Path,
) -> Result<(usize, &'a T), ConfigError> {
    if let Some((i, t)) = items.iter().enumerate().find(|(_, t)| name_of(t) == name) {
        return Ok((i, t));
    }
    let names: Vec<&str> = items.iter().map(|t| name_of(t).as_str()).collect();
    let hint = match suggest(name, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => format!("{} defines no {what}s", path.display()),
        None => format!("known {what}s: {}", names.join(", ")),
    };
    Err(ConfigError::new(
        None,
        format!("unknown {what} `{name}`"),
        hint,
    ))
}

/// The closest candidate to a misspelt word, if one is close enough.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn yaml_message(e: &yaml::YamlError) -> String {
    match e {
        yaml::YamlError::Syntax { message, .. } => message.clone(),
        other => {
            let s = other.to_string();
            s.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(s)
        }
    }
}

/// Turns a serde error at a path into a located, explained error.
fn serde_error(
    shown: &str,
    doc: &Doc,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> ConfigError {
    let mut pointer = String::new();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => {
                pointer = yaml::child_pointer(&pointer, &index.to_string())
            }
            serde_path_to_error::Segment::Map { key } => {
                pointer = yaml::child_pointer(&pointer, key)
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    let raw = e.inner().to_string();
    let key_path = |p: &str| {
        let d = yaml::pointer_to_dotted(p, &doc.value);
        if d.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{d}`")
        }
    };
    let locate = |p: &str| match doc.position_of(p) {
        Some(pos) => format!("{shown}:{pos}"),
        None => shown.to_string(),
    };
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (field, expected) = split_expected(rest);
        let at = yaml::child_pointer(&pointer, &field);
        let names: Vec<&str> = expected.iter().map(String::as_str).collect();
        let hint = match suggest(&field, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "remove it".to_string(),
            None => format!("remove it; known keys here: {}", names.join(", ")),
        };
        return ConfigError::new(
            Some(locate(&at)),
            format!("unknown key `{field}` in {}", key_path(&pointer)),
            hint,
        );
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (variant, expected) = split_expected(rest);
        let names: Vec<&str> = expected.iter().map(String::as_str).collect();
        let hint = match suggest(&variant, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", names.join(", ")),
        };
        return ConfigError::new(
            Some(locate(&pointer)),
            format!(
                "`{variant}` is not a valid value for {}",
                key_path(&pointer)
            ),
            hint,
        );
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default().to_string();
        return ConfigError::new(
            Some(locate(&pointer)),
            format!("{} needs `{field}`", key_path(&pointer)),
            format!("add `{field}:` here (see README.md, \"Configuration\")"),
        );
    }
    let msg = raw.split(" at line ").next().unwrap_or(&raw).to_string();
    ConfigError::new(
        Some(locate(&pointer)),
        format!("{}: {msg}", key_path(&pointer)),
        "fix the value (see README.md, \"Configuration\")",
    )
}

/// From "name`, expected one of `a`, `b`" → ("name", ["a", "b"]).
fn split_expected(rest: &str) -> (String, Vec<String>) {
    let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
    let expected = tail
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect();
    (name.to_string(), expected)
}

#[cfg(test)]
mod tests;
