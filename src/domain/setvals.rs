//! Parser for Helm's `--set` / `--set-string` expressions.
//!
//! Behaves like `helm.sh/helm/v4/pkg/strvals` (`ParseInto` / `ParseIntoString`), including
//! the odd corners. Checked against Helm v4.2.3. Summary of the grammar as Helm implements it:
//!
//! * An expression is a sequence of `key=value` assignments separated by `,`. A trailing
//!   `,` is fine; an empty assignment (`a=1,,b=2`) is an error.
//! * A key is split on `.` into nested maps (at most [`MAX_NESTED_NAME_LEVEL`] dots per
//!   map path) and on `[n]` into list indices. `\` escapes the next character anywhere
//!   (keys, indices, values, list items), so `a\.b=1` sets the key `a.b`.
//! * A value starting with `{` is a list `{x,y}` (items split on `,`, no nesting, no
//!   trimming; `{}` is `[""]`). Anything after the closing `}` other than `,` starts the next
//!   assignment, at the top level.
//! * Other values run up to the next unescaped `,` and may contain `=`, `{`, `}`, spaces.
//! * Typed mode (`--set`) converts each value or list item: `true`/`false`/`null`
//!   (ASCII case-insensitive, Go `strings.EqualFold`) become bool/null, `0` becomes 0,
//!   and a string that does not start with `0` and parses as a base-10 int64
//!   (optional sign) becomes an integer. Everything else, including floats, `0123`,
//!   `1_000`, `0x10` and an empty value, stays a string. String mode keeps all strings.
//! * `a[i]=v` grows the list with nulls up to `i`; `i` may be at most [`MAX_INDEX`].
//!
//! As in Helm, an error can leave `target` partly changed; parse into a clone if you
//! need all-or-nothing. The one intended difference from Helm: recursion is limited to
//! [`MAX_RECURSION_DEPTH`] nested keys/indices, so hostile input can't overflow the stack.
//! Helm has no such limit for list indices (`a[0][0][0]...`).

use serde_json::{Map, Number, Value};

/// Largest list index Helm accepts (`strvals.MaxIndex`). Index 65536 itself is allowed.
pub const MAX_INDEX: i64 = 65_536;

/// Most `.`-separated map levels Helm accepts in one key (`strvals.MaxNestedNameLevel`).
/// Dots after a list index (`a[0].b`) don't count toward this limit, as in Helm.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Most nested key/index levels helmdeck will recurse through (Helm has no limit here).
/// Each `.key` and each `[i]` is one level. 128 levels need well under 1 MiB of stack
/// even in debug builds.
pub const MAX_RECURSION_DEPTH: usize = 128;

/// How values are converted: `--set` (typed) or `--set-string` (always strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetMode {
    /// `--set`: booleans, null and int64 are recognised (Helm's `typedVal`).
    #[default]
    Typed,
    /// `--set-string`: every value stays a string.
    String,
}

/// Why Go's `strconv.Atoi` rejected a list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexErrorKind {
    /// Not an optionally signed run of ASCII digits.
    InvalidSyntax,
    /// Digits are fine but the number does not fit in an int64.
    OutOfRange,
}

impl IndexErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            IndexErrorKind::InvalidSyntax => "invalid syntax",
            IndexErrorKind::OutOfRange => "value out of range",
        }
    }
}

/// A malformed `--set` expression. [`SetError::helm_message`] returns Helm's exact message;
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
            | SetError::RecursionLimit { expr, .. } => expr,
        }
    }
}

/// Parses one `--set` expression (e.g. `a.b=1,list={x,y},arr[0].name=z,dot\.key=v`) into
/// `target`, as Helm's `strvals.ParseInto` does (`SetMode::Typed`: ints, bools, null;
/// `SetMode::String`: `ParseIntoString`, which keeps strings).
///
/// Returns the JSON Pointers (RFC 6901, e.g. `/a/b`, `/arr/0/name`) of every value it
/// assigned, in order, duplicates included. A pointer is recorded for each value written
/// from the expression (a scalar, or a whole `{..}` list). A container is recorded by its
/// own pointer, ahead of anything below it, when it replaces an existing list element
/// (Helm silently turns `a[0]` into a map for `a[0].b=..` even if it was a string or list)
/// or when the expression wrote nothing below it (`a[0]` alone makes `a: []`; `a[0].=1`
/// makes `a[0]: {}`). Null padding is not recorded. A pointer can go stale when a later
/// assignment replaces one of its ancestors (`a.b=1,a=2`), but that ancestor's pointer
/// then comes later in the list.
///
/// On error `target` may be partly changed, as in Helm.
pub fn parse_set_into(
    expr: &str,
    target: &mut Map<String, Value>,
    mode: SetMode,
) -> Result<Vec<String>, SetError> {
    let mut parser = Parser {
        src: expr,
        pos: 0,
        mode,
        path: Vec::new(),
        assigned: Vec::new(),
        depth: 0,
    };
    loop {
        match parser.key(target, 0) {
            Ok(()) => {}
            // Helm's parse loop stops quietly on io.EOF, even one wrapped in another error
            // (e.g. the "error parsing index: EOF" from a truncated `a[1`).
            Err(Fail::Eof) => return Ok(parser.assigned),
            Err(Fail::Hard(err)) => return Err(err),
            Err(Fail::Panic(p)) => return Err(parser.type_conflict(p)),
        }
    }
}

/// What went wrong inside the parser. Separates the cases Helm's control flow tells apart.
enum Fail {
    /// `io.EOF` (bare or wrapped): ends the whole parse without an error.
    Eof,
    /// A Go type-assertion panic. Helm's nearest `key` frame recovers it and skips its `set`.
    Panic(TypePanic),
    /// Any other error.
    Hard(SetError),
}

struct TypePanic {
    found: &'static str,
    expected: &'static str,
    offset: usize,
}

type Step = Result<(), Fail>;

