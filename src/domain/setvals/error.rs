//! The errors of `--set` parsing, with Helm's exact messages.

use super::go::{go_quote, go_quote_runes};

/// Why Go's `strconv.Atoi` rejected a list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexErrorKind {
    /// Not an optionally signed run of ASCII digits.
    InvalidSyntax,
    /// Digits are fine but the number does not fit in an int64.
    OutOfRange,
}

impl IndexErrorKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            IndexErrorKind::InvalidSyntax => "invalid syntax",
            IndexErrorKind::OutOfRange => "value out of range",
        }
    }
}

/// A malformed `--set` (or `--set-json`, `--set-file`, `--set-literal`) expression. [`SetError::helm_message`] returns Helm's exact message;
/// `Display` adds where it went wrong. Each `offset` is a byte offset into `expr`, pointing
/// at the start of the offending key segment, index, list, or trailing data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// A key followed by the end of input, e.g. `a` or `a.b`.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    NoValue {
        key: String,
        expr: String,
        offset: usize,
    },
    /// A key followed by `,`, e.g. `a,b=1` or the empty key in `a=1,,b=2`.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    NoValueTrailingComma {
        key: String,
        expr: String,
        offset: usize,
    },
    /// `a.=1`, `a..b=1`: the map below `key` ended up empty.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    EmptyMap {
        key: String,
        expr: String,
        offset: usize,
    },
    /// More than [`MAX_NESTED_NAME_LEVEL`] dots in one key.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    NameNestedTooDeep {
        max: usize,
        expr: String,
        offset: usize,
    },
    /// The text between `[` and `]` is not an integer (`a[x]`, `a[]`, `a[ 1]`).
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    InvalidIndex {
        index: String,
        kind: IndexErrorKind,
        expr: String,
        offset: usize,
    },
    /// `a[-1]=x`.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    NegativeIndex {
        index: i64,
        expr: String,
        offset: usize,
    },
    /// `a[70000]=x`: index above [`MAX_INDEX`].
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    IndexTooLarge {
        index: i64,
        max: i64,
        expr: String,
        offset: usize,
    },
    /// Anything other than `[`, `.` or `=` right after `]`, e.g. `a[0]x=1` or `a[0],b=1`.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    UnexpectedDataAfterIndex {
        data: String,
        expr: String,
        offset: usize,
    },
    /// `a={x,y` with no closing brace.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    UnterminatedList { expr: String, offset: usize },
    /// The path runs through an existing value of the wrong type, e.g. `a=1,a.b=2`
    /// or `a.b=1,a[0]=2` (a recovered panic in Helm). `found`/`expected` are Go type names.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    TypeConflict {
        found: &'static str,
        expected: &'static str,
        expr: String,
        offset: usize,
    },
    /// A `--set-json` value that is not one JSON document.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    Json {
        message: String,
        expr: String,
        offset: usize,
    },
    /// A `--set-file` value naming a file that cannot be read.
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    File {
        path: String,
        message: String,
        expr: String,
        offset: usize,
    },
    /// More than [`MAX_RECURSION_DEPTH`] nested keys/indices (helmdeck's limit, not Helm's).
    #[error("{} (at byte {offset} of {expr:?})", self.helm_message())]
    RecursionLimit {
        limit: usize,
        expr: String,
        offset: usize,
    },
}

impl SetError {
    /// The message Helm's `strvals` would give for this error, without position information.
    pub fn helm_message(&self) -> String {
        match self {
            SetError::NoValue { key, .. } => format!("key {} has no value", go_quote(key)),
            SetError::NoValueTrailingComma { key, .. } => {
                format!("key {} has no value (cannot end with ,)", go_quote(key))
            }
            SetError::EmptyMap { key, .. } => format!("key map {} has no value", go_quote(key)),
            SetError::NameNestedTooDeep { max, .. } => format!(
                "value name nested level is greater than maximum supported nested level of {max}"
            ),
            SetError::InvalidIndex { index, kind, .. } => format!(
                "error parsing index: strconv.Atoi: parsing {}: {}",
                go_quote(index),
                kind.as_str()
            ),
            SetError::NegativeIndex { index, .. } => format!("negative {index} index not allowed"),
            SetError::IndexTooLarge { index, max, .. } => {
                format!("index of {index} is greater than maximum supported index of {max}")
            }
            SetError::UnexpectedDataAfterIndex { data, .. } => format!(
                "unexpected data at end of array index: {}",
                go_quote_runes(data)
            ),
            SetError::UnterminatedList { .. } => "list must terminate with '}'".to_string(),
            SetError::TypeConflict {
                found, expected, ..
            } => format!(
                "unable to parse key: interface conversion: interface {{}} is {found}, not {expected}"
            ),
            SetError::Json { message, .. } => format!("invalid JSON value: {message}"),
            SetError::File { message, .. } => message.clone(),
            SetError::RecursionLimit { limit, .. } => {
                format!("expression nests deeper than {limit} keys/indices (helmdeck limit)")
            }
        }
    }

    /// Byte offset into [`SetError::expr`] where the problem starts.
    pub fn offset(&self) -> usize {
        match self {
            SetError::NoValue { offset, .. }
            | SetError::NoValueTrailingComma { offset, .. }
            | SetError::EmptyMap { offset, .. }
            | SetError::NameNestedTooDeep { offset, .. }
            | SetError::InvalidIndex { offset, .. }
            | SetError::NegativeIndex { offset, .. }
            | SetError::IndexTooLarge { offset, .. }
            | SetError::UnexpectedDataAfterIndex { offset, .. }
            | SetError::UnterminatedList { offset, .. }
            | SetError::TypeConflict { offset, .. }
            | SetError::Json { offset, .. }
            | SetError::File { offset, .. }
            | SetError::RecursionLimit { offset, .. } => *offset,
        }
    }

    /// The whole expression that failed to parse.
    pub fn expr(&self) -> &str {
        match self {
            SetError::NoValue { expr, .. }
            | SetError::NoValueTrailingComma { expr, .. }
            | SetError::EmptyMap { expr, .. }
            | SetError::NameNestedTooDeep { expr, .. }
            | SetError::InvalidIndex { expr, .. }
            | SetError::NegativeIndex { expr, .. }
            | SetError::IndexTooLarge { expr, .. }
            | SetError::UnexpectedDataAfterIndex { expr, .. }
            | SetError::UnterminatedList { expr, .. }
            | SetError::TypeConflict { expr, .. }
            | SetError::Json { expr, .. }
            | SetError::File { expr, .. }
            | SetError::RecursionLimit { expr, .. } => expr,
        }
    }
}
