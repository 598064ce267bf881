//! Reads the documented default configuration (`config/pam_mfa.toml`) into a model of its
//! comments and keys, for the pam_mfa.toml(5) man page.
//!
//! The comments in that file are the single source of the key documentation:
//!
//! * the comment lines at the top, up to the first blank line, are the introduction;
//! * after that, the comments above a key (blank lines between them make paragraphs) document
//!   the key, and the comments above a `[table]` or `[[array]]` header document the table;
//! * keys on the lines right after a documented key, without a comment or blank line between,
//!   share its comment;
//! * comments after the last key are notes about the whole file.
//!
//! Every key must be documented, and the keys read line by line are checked against a real TOML
//! parse, so a key this reader misses is an error instead of a silent gap in the man page.

use std::collections::BTreeSet;
use std::fmt::Write;

/// The whole file: introduction and tables (the root table first, unnamed).
#[derive(Debug)]
pub(crate) struct ConfigDoc {
    /// The comment lines at the top of the file, up to the first blank line.
    pub(crate) intro: Vec<String>,
    /// The root table (`name` empty) followed by every table in file order.
    pub(crate) tables: Vec<TableDoc>,
    /// Comment lines after the last key: notes about the file as a whole.
    pub(crate) notes: Vec<String>,
}

/// One `[table]` or `[[array]]` (documented once even when the header repeats).
#[derive(Debug)]
pub(crate) struct TableDoc {
    /// Dotted table name; empty for the root table.
    pub(crate) name: String,
    /// True for `[[array]]` tables.
    pub(crate) is_array: bool,
    /// The comment block directly above the header.
    pub(crate) doc: Vec<String>,
    /// The keys in file order, grouped as documented.
    pub(crate) groups: Vec<KeyGroup>,
}

/// Keys documented together: one key with the comment above it, followed by the keys on the
/// lines right after it that have no comment of their own (`window`, `duration` after
/// `max_failures`, say).
#[derive(Debug)]
pub(crate) struct KeyGroup {
    /// The keys, in file order (at least one).
    pub(crate) keys: Vec<Key>,
    /// The comment above the first key (never empty).
    pub(crate) doc: Vec<String>,
}

/// One key and its default.
#[derive(Debug)]
pub(crate) struct Key {
    /// The key as written (relative to its table).
    pub(crate) name: String,
    /// The default value in TOML syntax.
    pub(crate) default: String,
}

/// Parses the file. Errors name the line and say how to fix the file.
pub(crate) fn parse(text: &str) -> Result<ConfigDoc, String> {
    let parsed: toml::Table =
        text.parse().map_err(|e| format!("config/pam_mfa.toml is not valid TOML: {e}"))?;
    let mut r = Reader {
        parsed: &parsed,
        doc: ConfigDoc {
            intro: Vec::new(),
            tables: vec![TableDoc::new(String::new(), false, vec![])],
            notes: Vec::new(),
        },
        pending: Vec::new(),
        intro_done: false,
        after_key: false,
    };
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line = raw.trim();
        let line_no = index + 1;
        let follows_key = std::mem::replace(&mut r.after_key, false);
        if let Some(comment) = line.strip_prefix('#') {
            r.pending.push(comment.strip_prefix(' ').unwrap_or(comment).trim_end().to_string());
            continue;
        }
        if line.is_empty() {
            r.blank_line();
            continue;
        }
        r.intro_done = true;
        let comments = take_block(&mut r.pending);
        if let Some(header) = table_header(line) {
            let (name, is_array) = header.map_err(|e| format!("line {line_no}: {e}"))?;
            r.table(name, is_array, comments, line_no)?;
            continue;
        }
        let (key, value) = key_and_value(line, raw, line_no)?;
        let value_text = whole_value(value, &mut lines, line_no, &key)?;
        r.after_key = true;
        r.key(key, value_text, comments, follows_key, line_no)?;
    }
    let mut doc = r.doc;
    doc.notes = take_block(&mut r.pending);
    check_against_toml(&doc, &parsed)?;
    Ok(doc)
}