/// Result of reading what follows `=` (Helm's `valList`, then `val` if it was not a list).
enum Parsed {
    List(Vec<Value>),
    Scalar(Value),
    /// Nothing at all after `=`.
    Eof,
}

const GO_LIST: &str = "[]interface {}";
const GO_MAP: &str = "map[string]interface {}";

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    mode: SetMode,
    /// Escaped JSON Pointer segments of the container currently being filled.
    path: Vec<String>,
    assigned: Vec<String>,
    depth: usize,
}

impl Parser<'_> {
    // ---- scanning -------------------------------------------------------------------------

    fn next_char(&mut self) -> Option<char> {
        let c = self.src.get(self.pos..)?.chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn unread(&mut self, c: char) {
        self.pos -= c.len_utf8();
    }

    /// Go's `runesUntil`: reads until one of `stop` (consumed and returned) or end of input
    /// (`None`). A backslash takes the next character literally; a lone trailing backslash
    /// is dropped and counts as end of input.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        loop {
            match self.next_char() {
                None => return (out, None),
                Some(c) if stop.contains(&c) => return (out, Some(c)),
                Some('\\') => match self.next_char() {
                    None => return (out, None),
                    Some(escaped) => out.push(escaped),
                },
                Some(c) => out.push(c),
            }
        }
    }

    // ---- bookkeeping ----------------------------------------------------------------------

    fn hard<T>(&self, make: impl FnOnce(String) -> SetError) -> Result<T, Fail> {
        Err(Fail::Hard(make(self.src.to_owned())))
    }

    fn type_conflict(&self, p: TypePanic) -> SetError {
        SetError::TypeConflict {
            found: p.found,
            expected: p.expected,
            expr: self.src.to_owned(),
            offset: p.offset,
        }
    }

    fn enter(&mut self) -> Step {
        if self.depth >= MAX_RECURSION_DEPTH {
            let offset = self.pos;
            return self.hard(|expr| SetError::RecursionLimit {
                limit: MAX_RECURSION_DEPTH,
                expr,
                offset,
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn pointer(&self, segment: &str) -> String {
        let mut pointer = String::new();
        for s in &self.path {
            pointer.push('/');
            pointer.push_str(s);
        }
        pointer.push('/');
        pointer.push_str(segment);
        pointer
    }

    fn record(&mut self, segment: &str) {
        let pointer = self.pointer(segment);
        self.assigned.push(pointer);
    }

    /// Records a container before the pointers already recorded below it.
    fn record_at(&mut self, mark: usize, segment: &str) {
        let pointer = self.pointer(segment);
        self.assigned.insert(mark, pointer);
    }

    fn typed(&self, raw: String) -> Value {
        match self.mode {
            SetMode::String => Value::String(raw),
            SetMode::Typed => typed_val(raw),
        }
    }

    // ---- grammar --------------------------------------------------------------------------

    /// Helm's `key`: parses one assignment below `data`. Recovers type panics like Helm's
    /// deferred `recover`, turning them into ordinary errors for the callers above.
    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Step {
        self.enter()?;
        let result = self.key_body(data, level);
        self.depth -= 1;
        match result {
            Err(Fail::Panic(p)) => Err(Fail::Hard(self.type_conflict(p))),
            other => other,
        }
    }

    fn key_body(&mut self, data: &mut Map<String, Value>, level: usize) -> Step {
        let start = self.pos;
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if k.is_empty() => Err(Fail::Eof),
            None => self.hard(|expr| SetError::NoValue {
                key: k,
                expr,
                offset: start,
            }),
            Some('[') => self.key_list(data, k, start, level),
            Some('=') => {
                let (value, eof) = match self.value()? {
                    Parsed::List(items) => (Value::Array(items), false),
                    // `a=` at the very end: empty string (even in typed mode), then EOF.
                    Parsed::Eof => (Value::String(String::new()), true),
                    Parsed::Scalar(v) => (v, false),
                };
                self.set(data, k, value);
                if eof {
                    Err(Fail::Eof)
                } else {
                    Ok(())
                }
            }
            Some(',') => {
                self.set(data, k.clone(), Value::String(String::new()));
                self.hard(|expr| SetError::NoValueTrailingComma {
                    key: k,
                    expr,
                    offset: start,
                })
            }
            // '.'
            Some(_) => self.key_map(data, k, start, level + 1),
        }
    }

    /// Helm's `set`: assignments to the empty key are silently dropped.
    fn set(&mut self, data: &mut Map<String, Value>, key: String, value: Value) {
        if key.is_empty() {
            return;
        }
        self.record(&crate::domain::yaml::escape_segment(&key));
        data.insert(key, value);
    }

    /// `k.` — descend into (or create) the map `data[k]`.
    fn key_map(
        &mut self,
        data: &mut Map<String, Value>,
        k: String,
        start: usize,
        level: usize,
    ) -> Step {
        if level > MAX_NESTED_NAME_LEVEL {
            return self.hard(|expr| SetError::NameNestedTooDeep {
                max: MAX_NESTED_NAME_LEVEL,
                expr,
                offset: start,
            });
        }
        let segment = crate::domain::yaml::escape_segment(&k);
        match data.get_mut(&k) {
            // Existing map (also under the empty key): Go shares it, so edits land in place.
            Some(Value::Object(inner)) => {
                self.path.push(segment);
                let result = self.key(inner, level);
                self.path.pop();
                if result.is_ok() && inner.is_empty() {
                    return self.hard(|expr| SetError::EmptyMap {
                        key: k,
                        expr,
                        offset: start,
                    });
                }
                result
            }
            // Existing null, scalar or list: Go's `data[k].(map[string]interface{})` panics.
            Some(other) => Err(Fail::Panic(TypePanic {
                found: go_type_name(other),
                expected: GO_MAP,
                offset: start,
            })),
            None => {
                let mark = self.assigned.len();
                let mut inner = Map::new();
                self.path.push(segment.clone());
                let result = self.key(&mut inner, level);
                self.path.pop();
                if result.is_ok() && inner.is_empty() {
                    return self.hard(|expr| SetError::EmptyMap {
                        key: k,
                        expr,
                        offset: start,
                    });
                }
                // Helm stores a new map whenever it is non-empty, even if parsing below failed.
                if inner.is_empty() || k.is_empty() {
                    self.assigned.truncate(mark);
                } else {
                    if self.assigned.len() == mark {
                        self.record(&segment);
                    }
                    data.insert(k, Value::Object(inner));
                }
                result
            }
        }
    }

    /// `k[` — parse the index, then the rest into (or as) the list `data[k]`.
    fn key_list(
        &mut self,
        data: &mut Map<String, Value>,
        k: String,
        start: usize,
        level: usize,
    ) -> Step {
        let index_start = self.pos;
        let index = self.key_index()?;
        let segment = crate::domain::yaml::escape_segment(&k);
        match data.get_mut(&k) {
            Some(Value::Array(list)) => {
                // Helm never stores under the empty key, but a shared Go slice is still edited
                // in place as long as no element has to be appended.
                let in_place = !k.is_empty() || in_bounds(list, index);
                let mark = self.assigned.len();
                let mut scratch;
                let target = if in_place {
                    list
                } else {
                    scratch = list.clone();
                    &mut scratch
                };
                self.path.push(segment);
                let result = self.list_item(target, index, index_start, level);
                self.path.pop();
                if !in_place {
                    self.assigned.truncate(mark);
                }
                result
            }
            Some(other) => Err(Fail::Panic(TypePanic {
                found: go_type_name(other),
                expected: GO_LIST,
                offset: start,
            })),
            None => {
                let mark = self.assigned.len();
                let mut list = Vec::new();
                self.path.push(segment.clone());
                let result = self.list_item(&mut list, index, index_start, level);
                self.path.pop();
                // Helm stores the (possibly still empty) list even after most errors, but not
                // after a recovered panic, and never under the empty key.
                if matches!(result, Err(Fail::Panic(_))) || k.is_empty() {
                    self.assigned.truncate(mark);
                } else {
                    if self.assigned.len() == mark {
                        self.record(&segment);
                    }
                    data.insert(k, Value::Array(list));
                }
                result
            }
        }
    }

    /// Helm's `keyIndex`: reads up to `]` and converts with Go's `strconv.Atoi`.
    fn key_index(&mut self) -> Result<i64, Fail> {
        let start = self.pos;
        let (raw, last) = self.until(&[']']);
        if last.is_none() {
            // "error parsing index: EOF" wraps io.EOF, so Helm treats it as a clean end.
            return Err(Fail::Eof);
        }
        match go_parse_int(&raw) {
            Ok(i) => Ok(i),
            Err(kind) => self.hard(|expr| SetError::InvalidIndex {
                index: raw,
                kind,
                expr,
                offset: start,
            }),
        }
    }

    /// Helm's `listItem`: whatever follows `[index]`. Edits `list` in place the way Go's
    /// shared slices end up being edited.
    fn list_item(
        &mut self,
        list: &mut Vec<Value>,
        index: i64,
        index_start: usize,
        level: usize,
    ) -> Step {
        self.enter()?;
        let result = self.list_item_body(list, index, index_start, level);
        self.depth -= 1;
        result
    }

    fn list_item_body(
        &mut self,
        list: &mut Vec<Value>,
        index: i64,
        index_start: usize,
        level: usize,
    ) -> Step {
        if index < 0 {
            return self.hard(|expr| SetError::NegativeIndex {
                index,
                expr,
                offset: index_start,
            });
        }
        let data_start = self.pos;
        let (junk, last) = self.until(&['[', '.', '=']);
        if !junk.is_empty() {
            return self.hard(|expr| SetError::UnexpectedDataAfterIndex {
                data: junk,
                expr,
                offset: data_start,
            });
        }
        let segment = index.to_string();
        match last {
            None => Err(Fail::Eof),
            Some('=') => {
                let value = match self.value()? {
                    Parsed::List(items) => Value::Array(items),
                    // Unlike `a=`, `a[0]=` at the end does not report EOF upward.
                    Parsed::Eof => Value::String(String::new()),
                    Parsed::Scalar(v) => v,
                };
                self.set_index(list, index, index_start, value)?;
                self.record(&segment);
                Ok(())
            }
            Some('[') => {
                let next_start = self.pos;
                let next = self.key_index()?;
                match slot(list, index) {
                    Some(Value::Array(inner)) => {
                        self.path.push(segment);
                        let result = self.list_item(inner, next, next_start, level);
                        self.path.pop();
                        result?;
                        // Go re-stores the inner list with setIndex, which checks the limit.
                        check_max_index(index).map_err(|()| self.too_large(index, index_start))
                    }
                    Some(Value::Null) | None => {
                        let replaces_null = in_bounds(list, index);
                        let mark = self.assigned.len();
                        let mut inner = Vec::new();
                        self.path.push(segment.clone());
                        let result = self.list_item(&mut inner, next, next_start, level);
                        self.path.pop();
                        if let Err(fail) = result {
                            self.assigned.truncate(mark);
                            return Err(fail);
                        }
                        let record = replaces_null || self.assigned.len() == mark;
                        self.set_index(list, index, index_start, Value::Array(inner))
                            .inspect_err(|_| self.assigned.truncate(mark))?;
                        if record {
                            self.record_at(mark, &segment);
                        }
                        Ok(())
                    }
                    Some(other) => Err(Fail::Panic(TypePanic {
                        found: go_type_name(other),
                        expected: GO_LIST,
                        offset: index_start,
                    })),
                }
            }
            // '.'
            Some(_) => match slot(list, index) {
                Some(existing) => {
                    // Helm silently replaces a non-map element with an empty map, in place
                    // ("indices out of order"), where `a=1,a.b=2` would be a type error.
                    if !existing.is_object() {
                        *existing = Value::Object(Map::new());
                        self.record(&segment);
                    }
                    let result = match existing {
                        Value::Object(inner) => {
                            self.path.push(segment.clone());
                            let result = self.key(inner, level);
                            self.path.pop();
                            result
                        }
                        _ => Ok(()),
                    };
                    result?;
                    check_max_index(index).map_err(|()| self.too_large(index, index_start))
                }
                None => {
                    let mark = self.assigned.len();
                    let mut inner = Map::new();
                    self.path.push(segment.clone());
                    let result = self.key(&mut inner, level);
                    self.path.pop();
                    // An error below (even the harmless EOF of `a[0].b=`) drops the new map.
                    if let Err(fail) = result {
                        self.assigned.truncate(mark);
                        return Err(fail);
                    }
                    let empty = self.assigned.len() == mark;
                    self.set_index(list, index, index_start, Value::Object(inner))
                        .inspect_err(|_| self.assigned.truncate(mark))?;
                    if empty {
                        self.record_at(mark, &segment);
                    }
                    Ok(())
                }
            },
        }
    }

    /// Helm's `setIndex`: pads with nulls as needed, bounded by [`MAX_INDEX`].
    fn set_index(
        &self,
        list: &mut Vec<Value>,
        index: i64,
        index_start: usize,
        value: Value,
    ) -> Step {
        check_max_index(index).map_err(|()| self.too_large(index, index_start))?;
        let Ok(i) = usize::try_from(index) else {
            return self.hard(|expr| SetError::NegativeIndex {
                index,
                expr,
                offset: index_start,
            });
        };
        if list.len() <= i {
            list.resize(i + 1, Value::Null);
        }
        if let Some(slot) = list.get_mut(i) {
            *slot = value;
        }
        Ok(())
    }

    fn too_large(&self, index: i64, offset: usize) -> Fail {
        Fail::Hard(SetError::IndexTooLarge {
            index,
            max: MAX_INDEX,
            expr: self.src.to_owned(),
            offset,
        })
    }

    /// Helm's `valList` followed, if the value is not a `{...}` list, by `val`.
    fn value(&mut self) -> Result<Parsed, Fail> {
        let open = self.pos;
        match self.next_char() {
            None => return Ok(Parsed::Eof),
            Some('{') => {}
            Some(c) => {
                self.unread(c);
                let (raw, _) = self.until(&[',']);
                return Ok(Parsed::Scalar(self.typed(raw)));
            }
        }
        let mut items = Vec::new();
        loop {
            let (raw, last) = self.until(&[',', '}']);
            match last {
                None => {
                    return self.hard(|expr| SetError::UnterminatedList { expr, offset: open });
                }
                Some('}') => {
                    // A `,` right after `}` is consumed; anything else starts the next key.
                    if let Some(c) = self.next_char() {
                        if c != ',' {
                            self.unread(c);
                        }
                    }
                    items.push(self.typed(raw));
                    return Ok(Parsed::List(items));
                }
                Some(_) => items.push(self.typed(raw)),
            }
        }
    }
}

fn slot(list: &mut [Value], index: i64) -> Option<&mut Value> {
    usize::try_from(index).ok().and_then(|i| list.get_mut(i))
}

fn in_bounds(list: &[Value], index: i64) -> bool {
    usize::try_from(index).is_ok_and(|i| i < list.len())
}

fn check_max_index(index: i64) -> Result<(), ()> {
    if index > MAX_INDEX {
        Err(())
    } else {
        Ok(())
    }
}

/// Helm's `typedVal` for `--set`.
fn typed_val(raw: String) -> Value {
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
fn go_equal_fold(s: &str, word: &str) -> bool {
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
fn go_parse_int(s: &str) -> Result<i64, IndexErrorKind> {
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
fn go_type_name(v: &Value) -> &'static str {
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
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_go_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` for a `[]rune`: `['a' 'b']`.
fn go_quote_runes(s: &str) -> String {
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

fn push_go_escaped(out: &mut String, c: char, quote: char) {
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
fn go_is_print(c: char) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Where an expected result comes from.
    #[derive(Clone, Copy, Debug)]
    enum Source {
        /// Output compared with the real Helm engine (Helm v4.2.3 via helm_python,
        /// `parse_set_string` / `parse_set_string_values` on a fresh map).
        Engine,
        /// Worked out from reading pkg/strvals/parser.go (e.g. `ParseInto` onto values that
        /// `--set` itself can't produce). JSON Pointers are never checked by the engine,
        /// which doesn't report them.
        GoSource,
    }
    use Source::{Engine, GoSource};

    enum Expect {
        /// Resulting map and the pointers returned.
        Ok(Value, &'static [&'static str]),
        /// Helm's message and our byte offset.
        Err(&'static str, usize),
    }

    struct Case {
        name: &'static str,
        source: Source,
        mode: SetMode,
        /// Map to parse into; `None` means empty.
        initial: Option<Value>,
        expr: &'static str,
        expect: Expect,
    }

    const T: SetMode = SetMode::Typed;
    const S: SetMode = SetMode::String;

    fn ok(v: Value, ptrs: &'static [&'static str]) -> Expect {
        Expect::Ok(v, ptrs)
    }

    fn err(msg: &'static str, offset: usize) -> Expect {
        Expect::Err(msg, offset)
    }

    fn case(name: &'static str, source: Source, expr: &'static str, expect: Expect) -> Case {
        Case {
            name,
            source,
            mode: T,
            initial: None,
            expr,
            expect,
        }
    }

    fn string_case(name: &'static str, expr: &'static str, expect: Expect) -> Case {
        Case {
            mode: S,
            ..case(name, Engine, expr, expect)
        }
    }

    fn into_case(name: &'static str, initial: Value, expr: &'static str, expect: Expect) -> Case {
        Case {
            initial: Some(initial),
            ..case(name, GoSource, expr, expect)
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            // --- keys -------------------------------------------------------------------
            case("dotted_key_nests_maps", Engine, "a.b=1,c={x,y}",
                ok(json!({"a": {"b": 1}, "c": ["x", "y"]}), &["/a/b", "/c"])),
            case("escaped_dot_stays_in_key", Engine, r"a\.b=1",
                ok(json!({"a.b": 1}), &["/a.b"])),
            case("escaped_bracket_stays_in_key", Engine, r"a\[0]=1",
                ok(json!({"a[0]": 1}), &["/a[0]"])),
            case("spaces_are_kept_in_keys_and_values", Engine, " a = 1 ",
                ok(json!({" a ": " 1 "}), &["/ a "])),
            case("later_assignment_overwrites_earlier", Engine, "a=1,a=2",
                ok(json!({"a": 2}), &["/a", "/a"])),
            case("sibling_keys_merge_into_one_map", Engine, "a.b.c={1},a.b.d=true",
                ok(json!({"a": {"b": {"c": [1], "d": true}}}), &["/a/b/c", "/a/b/d"])),
            case("thirty_dots_are_allowed", Engine,
                "n1.n2.n3.n4.n5.n6.n7.n8.n9.n10.n11.n12.n13.n14.n15.n16.n17.n18.n19.n20.n21.n22.n23.n24.n25.n26.n27.n28.n29.n30.n31=v",
                ok(json!({"n1": {"n2": {"n3": {"n4": {"n5": {"n6": {"n7": {"n8": {"n9": {"n10":
                    {"n11": {"n12": {"n13": {"n14": {"n15": {"n16": {"n17": {"n18": {"n19": {"n20":
                    {"n21": {"n22": {"n23": {"n24": {"n25": {"n26": {"n27": {"n28": {"n29": {"n30":
                    {"n31": "v"}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}),
                   &["/n1/n2/n3/n4/n5/n6/n7/n8/n9/n10/n11/n12/n13/n14/n15/n16/n17/n18/n19/n20/n21/n22/n23/n24/n25/n26/n27/n28/n29/n30/n31"])),
            case("thirty_one_dots_are_rejected", Engine,
                "n1.n2.n3.n4.n5.n6.n7.n8.n9.n10.n11.n12.n13.n14.n15.n16.n17.n18.n19.n20.n21.n22.n23.n24.n25.n26.n27.n28.n29.n30.n31.n32=v",
                err("value name nested level is greater than maximum supported nested level of 30", 111)),
            case("empty_key_assignment_is_dropped", Engine, "=1", ok(json!({}), &[])),
            case("leading_dot_assignment_is_dropped", Engine, "a=x,.b=1,c=2",
                ok(json!({"a": "x", "c": 2}), &["/a", "/c"])),
            case("empty_key_list_assignment_is_dropped", Engine, "[0]=1", ok(json!({}), &[])),
            case("empty_input_sets_nothing", Engine, "", ok(json!({}), &[])),
            case("trailing_dot_sets_nothing_without_error", Engine, "a.", ok(json!({}), &[])),
            // --- values -----------------------------------------------------------------
            case("value_may_contain_equals", Engine, "a=b=c", ok(json!({"a": "b=c"}), &["/a"])),
            case("escaped_comma_and_backslash_in_value", Engine, r"a=x\,y,b=x\\y",
                ok(json!({"a": "x,y", "b": r"x\y"}), &["/a", "/b"])),
            case("braces_inside_a_value_are_literal", Engine, "a=x{y}",
                ok(json!({"a": "x{y}"}), &["/a"])),
            case("escaped_brace_is_not_a_list", Engine, r"a=\{x}",
                ok(json!({"a": "{x}"}), &["/a"])),
            case("trailing_backslash_in_value_is_dropped", Engine, r"a=b\",
                ok(json!({"a": "b"}), &["/a"])),
            case("empty_value_at_end_is_empty_string", Engine, "a=", ok(json!({"a": ""}), &["/a"])),
            case("empty_value_before_comma_is_empty_string", Engine, "a=,b=1",
                ok(json!({"a": "", "b": 1}), &["/a", "/b"])),
            case("nested_empty_value_is_empty_string", Engine, "a.b=",
                ok(json!({"a": {"b": ""}}), &["/a/b"])),
            case("trailing_comma_is_ignored", Engine, "a=1,", ok(json!({"a": 1}), &["/a"])),
            // --- typing -----------------------------------------------------------------
            case("bools_and_null_are_case_insensitive", Engine, "a=TRUE,b=NuLL,c=False",
                ok(json!({"a": true, "b": null, "c": false}), &["/a", "/b", "/c"])),
            case("long_s_folds_to_s_in_false", Engine, "a=fal\u{17F}e",
                ok(json!({"a": false}), &["/a"])),
            case("escaped_literal_is_still_typed", Engine, r"a=\true", ok(json!({"a": true}), &["/a"])),
            case("integer_typing_rules", Engine,
                "a=0123,b=-05,c=+5,d=-0,e=+0,f=1.5,g=1e3,h=9223372036854775807,i=9223372036854775808,j=0",
                ok(json!({"a": "0123", "b": -5, "c": 5, "d": 0, "e": 0, "f": "1.5", "g": "1e3",
                          "h": 9_223_372_036_854_775_807i64, "i": "9223372036854775808", "j": 0}),
                   &["/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i", "/j"])),
            case("non_decimal_ints_stay_strings", Engine,
                "a=-9223372036854775808,b=-9223372036854775809,c=0x10,d=1_000,e=00,f= 1",
                ok(json!({"a": i64::MIN, "b": "-9223372036854775809", "c": "0x10", "d": "1_000",
                          "e": "00", "f": " 1"}),
                   &["/a", "/b", "/c", "/d", "/e", "/f"])),
            case("fullwidth_digits_stay_strings", Engine, "a=\u{FF11}\u{FF12}",
                ok(json!({"a": "\u{FF11}\u{FF12}"}), &["/a"])),
            case("list_items_are_typed", Engine, "a={true,null,0,007,-1}",
                ok(json!({"a": [true, null, 0, "007", -1]}), &["/a"])),
            string_case("set_string_keeps_everything_a_string",
                "a=1,b=true,c=null,d={1,2},e=",
                ok(json!({"a": "1", "b": "true", "c": "null", "d": ["1", "2"], "e": ""}),
                   &["/a", "/b", "/c", "/d", "/e"])),
            string_case("set_string_keeps_leading_zeros_in_index_assignments", "a[1]=007",
                ok(json!({"a": [null, "007"]}), &["/a/1"])),
            // --- {lists} ----------------------------------------------------------------
            case("empty_braces_are_a_list_of_one_empty_string", Engine, "a={}",
                ok(json!({"a": [""]}), &["/a"])),
            case("list_items_are_not_trimmed", Engine, "a={1, 2}",
                ok(json!({"a": [1, " 2"]}), &["/a"])),
            case("escaped_comma_inside_list_item", Engine, r"a={x\,y}",
                ok(json!({"a": ["x,y"]}), &["/a"])),
            case("runes_after_list_start_a_top_level_key", Engine, "a={x,y}b=1",
                ok(json!({"a": ["x", "y"], "b": 1}), &["/a", "/b"])),
            case("dotted_runes_after_list_are_dropped", Engine, "a={x}.b=1",
                ok(json!({"a": ["x"]}), &["/a"])),
            case("runes_after_list_without_value_fail", Engine, "a={x}z",
                err("key \"z\" has no value", 5)),
            case("lists_do_not_nest", Engine, "a={a,{b}}", err("key \"}\" has no value", 8)),
            case("unterminated_list_fails", Engine, "a={x,y",
                err("list must terminate with '}'", 2)),
            case("braced_list_replaces_indexed_list", Engine, "a[3]=z,a={q}",
                ok(json!({"a": ["q"]}), &["/a/3", "/a"])),
            // --- [indices] --------------------------------------------------------------
            case("index_pads_with_nulls", Engine, "a[2]=x",
                ok(json!({"a": [null, null, "x"]}), &["/a/2"])),
            case("indices_fill_an_existing_list", Engine, "a[0]=x,a[3]=y,a[1]=z",
                ok(json!({"a": ["x", "z", null, "y"]}), &["/a/0", "/a/3", "/a/1"])),
            case("index_extends_a_braced_list", Engine, "a={x,y},a[3]=z",
                ok(json!({"a": ["x", "y", null, "z"]}), &["/a", "/a/3"])),
            case("nested_map_in_list", Engine, "a[0].b=1,a[0].c=2",
                ok(json!({"a": [{"b": 1, "c": 2}]}), &["/a/0/b", "/a/0/c"])),
            case("list_inside_map_inside_list", Engine, "a[0].b.c=1",
                ok(json!({"a": [{"b": {"c": 1}}]}), &["/a/0/b/c"])),
            case("nested_lists_pad_independently", Engine, "a[0]={1,2},a[0][5]=3",
                ok(json!({"a": [[1, 2, null, null, null, 3]]}), &["/a/0", "/a/0/5"])),
            case("null_element_becomes_nested_list", Engine, "a[1]=null,a[1][0]=x",
                ok(json!({"a": [null, ["x"]]}), &["/a/1", "/a/1", "/a/1/0"])),
            case("index_with_sign_and_leading_zeros", Engine, "a[+1]=1,b[01]=2,c[-0]=3",
                ok(json!({"a": [null, 1], "b": [null, 2], "c": [3]}), &["/a/1", "/b/1", "/c/0"])),
            case("max_index_is_allowed", Engine, "a[65536]=1", Expect::Ok(Value::Null, &["/a/65536"])),
            case("index_above_max_is_rejected", Engine, "a[0]=1,a[70000]=2",
                err("index of 70000 is greater than maximum supported index of 65536", 9)),
            case("index_limit_checked_after_parsing_the_rest", Engine, "a[70000].b",
                err("key \"b\" has no value", 9)),
            case("negative_index_is_rejected", Engine, "a[-1]=1",
                err("negative -1 index not allowed", 2)),
            case("non_numeric_index_is_rejected", Engine, "a[x]=1",
                err("error parsing index: strconv.Atoi: parsing \"x\": invalid syntax", 2)),
            case("empty_index_is_rejected", Engine, "a[]=1",
                err("error parsing index: strconv.Atoi: parsing \"\": invalid syntax", 2)),
            case("spaced_index_is_rejected", Engine, "a[ 1]=1",
                err("error parsing index: strconv.Atoi: parsing \" 1\": invalid syntax", 2)),
            case("huge_index_is_out_of_range", Engine, "a[99999999999999999999]=1",
                err("error parsing index: strconv.Atoi: parsing \"99999999999999999999\": value out of range", 2)),
            case("index_quoting_follows_go", Engine, "a[\u{e9}\"]=1",
                err("error parsing index: strconv.Atoi: parsing \"\u{e9}\\\"\": invalid syntax", 2)),
            case("data_after_index_is_rejected_as_runes", Engine, "a[0]\u{e9}'=1",
                err("unexpected data at end of array index: ['\u{e9}' '\\'']", 4)),
            case("comma_after_bare_index_is_unexpected_data", Engine, "a[0],b=1",
                err("unexpected data at end of array index: [',' 'b']", 4)),
            case("bare_index_at_end_makes_empty_list", Engine, "a[0]",
                ok(json!({"a": []}), &["/a"])),
            case("bare_index_above_max_is_not_checked", Engine, "a[70000]",
                ok(json!({"a": []}), &["/a"])),
            case("index_empty_value_is_empty_string", Engine, "a[0][0]=",
                ok(json!({"a": [[""]]}), &["/a/0/0"])),
            case("truncated_index_sets_nothing", Engine, "a[1", ok(json!({}), &[])),
            case("truncated_nested_index_leaves_empty_list", Engine, "a[0][1",
                ok(json!({"a": []}), &["/a"])),
            case("truncated_index_below_map_sets_nothing", Engine, "a.b[1", ok(json!({}), &[])),
            case("empty_value_below_new_list_element_is_dropped", Engine, "a[0].b=",
                ok(json!({"a": []}), &["/a"])),
            case("empty_key_below_list_element_leaves_empty_map", Engine, "x[0].=1,y=2",
                ok(json!({"x": [{}], "y": 2}), &["/x/0", "/y"])),
            case("double_dot_below_list_element_leaves_empty_map", Engine, "a[0]..b=1",
                ok(json!({"a": [{}]}), &["/a/0"])),
            case("scalar_element_is_replaced_by_map", Engine, "a[0]=1,a[0].b=2",
                ok(json!({"a": [{"b": 2}]}), &["/a/0", "/a/0", "/a/0/b"])),
            case("braced_list_element_is_replaced_by_map", Engine, "a={1,2},a[0].x=3",
                ok(json!({"a": [{"x": 3}, 2]}), &["/a", "/a/0", "/a/0/x"])),
            // --- malformed input ----------------------------------------------------------
            case("key_without_value_fails", Engine, "a", err("key \"a\" has no value", 0)),
            case("nested_key_without_value_fails", Engine, "a.b=1,a.c",
                err("key \"c\" has no value", 8)),
            case("key_quoting_follows_go", Engine, "a\"b", err("key \"a\\\"b\" has no value", 0)),
            case("key_before_comma_fails", Engine, "a,b=1",
                err("key \"a\" has no value (cannot end with ,)", 0)),
            case("double_comma_fails", Engine, "a=1,,b=2",
                err("key \"\" has no value (cannot end with ,)", 4)),
            case("empty_map_key_fails", Engine, "a.=1", err("key map \"a\" has no value", 0)),
            case("double_dot_fails", Engine, "a..b=1", err("key map \"a\" has no value", 0)),
            case("index_right_after_dot_fails", Engine, "a.[0]=1", err("key map \"a\" has no value", 0)),
            case("null_cannot_become_a_map", Engine, "a=null,a.b=1",
                err("unable to parse key: interface conversion: interface {} is nil, not map[string]interface {}", 7)),
            case("int_cannot_become_a_map", Engine, "a=1,a.b=2",
                err("unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}", 4)),
            case("map_cannot_become_a_list", Engine, "a.b=1,a[0]=2",
                err("unable to parse key: interface conversion: interface {} is map[string]interface {}, not []interface {}", 6)),
            case("int_element_cannot_become_a_list", Engine, "a[0]=1,a[0][0]=2",
                err("unable to parse key: interface conversion: interface {} is int64, not []interface {}", 9)),
            case("list_cannot_become_a_map", Engine, "]={}].",
                err("unable to parse key: interface conversion: interface {} is []interface {}, not map[string]interface {}", 4)),
            // --- ParseInto onto existing values (from reading the Go source) -----------
            into_case("into_overwrites_and_keeps_siblings",
                json!({"outer": {"inner1": "overwrite", "inner2": "value2"}}),
                "outer.inner1=value1,outer.inner3=value3,outer.inner4=4",
                ok(json!({"outer": {"inner1": "value1", "inner2": "value2", "inner3": "value3", "inner4": 4}}),
                   &["/outer/inner1", "/outer/inner3", "/outer/inner4"])),
            into_case("into_sets_index_on_short_list", json!({"list": ["a"]}), "list[2]=c",
                ok(json!({"list": ["a", null, "c"]}), &["/list/2"])),
            into_case("into_replaces_existing_element", json!({"list": ["a", "b", "c"]}), "list[1]=x",
                ok(json!({"list": ["a", "x", "c"]}), &["/list/1"])),
            into_case("into_merges_into_existing_list_element_map",
                json!({"l": [[[{"exited": "old"}]]]}), "l[0][0][1].status=alive",
                ok(json!({"l": [[[{"exited": "old"}, {"status": "alive"}]]]}), &["/l/0/0/1/status"])),
            into_case("into_float_cannot_become_a_map", json!({"a": 1.5}), "a.b=1",
                err("unable to parse key: interface conversion: interface {} is float64, not map[string]interface {}", 0)),
            into_case("into_string_element_replaced_even_if_inner_value_is_empty",
                json!({"a": ["x"]}), "a[0].b=",
                ok(json!({"a": [{"b": ""}]}), &["/a/0", "/a/0/b"])),
            into_case("into_existing_empty_key_map_is_edited_in_place",
                json!({"": {"x": 1}}), ".y=2",
                ok(json!({"": {"x": 1, "y": 2}}), &["//y"])),
            into_case("into_pointer_segments_are_escaped", json!({}), "a/b.c~d=1",
                ok(json!({"a/b": {"c~d": 1}}), &["/a~1b/c~0d"])),
            Case {
                mode: S,
                ..into_case("into_string_mode_keeps_strings",
                    json!({"outer": {"inner1": "overwrite", "inner2": "value2"}}),
                    "outer.inner1=1,outer.inner3=3",
                    ok(json!({"outer": {"inner1": "1", "inner2": "value2", "inner3": "3"}}),
                       &["/outer/inner1", "/outer/inner3"]))
            },
        ]
    }

    #[test]
    fn table() {
        let cases = cases();
        assert!(cases.len() >= 40);
        let mut failures = Vec::new();
        for c in &cases {
            let mut target = match &c.initial {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let got = parse_set_into(c.expr, &mut target, c.mode);
            let problem = match (&c.expect, got) {
                (Expect::Ok(want, ptrs), Ok(got_ptrs)) => {
                    let got_value = Value::Object(target);
                    // A `null` expectation means "checked by a dedicated test" (huge outputs).
                    if (!want.is_null() && *want != got_value) || got_ptrs != *ptrs {
                        Some(format!("got {got_value} with pointers {got_ptrs:?}"))
                    } else {
                        None
                    }
                }
                (Expect::Err(msg, offset), Err(e)) => {
                    if e.helm_message() != *msg || e.offset() != *offset || e.expr() != c.expr {
                        Some(format!(
                            "got error {:?} at {}",
                            e.helm_message(),
                            e.offset()
                        ))
                    } else {
                        None
                    }
                }
                (Expect::Ok(..), Err(e)) => Some(format!("unexpected error: {e}")),
                (Expect::Err(..), Ok(p)) => Some(format!(
                    "expected error, got {} {p:?}",
                    Value::Object(target)
                )),
            };
            if let Some(p) = problem {
                failures.push(format!("{} ({:?}, {:?}): {p}", c.name, c.source, c.expr));
            }
        }
        assert!(
            failures.is_empty(),
            "failing cases:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn case_names_are_unique() {
        let cases = cases();
        let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len());
    }

    #[test]
    fn max_index_pads_to_65537_elements() {
        let mut m = Map::new();
        parse_set_into("a[65536]=1", &mut m, T).expect("max index is valid");
        let list = m["a"].as_array().expect("a list");
        assert_eq!(list.len(), 65_537);
        assert!(list[..65_536].iter().all(Value::is_null));
        assert_eq!(list[65_536], json!(1));
    }

    #[test]
    fn error_display_has_helm_message_offset_and_expression() {
        let mut m = Map::new();
        let e = parse_set_into("x=1,a", &mut m, T).expect_err("no value");
        assert_eq!(
            e.to_string(),
            "key \"a\" has no value (at byte 4 of \"x=1,a\")"
        );
        assert!(matches!(e, SetError::NoValue { ref key, .. } if key == "a"));
    }

    #[test]
    fn error_leaves_partial_changes_like_helm() {
        let mut m = Map::new();
        // Helm sets `a.b` to "" before reporting the dangling comma.
        let e = parse_set_into("x=1,a.b,c=2", &mut m, T).expect_err("dangling key");
        assert_eq!(
            e.helm_message(),
            "key \"b\" has no value (cannot end with ,)"
        );
        assert_eq!(e.offset(), 6);
        assert_eq!(Value::Object(m), json!({"x": 1, "a": {"b": ""}}));
    }

    #[test]
    fn preserves_insertion_order() {
        let mut m = Map::new();
        parse_set_into("z=1,a=2,m.y=3,m.b=4", &mut m, T).expect("valid");
        let keys: Vec<_> = m.keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        let inner: Vec<_> = m["m"].as_object().expect("map").keys().cloned().collect();
        assert_eq!(inner, ["y", "b"]);
    }

    #[test]
    fn deep_list_nesting_hits_helmdeck_limit_instead_of_overflowing() {
        let deep = format!("a{}=1", "[0]".repeat(100_000));
        let mut m = Map::new();
        let e = parse_set_into(&deep, &mut m, T).expect_err("too deep");
        assert!(matches!(e, SetError::RecursionLimit { .. }), "{e}");
        // Within the limit it still works, with no map-level limit on `[0].b` chains.
        let ok = format!("a{}=1", "[0].b".repeat(40));
        let mut m = Map::new();
        assert_eq!(parse_set_into(&ok, &mut m, T).map(|p| p.len()), Ok(1));
    }

    #[test]
    fn recursion_limit_fits_in_a_one_mib_stack() {
        let run = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let deep = format!("a{}=1", "[0].b".repeat(1000));
                let mut m = Map::new();
                parse_set_into(&deep, &mut m, T).map_err(|e| e.offset())
            })
            .expect("spawn");
        let result = run.join().expect("no stack overflow");
        assert!(result.is_err());
    }

    #[test]
    fn typed_val_matches_helm() {
        let cases = [
            ("true", json!(true)),
            ("tRuE", json!(true)),
            ("null", json!(null)),
            ("0", json!(0)),
            ("-0", json!(0)),
            ("00", json!("00")),
            ("", json!("")),
            ("+", json!("+")),
            ("-", json!("-")),
            ("1.0", json!("1.0")),
            ("12", json!(12)),
            ("truee", json!("truee")),
            ("\u{212A}", json!("\u{212A}")),
        ];
        for (raw, want) in cases {
            assert_eq!(typed_val(raw.to_string()), want, "{raw:?}");
        }
    }

    #[test]
    fn atoi_error_kinds_match_go_order() {
        assert_eq!(go_parse_int("12"), Ok(12));
        assert_eq!(go_parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            go_parse_int("9223372036854775808"),
            Err(IndexErrorKind::OutOfRange)
        );
        // Fits in u64, so Go reaches the bad digit before noticing the int64 overflow.
        assert_eq!(
            go_parse_int("10000000000000000000x"),
            Err(IndexErrorKind::InvalidSyntax)
        );
        // Overflows u64 first.
        assert_eq!(
            go_parse_int("99999999999999999999x"),
            Err(IndexErrorKind::OutOfRange)
        );
        assert_eq!(go_parse_int("+"), Err(IndexErrorKind::InvalidSyntax));
        assert_eq!(go_parse_int("1_0"), Err(IndexErrorKind::InvalidSyntax));
    }

    #[test]
    fn go_quoting_escapes_like_strconv() {
        assert_eq!(
            go_quote("a\"b\\c\n\u{1}\u{a0}é"),
            "\"a\\\"b\\\\c\\n\\x01\\u00a0é\""
        );
        assert_eq!(go_quote_runes("x'\""), "['x' '\\'' '\"']");
    }
}
