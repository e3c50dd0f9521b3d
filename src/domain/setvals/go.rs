//! Go's behaviours that Helm's strvals inherits: `typedVal`, `strconv` integer parsing,
//! `strings.EqualFold`, dynamic type names and `%q` quoting.

use super::error::IndexErrorKind;
use super::{GO_LIST, GO_MAP};
use serde_json::{Number, Value};

/// Helm's `typedVal` for `--set`.
pub(super) fn typed_val(raw: String) -> Value {
    if go_equal_fold(&raw, "true") {
        return Value::Bool(true);
    }
    if go_equal_fold(&raw, "false") {
        return Value::Bool(false);
    }
    if go_equal_fold(&raw, "null") {
        return Value::Null;
    }
    if raw == "0" {
        return Value::Number(Number::from(0i64));
    }
    if !raw.is_empty() && !raw.starts_with('0') {
        if let Ok(n) = go_parse_int(&raw) {
            return Value::Number(Number::from(n));
        }
    }
    Value::String(raw)
}

/// Go's `strings.EqualFold` against an all-lowercase ASCII word. Under Unicode simple case
/// folding only U+017F (ſ) and U+212A (Kelvin sign) fold onto ASCII letters (s and k).
pub(super) fn go_equal_fold(s: &str, word: &str) -> bool {
    let mut chars = s.chars();
    for w in word.chars() {
        let Some(c) = chars.next() else {
            return false;
        };
        let same = c.to_ascii_lowercase() == w
            || (c == '\u{017F}' && w == 's')
            || (c == '\u{212A}' && w == 'k');
        if !same {
            return false;
        }
    }
    chars.next().is_none()
}

/// Go's `strconv.ParseInt(s, 10, 64)` (and `Atoi`, on 64-bit): optional sign, then ASCII
/// digits only, checked left to right exactly as Go does so the error kinds agree.
pub(super) fn go_parse_int(s: &str) -> Result<i64, IndexErrorKind> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(IndexErrorKind::InvalidSyntax);
    }
    // Go's ParseUint: a bad digit is a syntax error, overflowing u64 is a range error,
    // whichever comes first.
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(IndexErrorKind::InvalidSyntax);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(IndexErrorKind::OutOfRange)?;
    }
    if negative {
        if n > i64::MIN.unsigned_abs() {
            return Err(IndexErrorKind::OutOfRange);
        }
        Ok(0i64.wrapping_sub_unsigned(n))
    } else {
        i64::try_from(n).map_err(|_| IndexErrorKind::OutOfRange)
    }
}

/// The Go dynamic type name that appears in Helm's recovered type-assertion panics.
pub(super) fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(n) if n.is_u64() => "uint64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => GO_LIST,
        Value::Object(_) => GO_MAP,
    }
}

/// Go's `%q` for a string (`strconv.Quote`).
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_go_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` for a `[]rune`: `['a' 'b']`.
pub(super) fn go_quote_runes(s: &str) -> String {
    let mut out = String::from("[");
    for (i, c) in s.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('\'');
        push_go_escaped(&mut out, c, '\'');
        out.push('\'');
    }
    out.push(']');
    out
}

pub(super) fn push_go_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if go_is_print(c) {
        out.push(c);
        return;
    }
    let code = u32::from(c);
    match c {
        '\u{07}' => out.push_str("\\a"),
        '\u{08}' => out.push_str("\\b"),
        '\u{0C}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0B}' => out.push_str("\\v"),
        _ if code < 0x20 || code == 0x7F => out.push_str(&format!("\\x{code:02x}")),
        _ if code < 0x1_0000 => out.push_str(&format!("\\u{code:04x}")),
        _ => out.push_str(&format!("\\U{code:08x}")),
    }
}

/// Approximates Go's `unicode.IsPrint` (letters, marks, numbers, punctuation, symbols and
/// ASCII space) without Unicode tables: controls, non-ASCII spaces, format characters and
/// private-use characters are treated as non-printable. Unassigned code points are not
/// detected, so their quoting may differ from Go's.
pub(super) fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{F0000}'..='\u{10FFFF}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}
