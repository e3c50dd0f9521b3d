//! Mode + key → Action, from `assets/keymap.yaml` (embedded) and the user's optional
//! `<config dir>/keymap.yaml` on top. The footer and the `?` help are generated from it, so
//! what is shown is what works.

use super::action::Action;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    Delete,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// How the key is written in the footer and the help.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "S-tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::Backspace => "bksp".into(),
            KeyCode::Delete => "del".into(),
        };
        if self.ctrl {
            format!("C-{base}")
        } else {
            base
        }
    }
}

/// Which keymap is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Services, environments, releases and the preview tabs.
    Browse,
    /// A run's live view.
    Rollout,
    /// A yes/no question.
    Confirm,
    /// The help overlay.
    Help,
}

impl Mode {
    pub fn title(self) -> &'static str {
        match self {
            Mode::Browse => "Browse",
            Mode::Rollout => "Rollout",
            Mode::Confirm => "Confirm",
            Mode::Help => "Help",
        }
    }
}

/// One binding: in `mode`, `key` means `action`; `help` says so; `footer` keeps it short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub mode: Mode,
    pub key: Key,
    pub action: Action,
    pub help: String,
    /// The footer's short label; empty: not in the footer.
    pub footer: String,
}

/// The default keymap (DESIGN.md "Screens"), embedded from `assets/keymap.yaml`.
pub const DEFAULT_YAML: &str = include_str!("../../assets/keymap.yaml");

/// A bad keymap file: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message} — {hint}")]
pub struct KeymapError {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub hint: String,
}

/// Mode + key → action, in the order the help lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap::defaults()
    }
}

const MODES: [(&str, Mode); 4] = [
    ("browse", Mode::Browse),
    ("rollout", Mode::Rollout),
    ("confirm", Mode::Confirm),
    ("help", Mode::Help),
];

const ACTIONS: &[(&str, Action)] = &[
    ("quit", Action::Quit),
    ("up", Action::Up),
    ("down", Action::Down),
    ("page-up", Action::PageUp),
    ("page-down", Action::PageDown),
    ("top", Action::Top),
    ("bottom", Action::Bottom),
    ("left", Action::Left),
    ("right", Action::Right),
    ("open", Action::Open),
    ("back", Action::Back),
    ("next-pane", Action::NextPane),
    ("prev-pane", Action::PrevPane),
    ("next-tab", Action::NextTab),
    ("prev-tab", Action::PrevTab),
    ("tab-1", Action::Tab(0)),
    ("tab-2", Action::Tab(1)),
    ("tab-3", Action::Tab(2)),
    ("tab-4", Action::Tab(3)),
    ("deploy", Action::OpenLaunch),
    ("promote", Action::Promote),
    ("rollback", Action::Rollback),
    ("abort", Action::Abort),
    ("rollout", Action::OpenRollout),
    ("logs", Action::Logs),
    ("gate", Action::GateDetail),
    ("events", Action::ClusterEvents),
    ("filter", Action::Filter),
    ("palette", Action::Palette),
    ("diff-base", Action::ToggleDiffBase),
    ("help", Action::Help),
    ("refresh", Action::Refresh),
    ("confirm", Action::Confirm),
    ("cancel", Action::Cancel),
];

const NAMED_KEYS: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("shift-tab", KeyCode::BackTab),
    ("space", KeyCode::Char(' ')),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pgup", KeyCode::PageUp),
    ("pageup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
];

/// `j`, `G`, `?`, `ctrl-c`, `enter`, `pgdn`, … as a key.
pub fn parse_key(name: &str) -> Result<Key, String> {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("ctrl-")
        .or_else(|| lower.strip_prefix("c-"))
    {
        let mut cs = rest.chars();
        return match (cs.next(), cs.next()) {
            (Some(c), None) => Ok(Key::ctrl(c)),
            _ => Err(format!(
                "`{name}` is not a key: ctrl- takes one character (ctrl-c)"
            )),
        };
    }
    let mut cs = name.chars();
    if let (Some(c), None) = (cs.next(), cs.next()) {
        return Ok(Key::char(c));
    }
    NAMED_KEYS
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, k)| Key::plain(*k))
        .ok_or_else(|| {
            let names: Vec<&str> = NAMED_KEYS.iter().map(|(n, _)| *n).collect();
            format!(
                "`{name}` is not a key: use one character, ctrl-x, or one of {}",
                names.join(", ")
            )
        })
}

