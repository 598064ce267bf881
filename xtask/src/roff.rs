//! Just enough roff (man macros) for the pages written here: escaped text, paragraphs of
//! comment lines, and literal blocks.

/// Escapes text for a roff text line: backslashes, hyphens (as `\-`, so options and paths can
/// be copied), non-ASCII characters (as `\[uXXXX]`), and a leading `.` or `'` (which would make
/// the line a request). `` `code` `` spans become bold.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    if s.starts_with(['.', '\'']) {
        out.push_str("\\&");
    }
    let mut in_code = false;
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '`' => {
                out.push_str(if in_code { "\\fR" } else { "\\fB" });
                in_code = !in_code;
            }
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    if in_code {
        out.push_str("\\fR");
    }
    out
}

/// Where a block of paragraphs is rendered: directly in a section, or in the body of a `.TP`
/// item (where a new paragraph must keep the item's indentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    /// Top level of a section: paragraphs start with `.PP`.
    Section,
    /// Body of a tagged paragraph: paragraphs start with `.IP`.
    Item,
}

/// Renders comment lines: an empty line separates paragraphs, consecutive lines of a paragraph
/// are filled, and lines that are indented or look like TOML (`key = ...`, `[table]`) are kept as
/// they are in a literal block, indented by at least two spaces.
pub(crate) fn paragraphs(lines: &[String], context: Context) -> String {
    // In an item's body, .RS (by the prevailing indent) brings the margin to the body's column.
    let (break_macro, literal_start, literal_end) = match context {
        Context::Section => (".PP\n", ".nf\n", ".fi\n"),
        Context::Item => (".IP\n", ".RS\n.nf\n", ".fi\n.RE\n"),
    };
    let mut out = String::new();
    let mut in_literal = false;
    let mut need_break = false;
    for line in lines {
        if line.is_empty() {
            if std::mem::replace(&mut in_literal, false) {
                out.push_str(literal_end);
            }
            need_break = true;
            continue;
        }
        let literal = is_literal(line);
        if in_literal && !literal {
            out.push_str(literal_end);
            in_literal = false;
            need_break = true;
        }
        if std::mem::replace(&mut need_break, false) {
            out.push_str(break_macro);
        }
        if literal && !in_literal {
            out.push_str(literal_start);
            in_literal = true;
        }
        if literal {
            let indent = if line.starts_with("  ") { "" } else { "  " };
            out.push_str(&format!("{indent}{}\n", text(line)));
        } else {
            out.push_str(&format!("{}\n", text(line.trim_start())));
        }
    }
    if in_literal {
        out.push_str(literal_end);
    }
    out
}

/// Lines kept verbatim: indented lines (lists, examples) and commented-out TOML.
fn is_literal(line: &str) -> bool {
    if line.starts_with(' ') || line.starts_with('[') {
        return true;
    }
    match line.split_once(" = ") {
        Some((key, _)) => {
            !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(text(".start"), "\\&.start");
        assert_eq!(text("a\\b --user x—y"), "a\\eb \\-\\-user x\\[u2014]y");
        assert_eq!(text("use `nullok` here"), "use \\fBnullok\\fR here");
        assert_eq!(text("open `code"), "open \\fBcode\\fR");
    }

    #[test]
    fn paragraphs_and_literal_blocks() {
        let lines: Vec<String> =
            ["Users:", "  false: deny", "  true: ignore", "More text", "", "Next", "[[rule]]"]
                .map(String::from)
                .to_vec();
        let out = paragraphs(&lines, Context::Item);
        assert_eq!(
            out,
            "Users:\n.RS\n.nf\n  false: deny\n  true: ignore\n.fi\n.RE\n.IP\nMore text\n.IP\n\
             Next\n.RS\n.nf\n  [[rule]]\n.fi\n.RE\n"
        );
        let lines: Vec<String> =
            ["a", "", "b", "", "x = 1", "", "y = 2"].map(String::from).to_vec();
        assert_eq!(
            paragraphs(&lines, Context::Section),
            "a\n.PP\nb\n.PP\n.nf\n  x = 1\n.fi\n.PP\n.nf\n  y = 2\n.fi\n"
        );
        assert!(is_literal("service = \"sshd\""));
        assert!(!is_literal("Allowed: 0-10. See x = y below"));
    }
}