/// The state of [`parse`] between lines.
struct Reader<'a> {
    /// The file as TOML parses it: the defaults shown come from here.
    parsed: &'a toml::Table,
    /// What has been read so far.
    doc: ConfigDoc,
    /// Comment lines not yet attached to anything.
    pending: Vec<String>,
    /// Whether the introduction is behind us.
    intro_done: bool,
    /// True right after a key line: a key on the next line may share that key's comment.
    after_key: bool,
}

impl Reader<'_> {
    /// A blank line: the end of the introduction, or a paragraph break in the pending comment.
    fn blank_line(&mut self) {
        if !self.intro_done && !self.pending.is_empty() {
            self.doc.intro = std::mem::take(&mut self.pending);
            self.intro_done = true;
        } else if self.pending.last().is_some_and(|l| !l.is_empty()) {
            self.pending.push(String::new());
        }
    }

    /// A table header documented by `comments`; an `[[array]]` header repeated adds to its
    /// comment, any other repeat is an error.
    fn table(
        &mut self,
        name: String,
        is_array: bool,
        comments: Vec<String>,
        line_no: usize,
    ) -> Result<(), String> {
        match self.doc.tables.iter_mut().find(|t| t.name == name) {
            Some(t) if t.is_array && is_array => append_paragraph(&mut t.doc, comments),
            Some(_) => return Err(format!("line {line_no}: table [{name}] defined twice")),
            None => self.doc.tables.push(TableDoc::new(name, is_array, comments)),
        }
        Ok(())
    }

    /// A key of the current table, written as `value_text`, documented by `comments` or (when
    /// `follows_key`) sharing the previous key's comment.
    fn key(
        &mut self,
        key: String,
        value_text: String,
        comments: Vec<String>,
        follows_key: bool,
        line_no: usize,
    ) -> Result<(), String> {
        let table = self.doc.tables.last_mut().expect("the root table is always there");
        let existing = table.groups.iter_mut().find(|g| g.keys.iter().any(|k| k.name == key));
        if let Some(group) = existing {
            // A key repeated in a later [[array]] entry may rely on the first entry's comment.
            if !table.is_array {
                return Err(format!("line {line_no}: key {key} defined twice"));
            }
            append_paragraph(&mut group.doc, comments);
            return Ok(());
        }
        let path = dotted(&table.name, &key);
        let default = lookup(self.parsed, &path).map(toml_text).unwrap_or(value_text);
        let key = Key { name: key, default };
        match table.groups.last_mut() {
            _ if !comments.is_empty() => {
                table.groups.push(KeyGroup { keys: vec![key], doc: comments })
            }
            Some(group) if follows_key => group.keys.push(key),
            _ => {
                return Err(format!(
                    "line {line_no}: key {} has no comment above it; every key in \
                     config/pam_mfa.toml is documented there (it becomes pam_mfa.toml(5))",
                    key.name
                ));
            }
        }
        Ok(())
    }
}

/// The key (unquoted) and the value text of a `key = value` line.
fn key_and_value<'l>(
    line: &'l str,
    raw: &str,
    line_no: usize,
) -> Result<(String, &'l str), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!(
            "line {line_no}: cannot read {raw:?} (expected a comment, a key or a table)"
        ));
    };
    let key = key.trim().trim_matches('"').to_string();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!("line {line_no}: cannot read the key in {raw:?}"));
    }
    Ok((key, value))
}

/// A value spanning several lines (array, multi-line string) is read on from `lines` to its
/// end; the default shown is taken from the TOML parse.
fn whole_value<'t>(
    value: &str,
    lines: &mut impl Iterator<Item = (usize, &'t str)>,
    line_no: usize,
    key: &str,
) -> Result<String, String> {
    let mut value_text = value.trim().to_string();
    while !value_complete(&value_text) {
        let Some((_, next)) = lines.next() else {
            return Err(format!("line {line_no}: the value of {key} never ends"));
        };
        value_text.push('\n');
        value_text.push_str(next);
    }
    Ok(value_text)
}

/// Takes the pending comment lines, without leading or trailing paragraph breaks.
fn take_block(pending: &mut Vec<String>) -> Vec<String> {
    let mut block = std::mem::take(pending);
    while block.last().is_some_and(String::is_empty) {
        block.pop();
    }
    let leading = block.iter().take_while(|l| l.is_empty()).count();
    block.drain(..leading);
    block
}

impl TableDoc {
    fn new(name: String, is_array: bool, doc: Vec<String>) -> TableDoc {
        TableDoc { name, is_array, doc, groups: Vec::new() }
    }
}

