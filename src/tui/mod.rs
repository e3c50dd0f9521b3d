//! The console: what the screen shows (`state`), what the user means (`action`, `keymap`),
//! how state changes (`update`, pure and synchronous) and how it is drawn (`ui`, pure).
//! No I/O here: `crate::app` turns effects into tasks and their results into messages.

pub mod action;
pub mod keymap;
pub mod msg;
pub mod rows;
pub mod state;
pub mod steps;
pub mod theme;
pub mod ui;
pub mod update;

pub use action::Action;
pub use keymap::{Key, KeyCode};
pub use msg::{Effect, Msg};
pub use state::State;
pub use theme::Theme;
