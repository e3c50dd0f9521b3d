//! Chart version resolution with Helm's semantics.
//!
//! Helm resolves `--version` through `repo.IndexFile.Get`, which uses
//! `github.com/Masterminds/semver/v3` constraints. This module reproduces
//! that behaviour without I/O:
//!
//! * **Resolution** ([`resolve`]): the constraint is parsed first (a bad
//!   constraint is an error even if some index entry equals it). An entry
//!   whose version string is byte-for-byte the requested text wins outright.
//!   Otherwise the highest version (SemVer precedence, descending) that
//!   satisfies the constraint is picked. Unparsable entries are skipped. No
//!   constraint (or `""`) means `*`, the latest stable version. Helm's
//!   `--devel` with no version means [`DEVEL_CONSTRAINT`] (`>0.0.0-0`).
//! * **Versions** ([`parse_lenient`]): Masterminds `NewVersion`: optional
//!   lowercase `v`, missing minor/patch read as 0 (`1.2` is 1.2.0), leading
//!   zeros in the numbers accepted (`01.2.3` is 1.2.3), prerelease and build
//!   identifiers validated as in SemVer. Build metadata never counts for
//!   precedence.
//! * **Syntax**: `||` separates alternatives (OR); inside one, comparators
//!   are separated by a comma or whitespace (AND). `A - B` (spaces needed
//!   around the hyphen) is rewritten to `>= A, <= B` before anything else.
//!   Operators: `=` (or none), `!=`, `>`, `<`, `>=`/`=>`, `<=`/`=<`,
//!   `~`/`~>`, `^`. A version may lack minor/patch or use `x`, `X` or `*` in
//!   any position: everything from the first wildcard on is "dirty" and read
//!   as 0 for comparisons, with per-operator rules:
//!   * `1.2.x`, `=1.2` are tilde ranges (>=1.2.0 <1.3.0); `1`/`1.x` is
//!     >=1.0.0 <2.0.0; `*` is anything stable.
//!   * `~1.2.3` is >=1.2.3 <1.3.0, `~1.2` >=1.2.0 <1.3.0, `~1` >=1.0.0 <2.0.0,
//!     `~0.0.0` and `~*` anything.
//!   * `^1.2.3` is >=1.2.3 <2.0.0, `^0.2.3` >=0.2.3 <0.3.0, `^0.0.3` only
//!     0.0.3, `^0.0` >=0.0.0 <0.1.0, `^0` >=0.0.0 <1.0.0.
//!   * `>1` needs 2.0.0 or higher, `>1.2` needs 1.3.0 or higher; `<=1` allows
//!     every 1.y.z and `<=1.2` every 1.2.z; `<` and `>=` simply fill with 0.
//!   * `!=1.2.x` / `!=1.x` exclude the whole line.
//! * **Prereleases**: a version with a prerelease can only satisfy an OR
//!   alternative in which at least one comparator carries a prerelease
//!   (`>=1.0.0-0`); that then opens the whole alternative (`>=1.2.0-a, <1.3.0`
//!   admits 1.3.0-b). `*` never matches prereleases, `>=0.0.0-0` matches all.
//!
//! Parsing follows the Masterminds grammar byte for byte (including its
//! oddities, see the tests marked "quirk"), but error messages name the
//! offending part instead of the whole alternative.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use semver::{BuildMetadata, Prerelease, Version};

/// What Helm uses as the version constraint for `--devel` when no
/// `--version` is given: every release and prerelease.
pub const DEVEL_CONSTRAINT: &str = ">0.0.0-0";

/// Why a constraint or a version could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The whole constraint is empty or only whitespace.
    #[error("empty version constraint")]
    Empty,
    /// One `||` alternative has nothing in it.
    #[error("improper constraint {constraint:?}: an `||` alternative is empty")]
    EmptyAlternative { constraint: String },
    /// An operator that is not one of `= != > < >= => <= =< ~ ~> ^`.
    #[error("improper constraint {constraint:?}: unknown operator {op:?}")]
    UnknownOperator { op: String, constraint: String },
    /// An operator or separator not followed by a version.
    #[error("improper constraint {constraint:?}: missing version after {after:?}")]
    MissingVersion { after: String, constraint: String },
    /// Two comparators not separated by a comma or whitespace.
    #[error("improper constraint {constraint:?}: expected `,` or whitespace before {found:?}")]
    MissingSeparator { found: String, constraint: String },
    /// A comparator whose version part is malformed.
    #[error("improper constraint {constraint:?}: invalid version {version:?}: {reason}")]
    InvalidConstraintVersion {
        version: String,
        reason: String,
        constraint: String,
    },
    /// A version string (see [`parse_lenient`]) is malformed.
    #[error("invalid version {input:?}: {reason}")]
    InvalidVersion { input: String, reason: String },
}

/// A parsed version constraint such as `>= 1.2, < 2 || ^3.0.0-0`.
///
/// `Display` gives back the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    source: String,
    alternatives: Vec<Alternative>,
}

/// One `||` alternative: comparators that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alternative {
    comparators: Vec<Comparator>,
    /// Some comparator names a prerelease, so prerelease versions may match.
    allows_prerelease: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    /// The version with wildcard/missing parts read as 0.
    version: Version,
    wild: Wild,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator.
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// The first position that was a wildcard or left out (Masterminds' "dirty"
/// flags: `Minor` is its `minorDirty`, `Patch` its `patchDirty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wild {
    None,
    Patch,
    Minor,
    Major,
}