/// `[name]` → `(name, false)`, `[[name]]` → `(name, true)`; `None` when `line` is no header.
fn table_header(line: &str) -> Option<Result<(String, bool), String>> {
    let (inner, is_array) = if let Some(rest) = line.strip_prefix("[[") {
        (rest.split_once("]]").map(|(name, _)| name), true)
    } else if let Some(rest) = line.strip_prefix('[') {
        (rest.split_once(']').map(|(name, _)| name), false)
    } else {
        return None;
    };
    Some(match inner {
        Some(name) if !name.trim().is_empty() => Ok((name.trim().to_string(), is_array)),
        _ => Err(format!("cannot read the table header {line:?}")),
    })
}

/// True when a value's text is complete: brackets balanced and no open multi-line string.
/// Brackets in strings and comments are ignored.
fn value_complete(text: &str) -> bool {
    if text.matches("\"\"\"").count() % 2 == 1 || text.matches("'''").count() % 2 == 1 {
        return false;
    }
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_comment = false;
    for c in text.chars() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '#' => in_comment = true,
                _ => {}
            },
        }
    }
    depth <= 0
}

/// Appends a comment block as a new paragraph (an empty line separates paragraphs).
fn append_paragraph(target: &mut Vec<String>, block: Vec<String>) {
    if block.is_empty() {
        return;
    }
    if !target.is_empty() {
        target.push(String::new());
    }
    target.extend(block);
}

fn dotted(table: &str, key: &str) -> String {
    if table.is_empty() { key.to_string() } else { format!("{table}.{key}") }
}

/// The value at a dotted path, looking into the first entry of arrays of tables.
fn lookup<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut current = table;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part)?;
        if parts.peek().is_none() {
            return Some(value);
        }
        current = match value {
            toml::Value::Table(t) => t,
            toml::Value::Array(a) => a.first()?.as_table()?,
            _ => return None,
        };
    }
    None
}

/// Every key's dotted path (keys inside arrays of tables as `array.key`); tables themselves
/// are not keys, and inline tables count as one key's value.
fn toml_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = dotted(prefix, key);
        match value {
            toml::Value::Table(t) => toml_keys(t, &path, out),
            toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
                for entry in a.iter().filter_map(toml::Value::as_table) {
                    toml_keys(entry, &path, out);
                }
            }
            _ => {
                out.insert(path);
            }
        }
    }
}

/// The keys read line by line must cover exactly the keys TOML sees: each TOML key is a key
/// read (or lies inside one, for an inline table), and each key read exists in TOML.
fn check_against_toml(doc: &ConfigDoc, parsed: &toml::Table) -> Result<(), String> {
    let mut in_toml = BTreeSet::new();
    toml_keys(parsed, "", &mut in_toml);
    let read: BTreeSet<String> = doc
        .tables
        .iter()
        .flat_map(|t| t.groups.iter().flat_map(|g| &g.keys).map(|k| dotted(&t.name, &k.name)))
        .collect();
    let covers = |outer: &String, inner: &String| {
        inner == outer || inner.strip_prefix(outer.as_str()).is_some_and(|r| r.starts_with('.'))
    };
    let missed: Vec<_> = in_toml.iter().filter(|t| !read.iter().any(|r| covers(r, t))).collect();
    let extra: Vec<_> = read.iter().filter(|r| !in_toml.iter().any(|t| covers(r, t))).collect();
    if missed.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the man page generator read config/pam_mfa.toml differently from TOML (keys missed: \
         {missed:?}, keys not in TOML: {extra:?}); write one key per line, or teach \
         xtask/src/config_doc.rs the new form"
    ))
}

/// A parsed value written back in TOML syntax (the `toml` crate is built without `display`).
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => {
                        let _ = write!(out, "\\u{:04X}", u32::from(c));
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => format!("{f:?}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(a) => {
            format!("[{}]", a.iter().map(toml_text).collect::<Vec<_>>().join(", "))
        }
        toml::Value::Table(t) => {
            let items: Vec<_> = t.iter().map(|(k, v)| format!("{k} = {}", toml_text(v))).collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

#[cfg(test)]
#[path = "config_doc_tests.rs"]
mod tests;