fn closest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (strsim::levenshtein(word, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Keymap {
    /// The embedded defaults (checked by a test, so they always parse), parsed once.
    pub fn defaults() -> Keymap {
        static DEFAULTS: std::sync::LazyLock<Keymap> = std::sync::LazyLock::new(|| {
            match Keymap::parse(DEFAULT_YAML, "assets/keymap.yaml", None) {
                Ok(k) => k,
                Err(e) => {
                    tracing::error!(error = %e, "the embedded keymap does not parse");
                    Keymap {
                        bindings: Vec::new(),
                    }
                }
            }
        });
        DEFAULTS.clone()
    }

    /// Parses a keymap file; with `base`, its bindings replace those of the same mode and key.
    pub fn parse(text: &str, file: &str, base: Option<Keymap>) -> Result<Keymap, KeymapError> {
        let err = |line: usize, message: String, hint: &str| KeymapError {
            file: file.to_string(),
            line,
            message,
            hint: hint.to_string(),
        };
        let doc = crate::domain::yaml::parse_document(text)
            .map_err(|e| err(e.pos().line, e.to_string(), "fix the YAML syntax"))?;
        let line_of = |ptr: &str| doc.position_of(ptr).map(|p| p.line).unwrap_or(1);
        let mut bindings = base.map(|b| b.bindings).unwrap_or_default();
        let root =
            match &doc.value {
                serde_json::Value::Null => return Ok(Keymap { bindings }),
                serde_json::Value::Object(m) => m,
                _ => return Err(err(
                    1,
                    "a keymap is a map of modes".into(),
                    "write `browse:`, `rollout:`, `confirm:` or `help:` with a list of bindings",
                )),
            };
        for (mode_name, list) in root {
            let mp = crate::domain::yaml::child_pointer("", mode_name);
            let Some(mode) = MODES.iter().find(|(n, _)| n == mode_name).map(|(_, m)| *m) else {
                let hint = match closest(mode_name, MODES.iter().map(|(n, _)| *n)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "modes are browse, rollout, confirm and help".into(),
                };
                return Err(err(
                    line_of(&mp),
                    format!("unknown mode `{mode_name}`"),
                    &hint,
                ));
            };
            let Some(items) = list.as_array() else {
                return Err(err(
                    line_of(&mp),
                    format!("`{mode_name}` must be a list of bindings"),
                    "write `- { key: j, action: down, help: move down }` items",
                ));
            };
            for (i, item) in items.iter().enumerate() {
                let ip = crate::domain::yaml::child_pointer(&mp, &i.to_string());
                let line = line_of(&ip);
                let field = |name: &str| item.get(name).and_then(serde_json::Value::as_str);
                for name in ["help", "footer"] {
                    if item.get(name).is_some_and(|v| !v.is_string()) {
                        return Err(err(
                            line,
                            format!("`{name}` must be text"),
                            "quote it: help: \"no\" (yes, no, on and off are booleans in YAML)",
                        ));
                    }
                }
                if let Some(obj) = item.as_object() {
                    if let Some(bad) = obj
                        .keys()
                        .find(|k| !["key", "action", "help", "footer"].contains(&k.as_str()))
                    {
                        return Err(err(
                            line,
                            format!("unknown field `{bad}` in a binding"),
                            "a binding has key, action, help and (optionally) footer",
                        ));
                    }
                }
                if let Some(serde_json::Value::Bool(b)) = item.get("key") {
                    return Err(err(
                        line,
                        format!("the key reads as the YAML boolean `{b}`"),
                        "quote it: key: \"y\" (y, n, yes, no, on and off are booleans in YAML)",
                    ));
                }
                let key_name = item
                    .get("key")
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .ok_or_else(|| {
                        err(
                            line,
                            "a binding without `key`".into(),
                            "add `key: j` (the key to press)",
                        )
                    })?;
                let key = parse_key(&key_name).map_err(|m| {
                    err(
                        line,
                        m,
                        "see the list of key names at the top of assets/keymap.yaml",
                    )
                })?;
                let action_name = field("action").ok_or_else(|| {
                    err(
                        line,
                        format!("the binding of `{key_name}` has no `action`"),
                        "add `action: promote` (or `none` to unbind the key)",
                    )
                })?;
                bindings.retain(|b| !(b.mode == mode && b.key == key));
                if action_name == "none" {
                    continue;
                }
                let Some(action) = ACTIONS
                    .iter()
                    .find(|(n, _)| *n == action_name)
                    .map(|(_, a)| *a)
                else {
                    let hint = match closest(action_name, ACTIONS.iter().map(|(n, _)| *n)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "actions are {}, or none",
                            ACTIONS
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    return Err(err(line, format!("unknown action `{action_name}`"), &hint));
                };
                bindings.push(Binding {
                    mode,
                    key,
                    action,
                    help: field("help").unwrap_or(action_name).to_string(),
                    footer: field("footer").unwrap_or_default().to_string(),
                });
            }
        }
        // The help lists modes in order; bindings keep their file order within a mode.
        bindings.sort_by_key(|b| MODES.iter().position(|(_, m)| *m == b.mode));
        Ok(Keymap { bindings })
    }

    /// The action of `key` in `mode`, if any.
    pub fn lookup(&self, mode: Mode, key: Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.mode == mode && b.key == key)
            .map(|b| b.action)
    }

    /// The footer of `mode`: one `key label` pair per footer binding.
    pub fn footer(&self, mode: Mode) -> Vec<(String, String)> {
        self.bindings
            .iter()
            .filter(|b| b.mode == mode && !b.footer.is_empty())
            .map(|b| (b.key.label(), b.footer.clone()))
            .collect()
    }

    /// Every binding of `mode`, keys of one help text joined (`j/↓  move down`).
    pub fn help(&self, mode: Mode) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for bnd in self.bindings.iter().filter(|b| b.mode == mode) {
            if let Some(e) = out.iter_mut().find(|(_, h)| *h == bnd.help) {
                e.0.push('/');
                e.0.push_str(&bnd.key.label());
            } else {
                out.push((bnd.key.label(), bnd.help.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_parse() {
        let k = Keymap::parse(DEFAULT_YAML, "assets/keymap.yaml", None).expect("defaults parse");
        assert_eq!(
            k.lookup(Mode::Rollout, Key::char('P')),
            Some(Action::Promote)
        );
        assert_eq!(k.lookup(Mode::Browse, Key::char('1')), Some(Action::Tab(0)));
        assert_eq!(k.lookup(Mode::Browse, Key::ctrl('c')), Some(Action::Quit));
        assert_eq!(
            k.lookup(Mode::Confirm, Key::plain(KeyCode::Enter)),
            Some(Action::Confirm)
        );
    }
}