impl Constraint {
    /// Parses a constraint the way Masterminds `NewConstraint` does.
    pub fn parse(s: &str) -> Result<Self, ConstraintError> {
        if s.bytes().all(is_space) {
            return Err(ConstraintError::Empty);
        }
        let rewritten = rewrite_ranges(s);
        let alternatives = rewritten
            .split("||")
            .map(|alt| parse_alternative(alt, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            source: s.to_owned(),
            alternatives,
        })
    }

    /// Whether `v` satisfies the constraint (Masterminds `Check`).
    pub fn matches(&self, v: &Version) -> bool {
        self.alternatives.iter().any(|alt| {
            alt.comparators
                .iter()
                .all(|c| c.admits(v, alt.allows_prerelease))
        })
    }

    /// The text the constraint was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Constraint {
    type Err = ConstraintError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Parses a version like Masterminds `NewVersion`: `v1.2` and `1.2` are
/// 1.2.0, `1` is 1.0.0, `01.02.03` is 1.2.3. Surrounding whitespace, an
/// uppercase `V`, a fourth number or a prerelease number with a leading zero
/// (`1.0.0-01`) are errors.
pub fn parse_lenient(s: &str) -> Result<Version, ConstraintError> {
    lenient(s).map_err(|reason| ConstraintError::InvalidVersion {
        input: s.to_owned(),
        reason,
    })
}

/// Picks the version Helm would pick among `available` (strings as found in
/// an index.yaml; unparsable ones are skipped): an entry equal to the
/// requested text first, else the highest satisfying version. `constraint`
/// `None` or `""` means the latest stable version.
///
/// The constraint is checked before anything else, as Helm does, so a
/// malformed one is an error even when an entry spells it exactly. Entries
/// of equal precedence (`1.0.0+a`, `1.0.0+b`) resolve to the first one given;
/// Helm's order for those depends on its unstable sort.
pub fn resolve<'a>(
    constraint: Option<&str>,
    available: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>, ConstraintError> {
    let requested = constraint.unwrap_or_default();
    let parsed = Constraint::parse(if requested.is_empty() { "*" } else { requested })?;
    let mut best: Option<(Version, &'a str)> = None;
    for candidate in available {
        if !requested.is_empty() && candidate == requested {
            return Ok(Some(candidate));
        }
        let Ok(version) = parse_lenient(candidate) else {
            continue;
        };
        if !parsed.matches(&version) {
            continue;
        }
        let better = best
            .as_ref()
            .is_none_or(|(top, _)| precedence(&version, top) == Ordering::Greater);
        if better {
            best = Some((version, candidate));
        }
    }
    Ok(best.map(|(_, text)| text))
}

/// The constraint Helm applies for `--version` / `--devel`: the version if
/// one is given, else [`DEVEL_CONSTRAINT`] with `--devel`, else none (latest
/// stable).
pub fn requested_constraint(version: Option<&str>, devel: bool) -> Option<&str> {
    match version {
        Some(v) if !v.is_empty() => Some(v),
        _ if devel => Some(DEVEL_CONSTRAINT),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Matching

impl Comparator {
    fn admits(&self, v: &Version, allow_prerelease: bool) -> bool {
        if !v.pre.is_empty() && !allow_prerelease {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::Eq if self.wild == Wild::None => precedence(v, c) == Ordering::Equal,
            Op::Eq | Op::Tilde => self.tilde(v),
            Op::Ne => self.not_equal(v),
            Op::Gt => self.greater(v),
            Op::Lt => precedence(v, c) == Ordering::Less,
            Op::Ge => precedence(v, c) != Ordering::Less,
            Op::Le => self.less_or_equal(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.wild != Wild::None {
            if v.major != c.major {
                return true;
            }
            if self.wild == Wild::Minor {
                return false;
            }
            if v.minor != c.minor {
                return true;
            }
            if self.wild == Wild::Patch {
                // The whole x.y line is excluded; only a prerelease that
                // differs from the constraint's (if either has one) escapes.
                return (!v.pre.is_empty() || !c.pre.is_empty())
                    && compare_prerelease(v.pre.as_str(), c.pre.as_str()) != Ordering::Equal;
            }
            if v.patch != c.patch {
                return true;
            }
        }
        precedence(v, c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.version;
        if matches!(self.wild, Wild::None | Wild::Major) {
            // `>*` ends up here too: plain "greater than 0.0.0".
            return precedence(v, c) == Ordering::Greater;
        }
        match v.major.cmp(&c.major) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.wild == Wild::Patch && v.minor > c.minor,
        }
    }

    fn less_or_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.wild == Wild::None {
            return precedence(v, c) != Ordering::Greater;
        }
        // Only major and minor are looked at; for `<=*` (major wildcard)
        // this leaves just 0.0.z.
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && self.wild != Wild::Minor)
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if precedence(v, c) == Ordering::Less {
            return false;
        }
        let zero = c.major == 0 && c.minor == 0 && c.patch == 0;
        if zero && self.wild != Wild::Minor && self.wild != Wild::Patch {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.wild == Wild::Minor)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if precedence(v, c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.wild == Wild::Minor {
            return v.major == c.major;
        }
        // Major wildcard (`^*`) is not special-cased: it behaves as ^0.0.0.
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.wild == Wild::Patch {
            return v.minor == c.minor;
        }
        v.minor == 0 && v.patch == c.patch
    }
}

/// SemVer precedence as Masterminds computes it: build metadata ignored.
fn precedence(a: &Version, b: &Version) -> Ordering {
    a.major
        .cmp(&b.major)
        .then(a.minor.cmp(&b.minor))
        .then(a.patch.cmp(&b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_prerelease(a.pre.as_str(), b.pre.as_str()),
        })
}

/// Identifier-wise prerelease comparison: numbers (that fit in u64) compare
/// numerically and sort before text, text compares bytewise, a shorter list
/// sorts first.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        let (l, r) = match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => (l.unwrap_or_default(), r.unwrap_or_default()),
        };
        let order = compare_identifier(l, r);
        if order != Ordering::Equal {
            return order;
        }
    }
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if a.is_empty() {
        return Ordering::Less;
    }
    if b.is_empty() {
        return Ordering::Greater;
    }
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then(a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

// ---------------------------------------------------------------------------
// Scanning. Everything works on bytes; every slice boundary sits next to an
// ASCII byte, so slicing never splits a UTF-8 character.

/// Go's `\s`: space, \t, \n, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

fn is_op_byte(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'<' | b'>' | b'~' | b'^')
}

/// Bytes Masterminds accepts in a constraint's version segment (its regex
/// class `[0-9|x|X|\*]`, which includes a literal `|`).
fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|')
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// End of the run of bytes from `i` that satisfy `f`.
fn run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while b.get(i).is_some_and(|&c| f(c)) {
        i += 1;
    }
    i
}

fn skip_space(b: &[u8], i: usize) -> usize {
    run(b, i, is_space)
}

fn slice(s: &str, start: usize, end: usize) -> &str {
    s.get(start..end).unwrap_or_default()
}

/// `ID(.ID)*` with `ID = [0-9A-Za-z-]+`, longest match; `None` if empty.
fn ident_list(b: &[u8], i: usize) -> Option<usize> {
    let mut end = run(b, i, is_ident_byte);
    if end == i {
        return None;
    }
    while b.get(end) == Some(&b'.') {
        let next = run(b, end + 1, is_ident_byte);
        if next == end + 1 {
            break;
        }
        end = next;
    }
    Some(end)
}

/// Byte ranges of a constraint version `v?SEG(.SEG)?(.SEG)?(-PRE)?(+BUILD)?`.
struct VersionSpan {
    major: (usize, usize),
    minor: Option<(usize, usize)>,
    patch: Option<(usize, usize)>,
    pre: Option<(usize, usize)>,
    end: usize,
}

/// Longest constraint version starting at `i` (optional parts that do not
/// fit are left out, as the regex's greedy optional groups do).
fn scan_version(b: &[u8], i: usize) -> Option<VersionSpan> {
    let mut p = i;
    if b.get(p) == Some(&b'v') {
        p += 1;
    }
    let major_end = run(b, p, is_segment_byte);
    if major_end == p {
        return None;
    }
    let major = (p, major_end);
    p = major_end;
    let mut dotted = [None, None];
    for slot in &mut dotted {
        if b.get(p) != Some(&b'.') {
            break;
        }
        let end = run(b, p + 1, is_segment_byte);
        if end == p + 1 {
            break;
        }
        *slot = Some((p + 1, end));
        p = end;
    }
    let mut pre = None;
    if b.get(p) == Some(&b'-') {
        if let Some(end) = ident_list(b, p + 1) {
            pre = Some((p + 1, end));
            p = end;
        }
    }
    if b.get(p) == Some(&b'+') {
        if let Some(end) = ident_list(b, p + 1) {
            p = end;
        }
    }
    let [minor, patch] = dotted;
    Some(VersionSpan {
        major,
        minor,
        patch,
        pre,
        end: p,
    })
}

/// Rewrites every hyphen range `\s*A\s+-\s+B\s*` into `>= A, <= B ` exactly
/// like Masterminds `rewriteRange` (leftmost matches, surrounding whitespace
/// swallowed).
fn rewrite_ranges(s: &str) -> String {
    let b = s.as_bytes();
    if !b.contains(&b'-') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut copied = 0;
    let mut pos = 0;
    while pos < b.len() {
        let Some((end, low, high)) = match_range(b, pos) else {
            pos += 1;
            continue;
        };
        out.push_str(slice(s, copied, pos));
        out.push_str(">= ");
        out.push_str(slice(s, low.0, low.1));
        out.push_str(", <= ");
        out.push_str(slice(s, high.0, high.1));
        out.push(' ');
        copied = end;
        pos = end;
    }
    out.push_str(slice(s, copied, s.len()));
    out
}

type Span = (usize, usize);

fn match_range(b: &[u8], pos: usize) -> Option<(usize, Span, Span)> {
    let low_start = skip_space(b, pos);
    let low = scan_version(b, low_start)?;
    let dash = skip_space(b, low.end);
    if dash == low.end || b.get(dash) != Some(&b'-') {
        return None;
    }
    let high_start = skip_space(b, dash + 1);
    if high_start == dash + 1 {
        return None;
    }
    let high = scan_version(b, high_start)?;
    let end = skip_space(b, high.end);
    Some((end, (low_start, low.end), (high_start, high.end)))
}

fn parse_alternative(alt: &str, source: &str) -> Result<Alternative, ConstraintError> {
    let b = alt.as_bytes();
    let mut comparators = Vec::new();
    let mut pos = 0;
    loop {
        let start = skip_space(b, pos);
        if start == b.len() {
            return Err(if comparators.is_empty() {
                ConstraintError::EmptyAlternative {
                    constraint: source.to_owned(),
                }
            } else {
                ConstraintError::MissingVersion {
                    after: slice(alt, 0, pos).trim().to_owned(),
                    constraint: source.to_owned(),
                }
            });
        }
        let op_end = run(b, start, is_op_byte);
        let op_text = slice(alt, start, op_end);
        let op = operator(op_text).ok_or_else(|| ConstraintError::UnknownOperator {
            op: op_text.to_owned(),
            constraint: source.to_owned(),
        })?;
        let version_start = skip_space(b, op_end);
        let version_end = run(b, version_start, |c| {
            !is_space(c) && c != b',' && !is_op_byte(c)
        });
        if version_end == version_start {
            return Err(ConstraintError::MissingVersion {
                after: slice(alt, 0, version_start).trim().to_owned(),
                constraint: source.to_owned(),
            });
        }
        let text = slice(alt, version_start, version_end);
        comparators.push(parse_comparator(op, text, source)?);

        let next = skip_space(b, version_end);
        match b.get(next) {
            None => break,
            Some(b',') => pos = next + 1,
            Some(_) if next > version_end => pos = next,
            Some(_) => {
                return Err(ConstraintError::MissingSeparator {
                    found: slice(alt, next, run(b, next, |c| !is_space(c))).to_owned(),
                    constraint: source.to_owned(),
                })
            }
        }
    }
    let allows_prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Ok(Alternative {
        comparators,
        allows_prerelease,
    })
}

fn operator(text: &str) -> Option<Op> {
    Some(match text {
        "" | "=" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" | "=>" => Op::Ge,
        "<=" | "=<" => Op::Le,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return None,
    })
}

fn is_wildcard(segment: &str) -> bool {
    matches!(segment, "x" | "X" | "*")
}

fn parse_comparator(op: Op, text: &str, source: &str) -> Result<Comparator, ConstraintError> {
    let invalid = |reason: String| ConstraintError::InvalidConstraintVersion {
        version: text.to_owned(),
        reason,
        constraint: source.to_owned(),
    };
    let b = text.as_bytes();
    let span = scan_version(b, 0)
        .filter(|span| span.end == b.len())
        .ok_or_else(|| {
            invalid(
                "expected [v]MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], \
                 with x, X or * as wildcards"
                    .to_owned(),
            )
        })?;
    let part = |(start, end): Span| slice(text, start, end);
    let major = part(span.major);
    let minor = span.minor.map(part);
    let patch = span.patch.map(part);
    let pre = span
        .pre
        .map(|p| format!("-{}", part(p)))
        .unwrap_or_default();

    // Masterminds zero-fills from the first wildcard or missing part on and
    // ignores whatever follows it (so `1.x.3x` is `1.x`), dropping build
    // metadata; a fully specified version is taken as written.
    let (wild, used, coerced) = if is_wildcard(major) {
        (Wild::Major, vec![], format!("0.0.0{pre}"))
    } else if minor.is_none_or(is_wildcard) {
        (Wild::Minor, vec![major], format!("{major}.0.0{pre}"))
    } else if let (Some(minor), true) = (minor, patch.is_none_or(is_wildcard)) {
        (
            Wild::Patch,
            vec![major, minor],
            format!("{major}.{minor}.0{pre}"),
        )
    } else {
        let segments = [Some(major), minor, patch].into_iter().flatten().collect();
        (Wild::None, segments, text.to_owned())
    };
    if let Some(bad) = used.iter().find(|s| !s.bytes().all(|c| c.is_ascii_digit())) {
        let hint = if bad.contains('|') {
            " (OR is written `||`)"
        } else {
            ""
        };
        return Err(invalid(format!(
            "{bad:?} is neither a number nor a wildcard (x, X, *){hint}"
        )));
    }
    let version = lenient(&coerced).map_err(invalid)?;
    Ok(Comparator { op, version, wild })
}

/// Masterminds `NewVersion` (coercing mode, the default).
fn lenient(s: &str) -> Result<Version, String> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err("empty string".to_owned());
    }
    let mut p = usize::from(b.first() == Some(&b'v'));
    let mut numbers = [0u64; 3];
    for (index, number) in numbers.iter_mut().enumerate() {
        let start = if index == 0 {
            p
        } else if b.get(p) == Some(&b'.') && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
            p + 1
        } else {
            break;
        };
        let end = run(b, start, |c| c.is_ascii_digit());
        if end == start {
            return Err(format!(
                "expected a number at {:?}",
                slice(s, start, s.len())
            ));
        }
        let digits = slice(s, start, end);
        *number = digits
            .parse()
            .map_err(|_| format!("{digits} does not fit in 64 bits"))?;
        p = end;
    }
    let mut pre = Prerelease::EMPTY;
    if b.get(p) == Some(&b'-') {
        let end = ident_list(b, p + 1).ok_or("empty prerelease")?;
        let text = slice(s, p + 1, end);
        if let Some(id) = text.split('.').find(|id| {
            id.len() > 1 && id.starts_with('0') && id.bytes().all(|c| c.is_ascii_digit())
        }) {
            return Err(format!("prerelease number {id:?} has a leading zero"));
        }
        pre = Prerelease::new(text).map_err(|e| e.to_string())?;
        p = end;
    }
    let mut build = BuildMetadata::EMPTY;
    if b.get(p) == Some(&b'+') {
        let end = ident_list(b, p + 1).ok_or("empty build metadata")?;
        build = BuildMetadata::new(slice(s, p + 1, end)).map_err(|e| e.to_string())?;
        p = end;
    }
    if p != b.len() {
        return Err(format!("unexpected {:?}", slice(s, p, s.len())));
    }
    let [major, minor, patch] = numbers;
    Ok(Version {
        major,
        minor,
        patch,
        pre,
        build,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(s: &str) -> Version {
        match parse_lenient(s) {
            Ok(v) => v,
            Err(e) => panic!("test version {s:?}: {e}"),
        }
    }

    fn check(constraint: &str, v: &str) -> bool {
        match Constraint::parse(constraint) {
            Ok(c) => c.matches(&version(v)),
            Err(e) => panic!("test constraint {constraint:?}: {e}"),
        }
    }

    fn parse_err(constraint: &str) -> ConstraintError {
        match Constraint::parse(constraint) {
            Ok(c) => panic!("{constraint:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    /// Each spec: a constraint and `version => expected` rows.
    macro_rules! specs {
        ($($name:ident: $constraint:expr => { $($v:expr => $want:expr),+ $(,)? })*) => {$(
            #[test]
            fn $name() {
                $(
                    assert_eq!(
                        check($constraint, $v), $want,
                        "{:?} against {:?}", $constraint, $v
                    );
                )+
            }
        )*};
    }

    specs! {
        bare_full_version_is_an_exact_match: "1.2.3" => {
            "1.2.3" => true, "1.2.4" => false, "1.2.3+build.7" => true, "v1.2.3" => true,
        }
        equals_with_partial_version_is_a_tilde_range: "=2.0" => {
            "2.0.0" => true, "2.0.9" => true, "2.1.0" => false, "1.9.9" => false,
        }
        not_equal_excludes_only_that_version: "!=4.1.0" => {
            "4.1.0" => false, "4.1.1" => true, "4.0.0" => true,
        }
        not_equal_with_wildcard_excludes_the_whole_line: "!=4.2.x" => {
            "4.2.0" => false, "4.2.3" => false, "4.3.0" => true, "5.2.0" => true,
        }
        not_equal_with_major_only_excludes_that_major: "!=4.x" => {
            "4.1.0" => false, "5.1.0" => true, "3.9.0" => true,
        }
        greater_than_bare_major_needs_the_next_major: ">11" => {
            "11.1.0" => false, "11.9.9" => false, "12.0.0" => true,
        }
        greater_than_major_minor_needs_the_next_minor: ">11.1" => {
            "11.1.9" => false, "11.2.0" => true, "12.0.0" => true, "10.9.0" => false,
        }
        greater_than_zero_means_at_least_one_dot_oh: ">0" => {
            "0.0.0" => false, "0.5.0" => false, "1.0.0" => true,
        }
        less_than_partial_version_fills_zeros: "<1.1" => {
            "1.0.9" => true, "1.1.0" => false, "1.1.1" => false,
        }
        less_than_wildcard_minor_is_below_the_major: "<1.x" => {
            "0.9.9" => true, "1.0.0" => false, "1.1.1" => false,
        }
        less_or_equal_partial_includes_the_whole_line: "<=1.1" => {
            "1.1.0" => true, "1.1.500" => true, "1.2.0" => false, "0.1.0" => true,
        }
        less_or_equal_bare_major_includes_every_minor: "<=11" => {
            "11.2.3" => true, "12.0.0" => false, "1.2.3" => true,
        }
        greater_or_equal_partial_fills_zeros: ">=1.1" => {
            "1.1.0" => true, "1.0.9" => false, "4.1.0" => true,
        }
        greater_or_equal_with_wildcard_major_line: ">= 1.x" => {
            "1.0.0" => true, "7.3.0" => true, "0.9.9" => false,
        }
        reversed_less_or_equal_spelling: "=<1.2" => {
            "1.2.9" => true, "1.3.0" => false,
        }
        reversed_greater_or_equal_spelling: "=>1.2" => {
            "1.2.0" => true, "1.1.9" => false,
        }
        tilde_with_patch_locks_major_and_minor: "~1.2.3" => {
            "1.2.3" => true, "1.2.9" => true, "1.2.2" => false, "1.3.0" => false,
        }
        tilde_with_minor_locks_major_and_minor: "~1.2" => {
            "1.2.0" => true, "1.2.4" => true, "1.3.0" => false,
        }
        tilde_with_only_major_locks_major: "~1" => {
            "1.0.0" => true, "1.9.9" => true, "2.0.0" => false, "0.9.0" => false,
        }
        tilde_arrow_is_the_same_as_tilde: "~>1.2" => {
            "1.2.5" => true, "1.3.0" => false,
        }
        tilde_zero_and_tilde_star_match_any_stable: "~0.0.0 || ~*" => {
            "5.6.7" => true, "0.0.0" => true, "5.6.7-rc.1" => false,
        }
        caret_locks_the_major: "^1.2.3" => {
            "1.2.3" => true, "1.8.9" => true, "2.0.0" => false, "1.2.2" => false,
        }
        caret_on_zero_major_locks_the_minor: "^0.2.3" => {
            "0.2.3" => true, "0.2.9" => true, "0.3.0" => false, "0.2.2" => false,
        }
        caret_on_zero_minor_locks_patch: "^0.0.3" => {
            "0.0.3" => true, "0.0.4" => false, "0.1.3" => false,
        }
        caret_on_partial_zero_versions: "^0.0" => {
            "0.0.0" => true, "0.0.9" => true, "0.1.0" => false,
        }
        caret_on_bare_zero_allows_all_zero_majors: "^0" => {
            "0.9.9" => true, "1.0.0" => false,
        }
        caret_with_wildcard_minor_locks_major: "^1.x" => {
            "1.1.1" => true, "2.1.1" => false, "0.9.0" => false,
        }
        caret_star_only_matches_zero_zero_zero_quirk: "^*" => {
            "0.0.0" => true, "0.0.1" => false, "1.0.0" => false,
        }
        wildcard_patch_in_every_spelling: "1.2.x || 1.2.X || 1.2.*" => {
            "1.2.7" => true, "1.3.0" => false, "1.1.9" => false,
        }
        wildcard_minor_matches_the_major_line: "2.*" => {
            "2.0.0" => true, "2.1.1" => true, "3.0.0" => false, "1.9.9" => false,
        }
        star_matches_any_stable_but_no_prerelease: "*" => {
            "0.0.0" => true, "4.5.6" => true, "1.2.3-alpha.1" => false,
        }
        less_or_equal_star_only_matches_zero_zero_quirk: "<=*" => {
            "0.0.9" => true, "0.1.0" => false, "1.0.0" => false,
        }
        greater_than_star_is_greater_than_zero: ">*" => {
            "0.0.0" => false, "0.0.1" => true, "3.0.0" => true,
        }
        hyphen_range_is_inclusive_on_both_ends: "1.2 - 1.4.5" => {
            "1.2.0" => true, "1.4.5" => true, "1.4.6" => false, "1.1.9" => false,
        }
        hyphen_range_partial_upper_bound_covers_its_line: "1.1 - 2" => {
            "2.9.0" => true, "3.0.0" => false, "1.1.0" => true,
        }
        hyphen_without_spaces_is_a_prerelease_not_a_range: "1.1-3" => {
            "1.1.5" => true, "1.1.0-3" => true, "1.1.0-2" => false, "2.0.0" => false,
        }
        hyphen_range_combines_with_comma_or_space: "1.0.0 - 2.0.0 <=1.5.0 || 3.0.0 - 4.0.0, !=3.5.0" => {
            "1.5.0" => true, "1.6.0" => false, "3.4.0" => true, "3.5.0" => false,
        }
        comma_and_whitespace_both_mean_and: ">1.1, <2 || >3.0 <4" => {
            "1.2.1" => true, "1.1.1" => false, "2.0.0" => false, "3.5.0" => true, "4.0.0" => false,
        }
        or_picks_any_alternative: ">=1.1 <2 !=1.2.3 || >= 3" => {
            "3.0.0" => true, "1.2.3" => false, "1.2.4" => true, "2.5.0" => false,
        }
        whitespace_everywhere_is_tolerated: "\t>   1.1 ,   <  3 \n||\r~ 5" => {
            "2.0.0" => true, "1.1.0" => false, "5.0.3" => true,
        }
        v_prefix_in_constraint_is_accepted: "v1.2" => {
            "1.2.0" => true, "1.2.9" => true, "1.3.0" => false,
        }
        leading_zeros_in_constraint_numbers_are_coerced: "=01.02.03" => {
            "1.2.3" => true, "1.2.4" => false,
        }
        prerelease_versions_are_hidden_from_release_constraints: ">=1.1" => {
            "4.1.0-beta" => false, "4.1.0" => true,
        }
        prerelease_in_the_constraint_admits_prereleases: "<=1.1-a" => {
            "0.1.0-alpha" => true, "1.1.0-a" => true, "1.1.0-b" => true, "1.1.1" => true,
        }
        prerelease_in_one_comparator_opens_the_whole_group_quirk: ">=1.2.0-alpha, <1.3.0" => {
            "1.2.5-rc.1" => true, "1.3.0-alpha" => true, "1.2.0-0" => false,
        }
        prerelease_opt_in_does_not_leak_into_other_alternatives: ">=2.0.0-0 || ^1.0.0" => {
            "1.5.0-beta" => false, "1.5.0" => true, "2.1.0-beta" => true,
        }
        zero_prerelease_floor_admits_every_version: ">=0.0.0-0" => {
            "0.0.0-alpha" => true, "1.2.3" => true, "3.4.5-beta.1" => true,
        }
        devel_constraint_admits_releases_and_prereleases: DEVEL_CONSTRAINT => {
            "1.0.0-rc.1" => true, "0.0.0" => true, "0.0.0-0" => false, "0.0.0-alpha" => true,
        }
        star_with_prerelease_admits_prereleases: "*-0" => {
            "1.2.3-alpha.1" => true, "1.2.3" => true,
        }
        prerelease_precedence_follows_semver: ">1.0.0-alpha.1" => {
            "1.0.0-alpha.2" => true, "1.0.0-alpha.10" => true, "1.0.0-alpha.beta" => true,
            "1.0.0-alpha" => false, "1.0.0-alpha.0" => false, "1.0.0" => true,
        }
        tilde_prerelease_spans_patch_versions_unlike_npm: "~1.2.3-beta.2" => {
            "1.2.3-beta.4" => true, "1.2.4-beta.2" => true, "1.3.4-beta.2" => false, "1.2.3-beta.1" => false,
        }
        caret_prerelease_spans_the_major: "^1.1.2-alpha" => {
            "1.2.1-beta1" => true, "2.0.0-alpha" => false,
        }
        build_metadata_is_ignored_for_precedence: "=1.0.0+abc || >2.0.0+zzz" => {
            "1.0.0+xyz" => true, "1.0.0" => true, "2.0.0+aaa" => false, "2.0.1" => true,
        }
        not_equal_partial_with_prerelease_compares_prerelease_text: "!=4.1-alpha" => {
            "4.1.0" => true, "4.1.1-alpha" => false, "4.1.0-beta" => true, "4.2.0" => true,
        }
        not_equal_partial_still_hides_prereleases: "!=4.1" => {
            "5.1.0-alpha.1" => false, "5.1.0" => true, "4.1.1" => false,
        }
        prerelease_on_partial_versions_keeps_the_wildcard_rules: ">0-0 || <0-z" => {
            "0.0.1-alpha" => false, "0.0.0-alpha" => true, "1.0.0-alpha" => true,
        }
        junk_after_a_wildcard_minor_is_ignored_quirk: "1.x.3x" => {
            "1.5.0" => true, "2.0.0" => false,
        }
    }

    #[test]
    fn four_part_versions_are_rejected() {
        for bad in ["12.3.4.1234", "12.23.4.1234", "1.2.3.4.5.6"] {
            assert!(
                matches!(
                    parse_err(bad),
                    ConstraintError::InvalidConstraintVersion { ref version, .. } if version == bad
                ),
                "{bad}"
            );
        }
        assert!(Constraint::parse("12.3.34 ~1.2.3").is_ok());
    }

    #[test]
    fn comparators_must_be_separated() {
        let err = parse_err("12.3.34~ 1.2.3");
        assert_eq!(
            err,
            ConstraintError::MissingSeparator {
                found: "~".into(),
                constraint: "12.3.34~ 1.2.3".into()
            }
        );
        assert!(err.to_string().contains("\"~\""), "{err}");
        assert!(
            matches!(parse_err("1.0>2.0"), ConstraintError::MissingSeparator { ref found, .. } if found == ">2.0")
        );
    }

    #[test]
    fn unknown_operators_are_named() {
        for (input, op) in [
            ("=>>1.0", "=>>"),
            ("!1.0", "!"),
            (">== 1", ">=="),
            ("~= 1.2", "~="),
        ] {
            let err = parse_err(input);
            assert_eq!(
                err,
                ConstraintError::UnknownOperator {
                    op: op.into(),
                    constraint: input.into()
                }
            );
            assert!(err.to_string().contains(&format!("{op:?}")), "{err}");
        }
    }

    #[test]
    fn empty_constraints_and_alternatives_are_errors() {
        assert_eq!(parse_err(""), ConstraintError::Empty);
        assert_eq!(parse_err(" \t"), ConstraintError::Empty);
        assert!(matches!(
            parse_err("1.0 ||"),
            ConstraintError::EmptyAlternative { .. }
        ));
        assert!(matches!(
            parse_err("|| 1.0"),
            ConstraintError::EmptyAlternative { .. }
        ));
    }

    #[test]
    fn missing_versions_are_reported_after_what_precedes_them() {
        for (input, after) in [
            (">=", ">="),
            ("1.0,", "1.0,"),
            ("1.0,,2.0", "1.0,"),
            (">= , 1", ">="),
            (",1.0", ""),
        ] {
            assert_eq!(
                parse_err(input),
                ConstraintError::MissingVersion {
                    after: after.into(),
                    constraint: input.into()
                },
                "{input}"
            );
        }
    }

    #[test]
    fn garbage_versions_are_named() {
        for (input, bad) in [
            ("foo", "foo"),
            (">= bar", "bar"),
            ("BAR >= 1.2.3", "BAR"),
            ("V1.2.3", "V1.2.3"),
            ("1.0 | 2.0", "|"),
            ("1x", "1x"),
            ("1.2.3-01", "1.2.3-01"),
            ("1.x-01", "1.x-01"),
            ("99999999999999999999", "99999999999999999999"),
        ] {
            let err = parse_err(input);
            assert!(
                matches!(err, ConstraintError::InvalidConstraintVersion { ref version, .. } if version == bad),
                "{input}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn hyphen_range_after_space_separated_comparator_is_rejected_quirk() {
        // The range regex swallows the space before `1.0`, gluing the rewrite
        // onto `0.5`: Masterminds rejects this too. A comma works.
        assert!(matches!(
            parse_err(">=0.5 1.0 - 2.0"),
            ConstraintError::MissingSeparator { .. }
        ));
        assert!(check(">=0.5, 1.0 - 2.0", "1.5.0"));
        assert!(matches!(
            parse_err(">= 1.0 - 2.0"),
            ConstraintError::UnknownOperator { ref op, .. } if op == ">=>="
        ));
    }

    #[test]
    fn non_ascii_input_is_rejected_without_panicking() {
        for input in [
            "≥1.0",
            "1.0 – 2.0",
            "1.0\u{a0}",
            "ü",
            "1.0 - ü",
            "1.0-é - 2",
        ] {
            assert!(Constraint::parse(input).is_err(), "{input}");
        }
        assert!(parse_lenient("1.0.0-é").is_err());
    }

    #[test]
    fn display_gives_back_the_original_text() {
        for text in [">= 1.2, < 2", "1.2 - 1.4.5 || ^3", " ~1 "] {
            let parsed: Constraint = match text.parse() {
                Ok(c) => c,
                Err(e) => panic!("{text}: {e}"),
            };
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.as_str(), text);
        }
    }

    #[test]
    fn lenient_parsing_coerces_like_new_version() {
        assert_eq!(version("v1.2"), Version::new(1, 2, 0));
        assert_eq!(version("1"), Version::new(1, 0, 0));
        assert_eq!(version("01.02.03"), Version::new(1, 2, 3));
        let pre = version("1.2-beta.1+exp.sha.5114f85");
        assert_eq!((pre.major, pre.minor, pre.patch), (1, 2, 0));
        assert_eq!(pre.pre.as_str(), "beta.1");
        assert_eq!(pre.build.as_str(), "exp.sha.5114f85");
        for bad in [
            "",
            "v",
            "V1.2.3",
            " 1.2.3",
            "1.2.3 ",
            "1.2.3.4",
            "1.2.",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-01",
            "1.2.3-a..b",
            "18446744073709551616",
            "1.x",
            "latest",
        ] {
            let err = parse_lenient(bad);
            assert!(
                matches!(err, Err(ConstraintError::InvalidVersion { ref input, .. }) if input == bad),
                "{bad:?}: {err:?}"
            );
        }
    }

    const INDEX: [&str; 8] = [
        "1.2.0",
        "2.0.0-rc.1",
        "1.10.0",
        "garbage",
        "1.9.3",
        "0.9.0",
        "v1.10.1-beta.1",
        "1.2",
    ];

    fn pick(constraint: Option<&str>, list: &[&'static str]) -> Option<&'static str> {
        match resolve(constraint, list.iter().copied()) {
            Ok(found) => found,
            Err(e) => panic!("{constraint:?}: {e}"),
        }
    }

    #[test]
    fn resolve_without_constraint_picks_latest_stable() {
        assert_eq!(pick(None, &INDEX), Some("1.10.0"));
        assert_eq!(pick(Some(""), &INDEX), Some("1.10.0"));
    }

    #[test]
    fn resolve_picks_highest_satisfying_in_any_input_order() {
        assert_eq!(pick(Some("^1.2"), &INDEX), Some("1.10.0"));
        assert_eq!(pick(Some("~1.9"), &INDEX), Some("1.9.3"));
        assert_eq!(pick(Some("<1.0.0"), &INDEX), Some("0.9.0"));
        let mut reversed = INDEX;
        reversed.reverse();
        assert_eq!(pick(Some("^1.2"), &reversed), Some("1.10.0"));
    }

    #[test]
    fn resolve_exact_string_beats_constraint_semantics() {
        // "1.2" as a constraint means ~1.2 (1.10.0 is out, 1.2.0 qualifies),
        // but the entry spelled "1.2" wins over the equal 1.2.0 entry.
        assert_eq!(pick(Some("1.2"), &INDEX), Some("1.2"));
        assert_eq!(pick(Some("1.2"), &["1.2.0", "1.2.5"]), Some("1.2.5"));
        assert_eq!(
            pick(Some("1.0.0+b"), &["1.0.0+a", "1.0.0+b"]),
            Some("1.0.0+b")
        );
        assert_eq!(
            pick(Some("1.0.0"), &["1.0.0+a", "1.0.0+b"]),
            Some("1.0.0+a")
        );
    }

    #[test]
    fn resolve_includes_prereleases_only_when_asked() {
        assert_eq!(pick(Some(">=1.10.0"), &INDEX), Some("1.10.0"));
        assert_eq!(pick(Some(">=1.10.0-0"), &INDEX), Some("2.0.0-rc.1"));
        assert_eq!(pick(Some("~1.10.1-0"), &INDEX), Some("v1.10.1-beta.1"));
        let devel = requested_constraint(None, true);
        assert_eq!(devel, Some(DEVEL_CONSTRAINT));
        assert_eq!(pick(devel, &INDEX), Some("2.0.0-rc.1"));
        assert_eq!(requested_constraint(Some(""), false), None);
        assert_eq!(requested_constraint(Some("^1"), true), Some("^1"));
    }

    #[test]
    fn resolve_matches_v_prefixed_entries_and_skips_unparsable_ones() {
        assert_eq!(pick(Some("1.2.3"), &["latest", "v1.2.3"]), Some("v1.2.3"));
        assert_eq!(
            pick(None, &["latest", "V9.0.0", "1.0", " 8.0.0"]),
            Some("1.0")
        );
        assert_eq!(pick(None, &["latest"]), None);
        assert_eq!(pick(None, &[]), None);
    }

    #[test]
    fn resolve_returns_none_when_nothing_satisfies() {
        assert_eq!(pick(Some("^3"), &INDEX), None);
        assert_eq!(pick(Some(">=3.0.0-0"), &INDEX), None);
    }

    #[test]
    fn resolve_checks_the_constraint_before_exact_matches() {
        assert!(matches!(
            resolve(Some("latest"), ["latest", "1.0.0"]),
            Err(ConstraintError::InvalidConstraintVersion { .. })
        ));
        assert_eq!(resolve(Some("  "), ["1.0.0"]), Err(ConstraintError::Empty));
    }
}
