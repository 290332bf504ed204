//! Tests of the public `Template` API: every pattern, literal braces, error messages, and
//! property tests against straightforward reference implementations.

use proptest::prelude::*;

use super::*;

/// Stands in for the engine's executor: answers a `{% %}` command from a closure given the
/// script (with `@` already rewritten) and the args. The real executor's substitutions are
/// tested with real bash in hs-engine (`executor/substitute.rs`).
struct Scripted<F>(F);

impl<F: Fn(&str, &str) -> Result<Vec<u8>, CommandFailure>> CommandRunner for Scripted<F> {
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure> {
        (self.0)(script, args)
    }
}

/// A runner for templates that have no `{% %}` command: running one is a test failure.
fn no_shell() -> impl CommandRunner {
    Scripted(|script: &str, _: &str| panic!("unexpected {{% %}} command: {script}"))
}

fn expand_result(template: &Template, args: &str) -> Result<String, TemplateError> {
    template.expand(args, &no_shell())
}

fn expand(template: &str, args: &str) -> String {
    let parsed = Template::parse(template).unwrap_or_else(|e| panic!("parse {template:?}: {e}"));
    expand_result(&parsed, args)
        .unwrap_or_else(|e| panic!("expand {template:?} with {args:?}: {e}"))
}

fn parse_err(template: &str) -> TemplateError {
    Template::parse(template).expect_err(template)
}

fn expand_err(template: &str, args: &str) -> TemplateError {
    let parsed = Template::parse(template).unwrap_or_else(|e| panic!("parse {template:?}: {e}"));
    expand_result(&parsed, args).expect_err(template)
}

#[test]
fn template_is_clone_debug_send_sync() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    assert_traits::<Template>();
    assert_traits::<TemplateError>();
}

#[test]
fn source_is_kept() {
    let t = Template::parse("echo {= x =} ${HOME}").expect("parses");
    assert_eq!(t.source(), "echo {= x =} ${HOME}");
}

#[test]
fn args_pattern() {
    assert_eq!(expand("{}", "a b  c"), "a b  c");
    assert_eq!(expand("{ }", "a"), "a");
    assert_eq!(expand("echo {} {}", "x"), "echo x x");
    assert_eq!(expand("{}", ""), "");
}

#[test]
fn path_patterns_on_the_reference_example() {
    let p = "/x/y/file.tar.gz";
    assert_eq!(expand("{.}", p), "/x/y");
    assert_eq!(expand("{..}", p), "/x");
    assert_eq!(expand("{/}", p), "file.tar.gz");
    assert_eq!(expand("{/-}", p), "file.tar");
    assert_eq!(expand("{-}", p), "/x/y/file.tar");
    assert_eq!(expand("{+}", p), ".gz");
    assert_eq!(expand("{++}", p), "gz");
    assert_eq!(expand("{ / }", p), "file.tar.gz");
    assert_eq!(expand("{ /- }", p), "file.tar");
    assert_eq!(
        expand("mv {} {.}/{/-}.out", p),
        "mv /x/y/file.tar.gz /x/y/file.tar.out"
    );
}

#[test]
fn path_patterns_without_slash_or_extension() {
    assert_eq!(expand("[{.}]", "file"), "[]");
    assert_eq!(expand("[{..}]", "file"), "[]");
    assert_eq!(expand("{/}", "file"), "file");
    assert_eq!(expand("{/-}", "file"), "file");
    assert_eq!(expand("{-}", "dir.d/file"), "dir.d/file");
    assert_eq!(expand("[{+}][{++}]", "file"), "[][]");
    assert_eq!(expand("{.}", "/file"), "/");
    assert_eq!(expand("{/-}", ".bashrc"), ".bashrc");
    assert_eq!(expand("{+}", "archive.tar."), ".");
}

#[test]
fn slice_patterns_on_the_reference_example() {
    let args = "a b c d";
    assert_eq!(expand("{[0]}", args), "a");
    assert_eq!(expand("{[1:3]}", args), "b c");
    assert_eq!(expand("{[::2]}", args), "a c");
    assert_eq!(expand("{[-1]}", args), "d");
    assert_eq!(expand("{[::-1]}", args), "d c b a");
    assert_eq!(expand("{[-2:]}", args), "c d");
    assert_eq!(expand("{[:2]}", args), "a b");
    assert_eq!(expand("{[1:-1]}", args), "b c");
    assert_eq!(expand("{[10:]}", args), "");
    assert_eq!(expand("{[-100:100]}", args), "a b c d");
    assert_eq!(expand("{[3:0:-2]}", args), "d b");
    assert_eq!(expand("{ [0] }", args), "a");
    assert_eq!(expand("{[ 1 : 3 ]}", args), "b c");
    assert_eq!(expand("{[0]}-{[1]}", "  spaced\tout\nwords "), "spaced-out");
}

