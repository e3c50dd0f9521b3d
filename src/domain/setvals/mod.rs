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

mod error;
mod go;

pub use error::{IndexErrorKind, SetError};
use go::{go_parse_int, go_type_name, typed_val};
use serde_json::{Map, Value};

/// Largest list index Helm accepts (`strvals.MaxIndex`). Index 65536 itself is allowed.
pub const MAX_INDEX: i64 = 65_536;

/// Most `.`-separated map levels Helm accepts in one key (`strvals.MaxNestedNameLevel`).
/// Dots after a list index (`a[0].b`) don't count toward this limit, as in Helm.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Most nested key/index levels helmdeck will recurse through (Helm has no limit here).
/// Each `.key` and each `[i]` is one level. 128 levels need well under 1 MiB of stack
/// even in debug builds.
pub const MAX_RECURSION_DEPTH: usize = 128;

/// Reads the file a `--set-file` value names: its text, or why it cannot be read (Go's
/// `os.ReadFile` message, e.g. `open x: no such file or directory`).
pub type FileReader<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// How values are read, one mode per Helm flag.
#[derive(Clone, Copy, Default)]
pub enum SetMode<'a> {
    /// `--set`: booleans, null and int64 are recognised (Helm's `typedVal`).
    #[default]
    Typed,
    /// `--set-string`: every value stays a string.
    String,
    /// `--set-json`: every value is one JSON document (`strvals.ParseJSON`); an empty value
    /// is null.
    Json,
    /// `--set-file`: every value (or `{a,b}` item) names a file whose text is the value.
    File(FileReader<'a>),
    /// `--set-literal`: one assignment whose value is the rest of the expression, verbatim
    /// (`strvals.ParseLiteral`: no escapes, no lists, commas included).
    Literal,
}

impl std::fmt::Debug for SetMode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetMode::Typed => "Typed",
            SetMode::String => "String",
            SetMode::Json => "Json",
            SetMode::File(_) => "File",
            SetMode::Literal => "Literal",
        })
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
    mode: SetMode<'_>,
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
    mode: SetMode<'a>,
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
        let literal = matches!(self.mode, SetMode::Literal);
        let mut out = String::new();
        loop {
            match self.next_char() {
                None => return (out, None),
                Some(c) if stop.contains(&c) => return (out, Some(c)),
                Some('\\') if !literal => match self.next_char() {
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

    /// The value of one raw item: Helm's `t.reader` for this mode.
    fn typed(&self, raw: String, offset: usize) -> Result<Value, Fail> {
        match self.mode {
            SetMode::Typed => Ok(typed_val(raw)),
            SetMode::File(read) => read(&raw).map(Value::String).or_else(|message| {
                self.hard(|expr| SetError::File {
                    path: raw,
                    message,
                    expr,
                    offset,
                })
            }),
            SetMode::String | SetMode::Json | SetMode::Literal => Ok(Value::String(raw)),
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
        // A literal key runs up to `=`, `[` or `.`: a comma is part of it.
        let stops: &[char] = if matches!(self.mode, SetMode::Literal) {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let (k, last) = self.until(stops);
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

    /// Helm's `valList` followed, if the value is not a `{...}` list, by `val`; for
    /// `--set-json` one JSON document, for `--set-literal` the rest of the input.
    fn value(&mut self) -> Result<Parsed, Fail> {
        match self.mode {
            SetMode::Json => return self.json_value(),
            SetMode::Literal => {
                let rest = self.src.get(self.pos..).unwrap_or("").to_string();
                self.pos = self.src.len();
                return Ok(Parsed::Scalar(Value::String(rest)));
            }
            _ => {}
        }
        let open = self.pos;
        match self.next_char() {
            None => return Ok(Parsed::Eof),
            Some('{') => {}
            Some(c) => {
                self.unread(c);
                let (raw, _) = self.until(&[',']);
                return Ok(Parsed::Scalar(self.typed(raw, open)?));
            }
        }
        let mut items = Vec::new();
        loop {
            let item = self.pos;
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
                    items.push(self.typed(raw, item)?);
                    return Ok(Parsed::List(items));
                }
                Some(_) => items.push(self.typed(raw, item)?),
            }
        }
    }

    /// Helm's `emptyVal`: skips white space; true (and consumed) at a `,` or the end.
    fn empty_value(&mut self) -> bool {
        loop {
            match self.next_char() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(c) => {
                    self.unread(c);
                    return false;
                }
            }
        }
    }

    /// One JSON document (Go's `json.Decoder.Decode` on the rest of the input), then an
    /// optional `,`. An empty value is null.
    fn json_value(&mut self) -> Result<Parsed, Fail> {
        if self.empty_value() {
            return Ok(Parsed::Scalar(Value::Null));
        }
        let start = self.pos;
        let rest = self.src.get(start..).unwrap_or("");
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                let message = e.to_string();
                return self.hard(|expr| SetError::Json {
                    message,
                    expr,
                    offset: start,
                });
            }
            None => Value::Null,
        };
        self.pos = start + stream.byte_offset();
        self.empty_value();
        Ok(Parsed::Scalar(value))
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

#[cfg(test)]
mod tests;
