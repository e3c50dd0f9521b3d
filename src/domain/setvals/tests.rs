use super::go::{go_quote, go_quote_runes};
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
    mode: SetMode<'static>,
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

fn parse_mode(expr: &str, mode: SetMode<'_>) -> Result<Value, String> {
    let mut m = Map::new();
    parse_set_into(expr, &mut m, mode)
        .map(|_| Value::Object(m))
        .map_err(|e| e.helm_message())
}

/// `--set-json` and `--set-literal`, checked against Helm v4.2.3 (helm_python's
/// parse_set_json / parse_set_literal); tests/override_flags.rs checks them live.
#[test]
fn json_and_literal_modes_match_helm() {
    let json_cases = [
        ("a=1", json!({"a": 1})),
        (
            r#"a={"b":[1,2]},c=null"#,
            json!({"a": {"b": [1, 2]}, "c": null}),
        ),
        (r#"a=,b= ,c="x""#, json!({"a": null, "b": null, "c": "x"})),
        ("a[1]=true", json!({"a": [null, true]})),
        (
            r#"a.b[0].c=[1,{"d":"e"}]"#,
            json!({"a": {"b": [{"c": [1, {"d": "e"}]}]}}),
        ),
        ("a=1 ,b=2", json!({"a": 1, "b": 2})),
        (r#"k\.dot="v""#, json!({"k.dot": "v"})),
    ];
    for (expr, want) in json_cases {
        assert_eq!(parse_mode(expr, SetMode::Json), Ok(want), "{expr}");
    }
    assert_eq!(
        parse_mode("a=1.5e3", SetMode::Json).map(|v| v["a"].as_f64()),
        Ok(Some(1500.0))
    );
    for bad in [r#"a="x",b=[1,"#, "a=tru"] {
        assert!(parse_mode(bad, SetMode::Json).is_err(), "{bad}");
    }
    let literal_cases = [
        ("a=b,c=d", json!({"a": "b,c=d"})),
        (r"a.b[1]=x\,y", json!({"a": {"b": [null, r"x\,y"]}})),
        ("a,b=c", json!({"a,b": "c"})),
        ("a[0].b=x=y{z}", json!({"a": [{"b": "x=y{z}"}]})),
        ("a=", json!({"a": ""})),
        (r"a\.b=1", json!({r"a\": {"b": "1"}})),
        ("[0]=x", json!({})),
    ];
    for (expr, want) in literal_cases {
        assert_eq!(parse_mode(expr, SetMode::Literal), Ok(want), "{expr}");
    }
    assert_eq!(
        parse_mode("a.b", SetMode::Literal),
        Err("key \"b\" has no value".into())
    );
    assert_eq!(
        parse_mode("a..b=1", SetMode::Literal),
        Err("key map \"a\" has no value".into())
    );
}

#[test]
fn file_mode_reads_every_value_and_list_item_through_the_reader() {
    let read = |p: &str| match p {
        "cert.pem" => Ok("-----BEGIN-----\nabc,def\n".to_string()),
        other => Err(format!("open {other}: no such file or directory")),
    };
    assert_eq!(
        parse_mode(
            "tls.crt=cert.pem,all={cert.pem,cert.pem}",
            SetMode::File(&read)
        ),
        Ok(json!({"tls": {"crt": "-----BEGIN-----\nabc,def\n"},
                  "all": ["-----BEGIN-----\nabc,def\n", "-----BEGIN-----\nabc,def\n"]}))
    );
    assert_eq!(
        parse_mode("a=missing.pem", SetMode::File(&read)),
        Err("open missing.pem: no such file or directory".into())
    );
}