#[test]
fn literal_braces_are_kept() {
    assert_eq!(expand("echo ${HOME} {}", "a"), "echo ${HOME} a");
    assert_eq!(
        expand("awk '{print $1}' {}", "f.txt"),
        "awk '{print $1}' f.txt"
    );
    assert_eq!(
        expand("awk '{ if (x) {print} }' {}", "f"),
        "awk '{ if (x) {print} }' f"
    );
    assert_eq!(expand("{ a; b; } > {}", "out"), "{ a; b; } > out");
    assert_eq!(expand("echo {1..3} {a,b} {}", "z"), "echo {1..3} {a,b} z");
    assert_eq!(expand("echo ${arr[0]} {}", "z"), "echo ${arr[0]} z");
    assert_eq!(expand("{{}}", "z"), "{z}");
    assert_eq!(expand("} { {}", "z"), "} { z");
    assert_eq!(
        expand("find . -exec echo {{/}} \\;", "a/b"),
        "find . -exec echo {b} \\;"
    );
}

#[test]
fn templates_without_patterns_are_verbatim() {
    assert_eq!(expand("echo hello", "ignored"), "echo hello");
    assert_eq!(expand("echo ${HOME}", "ignored"), "echo ${HOME}");
    assert_eq!(
        expand("awk '{print $1}' data", "ignored"),
        "awk '{print $1}' data"
    );
    assert_eq!(expand("", "ignored"), "");
}

#[test]
fn command_patterns() {
    let args_var = format!("${{{ARGS_VAR}}}");
    let shell = Scripted(|script: &str, args: &str| match script {
        "basename" => Ok(format!("{args}\n\n").into_bytes()),
        "say" => Ok(b"  kept  \t\n".to_vec()),
        "fail" => Err(CommandFailure::Exited {
            code: 4,
            stderr: "nope".into(),
        }),
        _ => Ok(script.as_bytes().to_vec()),
    });
    let expand = |template: &str, args: &str| {
        Template::parse(template)
            .expect("parses")
            .expand(args, &shell)
    };
    // Output replaces the pattern, trailing whitespace removed, leading kept.
    assert_eq!(expand("x{% basename %}y", "a b"), Ok("xa by".into()));
    assert_eq!(expand("[{% say %}]", ""), Ok("[  kept]".into()));
    // `@` reaches the command as a reference to the args variable, never as the args' text.
    assert_eq!(
        expand("{% echo @ %}", "$(touch x)"),
        Ok(format!("echo {args_var}"))
    );
    let err = expand("run {% fail %}", "").expect_err("fails");
    assert_eq!(
        err.to_string(),
        "command `fail` from {% %} at column 5 exited with status 4: nope"
    );
}

#[test]
fn expression_patterns() {
    assert_eq!(expand("{= x*2 =}", "3"), "6");
    assert_eq!(expand("{= x/2 =}", "3"), "1.5");
    assert_eq!(expand("{= x + 1 =}", "1.5"), "2.5");
    assert_eq!(expand("{=x=}", "true"), "True");
    assert_eq!(expand("out_{= zfill(x, 3) =}.txt", "7"), "out_007.txt");
    assert_eq!(expand("{= x.split('_')[0] =}/{}", "a_b"), "a/a_b");
    assert_eq!(expand("{= 'big' if x > 10 else 'small' =}", "11"), "big");
    assert_eq!(expand("{= x + '=}' =}", "a"), "a=}");
    assert_eq!(expand("{= '{' + x + '}' =}", "a"), "{a}");
    assert_eq!(expand("{= 2 ** 3 ** 2 =}", ""), "512");
}

#[test]
fn patterns_combine() {
    assert_eq!(
        expand("cp {} {..}/{/-}_{= len(args) =}{+} {[0]}", "/p/q/r.csv"),
        "cp /p/q/r.csv /p/r_10.csv /p/q/r.csv"
    );
}

#[test]
fn identity_expansion_is_a_plain_copy() {
    let t = Template::parse("{}").expect("parses");
    assert!(matches!(t.body, Body::Identity));
    let t = Template::parse("echo ${X}").expect("parses");
    assert!(matches!(t.body, Body::Verbatim));
}

