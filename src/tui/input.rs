//! Terminal events in the console's own terms: crossterm's key events become [`Key`]s, so
//! that `update` and the tests never see the terminal library.

use super::keymap::{Key, KeyCode};
use crossterm::event::{Event, KeyEventKind, KeyModifiers};

/// What the terminal said that the console cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    Key(Key),
    Resize(u16, u16),
}

/// A crossterm event as an [`InputEvent`]; None for what the console ignores (key releases,
/// focus, mouse, paste).
pub fn from_crossterm(ev: &Event) -> Option<InputEvent> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            use crossterm::event::KeyCode as C;
            let code = match k.code {
                C::Char(c) => KeyCode::Char(c),
                C::Enter => KeyCode::Enter,
                C::Esc => KeyCode::Esc,
                C::Tab => KeyCode::Tab,
                C::BackTab => KeyCode::BackTab,
                C::Up => KeyCode::Up,
                C::Down => KeyCode::Down,
                C::Left => KeyCode::Left,
                C::Right => KeyCode::Right,
                C::PageUp => KeyCode::PageUp,
                C::PageDown => KeyCode::PageDown,
                C::Home => KeyCode::Home,
                C::End => KeyCode::End,
                C::Backspace => KeyCode::Backspace,
                C::Delete => KeyCode::Delete,
                _ => return None,
            };
            Some(InputEvent::Key(Key {
                code,
                ctrl: k.modifiers.contains(KeyModifiers::CONTROL),
            }))
        }
        Event::Resize(w, h) => Some(InputEvent::Resize(*w, *h)),
        _ => None,
    }
}