#[test]
fn unterminated_expression_and_command_errors() {
    let err = parse_err("echo {= x * 2");
    assert_eq!(err, TemplateError::UnterminatedExpression { column: 6 });
    assert!(
        err.to_string().starts_with(
            "unterminated {= … =} starting at column 6: close the expression with `=}`"
        ),
        "{err}"
    );
    let err = parse_err("{% date");
    assert_eq!(err, TemplateError::UnterminatedCommand { column: 1 });
    assert!(
        err.to_string().contains("close the command with `%}`"),
        "{err}"
    );
    assert!(
        parse_err("printf '{%s}\\n' {}")
            .to_string()
            .contains("separate `{` and `%`")
    );
}

#[test]
fn invalid_slice_errors_name_the_pattern() {
    assert_eq!(
        parse_err("cmd {[1:x]}").to_string(),
        "invalid slice {[1:x]} at column 5: `x` is not an integer; write {[i]}, {[start:stop]} \
         or {[start:stop:step]} with integers (each may be omitted)"
    );
    assert!(
        parse_err("{[1:2:0]}")
            .to_string()
            .starts_with("invalid slice {[1:2:0]} at column 1: the step cannot be zero")
    );
    assert!(
        parse_err("{[]}")
            .to_string()
            .contains("the brackets are empty")
    );
    assert!(
        parse_err("{[a]}")
            .to_string()
            .contains("`a` is not an integer")
    );
    assert!(parse_err("{[1:2:3:4]}").to_string().contains("at most two"));
    assert!(parse_err("{[1.5]}").to_string().contains("not an integer"));
}

#[test]
fn index_out_of_range_is_an_expand_error() {
    let err = expand_err("x {[4]}", "a b c d");
    assert_eq!(
        err.to_string(),
        "{[4]} at column 3: index 4 is out of range for args with 4 whitespace-separated \
         field(s) (valid: 0 to 3, or -4 to -1); use a slice such as {[4:]} to get an empty \
         result instead of an error"
    );
    assert!(matches!(
        expand_err("{[-5]}", "a b c d"),
        TemplateError::IndexOutOfRange {
            index: -5,
            len: 4,
            ..
        }
    ));
    assert!(
        expand_err("{[0]}", "")
            .to_string()
            .contains("valid: none, it is empty")
    );
}

#[test]
fn expression_syntax_errors_are_reported_at_parse_time() {
    assert_eq!(
        parse_err("echo {= x * =}").to_string(),
        "invalid expression {= x * =} at column 6: expected a value at column 13, found the end \
         of the expression"
    );
    assert!(
        parse_err("{= y =}")
            .to_string()
            .starts_with("invalid expression {= y =} at column 1: unknown name `y` at column 4")
    );
    assert!(
        parse_err("{= nope(x) =}")
            .to_string()
            .contains("unknown function `nope`")
    );
    assert!(
        parse_err("{= len(x, 1) =}")
            .to_string()
            .contains("`len` takes 1 argument")
    );
    assert!(
        parse_err("{==}")
            .to_string()
            .contains("the expression is empty")
    );
    assert!(
        parse_err("{= 'abc =}")
            .to_string()
            .contains("unterminated string")
    );
    assert!(
        parse_err("{% %}")
            .to_string()
            .contains("empty command in {% %} at column 1")
    );
}

#[test]
fn expression_evaluation_errors_name_pattern_and_args() {
    assert_eq!(
        expand_err("run {= x / 0 =}", "3").to_string(),
        "expression {= x / 0 =} at column 5 failed for args '3': division by zero"
    );
    assert_eq!(
        expand_err("{= x + 1 =}", "abc").to_string(),
        "expression {= x + 1 =} at column 1 failed for args 'abc': unsupported operand types \
         for `+`: str 'abc' and int 1; convert first, e.g. str(…) to join text or \
         int(…)/float(…) for arithmetic"
    );
}

#[test]
fn long_patterns_are_shortened_in_messages() {
    let long = format!("{{= x + {} =}}", "1 + ".repeat(40) + "'a'");
    let message = expand_err(&long, "1").to_string();
    assert!(message.contains('…'), "{message}");
    assert!(message.len() < 400, "{message}");
}

/// Python's `list[start:stop:step]`, written the obvious way from the language reference, to
/// check `slice.rs` against.
fn reference_slice(
    items: &[String],
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> Vec<String> {
    let len = items.len() as i64;
    let norm = |b: i64| if b < 0 { b + len } else { b };
    let mut out = Vec::new();
    if step > 0 {
        let start = start.map_or(0, |s| norm(s).clamp(0, len));
        let stop = stop.map_or(len, |s| norm(s).clamp(0, len));
        let mut i = start;
        while i < stop {
            out.push(items[i as usize].clone());
            i += step;
        }
    } else {
        let start = start.map_or(len - 1, |s| norm(s).clamp(-1, len - 1));
        let stop = stop.map_or(-1, |s| norm(s).clamp(-1, len - 1));
        let mut i = start;
        while i > stop {
            out.push(items[i as usize].clone());
            i += step;
        }
    }
    out
}

fn bound_text(b: Option<i64>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn braces_round_trip_any_args(args in any::<String>()) {
        prop_assert_eq!(expand("{}", &args), args.clone());
        prop_assert_eq!(expand("<{}>", &args), format!("<{args}>"));
    }

    #[test]
    fn slices_agree_with_python_semantics(
        words in prop::collection::vec("[a-z]{1,4}", 0..8),
        start in prop::option::of(-12i64..12),
        stop in prop::option::of(-12i64..12),
        step in prop_oneof![-5i64..=-1, 1i64..=5],
    ) {
        let args = words.join(" ");
        let template = format!("{{[{}:{}:{}]}}", bound_text(start), bound_text(stop), step);
        let expected = reference_slice(&words, start, stop, step).join(" ");
        prop_assert_eq!(expand(&template, &args), expected);
    }

    #[test]
    fn indices_agree_with_python_semantics(
        words in prop::collection::vec("[a-z]{1,4}", 0..8),
        index in -10i64..10,
    ) {
        let args = words.join(" ");
        let template = Template::parse(&format!("{{[{index}]}}")).expect("parses");
        let len = words.len() as i64;
        let resolved = if index < 0 { index + len } else { index };
        match expand_result(&template, &args) {
            Ok(word) => prop_assert_eq!(&word, &words[resolved as usize]),
            Err(e) => {
                prop_assert!(!(0..len).contains(&resolved));
                let is_out_of_range = matches!(e, TemplateError::IndexOutOfRange { .. });
                prop_assert!(is_out_of_range);
            }
        }
    }

    #[test]
    fn text_without_braces_expands_to_itself(text in "[^{]*", args in ".*") {
        prop_assert_eq!(expand(&text, &args), text.clone());
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = Template::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_pattern_soup(text in "[{}\\[\\]:=%@x0-9 .+*/()'\",<>a-z-]{0,40}") {
        let _ = Template::parse(&text);
    }

    /// Expanding any parsable template made of patterns, expressions and literal text never
    /// panics. (No `%` in the alphabet, so no shell command is ever run.)
    #[test]
    fn expand_never_panics(
        text in "[{}\\[\\]:=x0-9 .+*/()'\",<>a-z-]{0,40}",
        args in "[a-z0-9./ -]{0,12}",
    ) {
        if let Ok(template) = Template::parse(&text) {
            let _ = expand_result(&template, &args);
        }
    }
}

#[test]
fn named_fields_come_from_literal_text_and_are_filled_once() {
    let template = Template::parse("echo {a} {} {b} ${HOME} {% echo {c} %}").expect("parses");
    assert_eq!(template.field_names(), ["a", "b"]);
    let value = |name: &str| match name {
        "a" => Some("{b}".to_string()),
        "b" => Some("{}".to_string()),
        _ => None,
    };
    let shell = Scripted(|script: &str, _: &str| Ok(script.replace("echo ", "").into_bytes()));
    assert_eq!(
        template.expand_with_fields("{a}", &shell, &value),
        Ok("echo {b} {a} {} ${HOME} {c}".to_string())
    );
    let verbatim = Template::parse("echo {a}").expect("parses");
    assert_eq!(verbatim.field_names(), ["a"]);
    assert_eq!(
        verbatim.expand_with_fields("", &shell, &value),
        Ok("echo {b}".to_string())
    );
}

#[test]
fn errors_quoting_a_template_that_spans_lines_stay_on_one_line() {
    // Found by fuzzing: the reason and the expression's message quoted the text as written.
    for template in ["echo {[4\nx]}", "echo {= 1 +\n =}", "echo {=\n1/ =}"] {
        let message = parse_err(template).to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("\\n"), "{message}");
    }
    let failed = expand_result(&Template::parse("{= x[\n9] =}").unwrap(), "ab").unwrap_err();
    assert!(!failed.to_string().contains('\n'), "{failed}");
}
