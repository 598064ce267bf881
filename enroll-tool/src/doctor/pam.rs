//! Reading `/etc/pam.d` the way Linux-PAM does: one rule per line (`#` starts a comment, a
//! trailing `\` joins the next line), `@include FILE`, `TYPE include|substack FILE`, the
//! `[value=action ...]` control syntax, and the `auth` stack of each service with its includes
//! expanded. The checks that use it are in `pam_checks`.

use super::Root;
use super::control::{Control, parse_bracket};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Where Linux-PAM reads service files (below `--root`).
pub(crate) const PAM_DIR: &str = "/etc/pam.d";
/// Linux-PAM gives up on deeper include nesting (`PAM_SUBSTACK_MAX_LEVEL`).
const MAX_DEPTH: usize = 16;

/// One module line of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The file it is in (system path, e.g. `/etc/pam.d/common-auth`).
    pub(crate) file: String,
    /// Its first line number.
    pub(crate) line: usize,
    /// The control.
    pub(crate) control: Control,
    /// The module path as written (`pam_mfa.so` or an absolute path).
    pub(crate) module: String,
    /// The module arguments.
    pub(crate) args: Vec<String>,
}

impl Rule {
    /// The module's file name, e.g. `pam_unix.so`.
    pub(crate) fn module_name(&self) -> &str {
        self.module.rsplit('/').next().unwrap_or(&self.module)
    }
}

/// One entry of an expanded stack, with its substack depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    /// 0 at the top; +1 inside each `substack`.
    pub(crate) level: usize,
    /// What it is.
    pub(crate) kind: ItemKind,
}

/// Entries of an expanded stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A module.
    Rule(Rule),
    /// The `substack` line itself (its rules follow one level deeper).
    Substack,
    /// An include that cannot be read: Linux-PAM makes it a rule that always fails.
    Broken,
}

/// A parsed file: module rules and include lines for every type.
#[derive(Debug, Default)]
pub(crate) struct PamFile {
    entries: Vec<Entry>,
}

#[derive(Debug)]
enum Entry {
    Rule {
        ty: String,
        rule: Rule,
    },
    /// `@include` (ty `None`: every type) or `TYPE include|substack`.
    Include {
        ty: Option<String>,
        target: String,
        substack: bool,
        file: String,
        line: usize,
    },
}

impl PamFile {
    /// Parses the text of the file at system path `file`.
    pub(crate) fn parse(file: &str, text: &str) -> PamFile {
        let mut entries = Vec::new();
        for (line, content) in logical_lines(text) {
            let tokens = tokenize(&content);
            let Some(first) = tokens.first() else { continue };
            if first == "@include" {
                if let Some(target) = tokens.get(1) {
                    entries.push(Entry::Include {
                        ty: None,
                        target: target.clone(),
                        substack: false,
                        file: file.to_string(),
                        line,
                    });
                }
                continue;
            }
            let ty = first.trim_start_matches('-').to_ascii_lowercase();
            let (Some(control), Some(module)) = (tokens.get(1), tokens.get(2)) else { continue };
            let control_lc = control.to_ascii_lowercase();
            if control_lc == "include" || control_lc == "substack" {
                entries.push(Entry::Include {
                    ty: Some(ty),
                    target: module.clone(),
                    substack: control_lc == "substack",
                    file: file.to_string(),
                    line,
                });
                continue;
            }
            let control = match control_lc.as_str() {
                "required" => Control::Required,
                "requisite" => Control::Requisite,
                "sufficient" => Control::Sufficient,
                "optional" => Control::Optional,
                _ => Control::Bracket(parse_bracket(&control_lc)),
            };
            let rule = Rule {
                file: file.to_string(),
                line,
                control,
                module: module.clone(),
                args: tokens[3..].to_vec(),
            };
            entries.push(Entry::Rule { ty, rule });
        }
        PamFile { entries }
    }

    /// Targets of the include lines (for telling services from included files).
    pub(crate) fn includes(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Include { target, .. } => Some(target.as_str()),
            Entry::Rule { .. } => None,
        })
    }
}

/// Lines without comments, continuation lines joined, numbered by their first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        let (body, continued) = match raw.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        acc.push(' ');
        acc.push_str(body);
        if continued {
            pending = Some((start, acc));
        } else {
            out.push((start, strip_comment(&acc)));
        }
    }
    if let Some((start, acc)) = pending {
        out.push((start, strip_comment(&acc)));
    }
    out
}

fn strip_comment(line: &str) -> String {
    line.split('#').next().unwrap_or("").to_string()
}

/// Splits on blanks; `[ ... ]` is one token (with `\]` inside), as in Linux-PAM.
fn tokenize(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut tok = String::new();
        if c == '[' {
            while let Some(c) = chars.next() {
                if c == '\\' && chars.peek() == Some(&']') {
                    tok.push(']');
                    chars.next();
                    continue;
                }
                tok.push(c);
                if c == ']' {
                    break;
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        tokens.push(tok);
    }
    tokens
}

/// Every file of `/etc/pam.d`, and any included file outside it, parsed.
pub(crate) struct Tree {
    files: BTreeMap<String, Option<PamFile>>,
    broken: BTreeSet<BrokenInclude>,
}

/// An include line Linux-PAM cannot follow: the line then always fails.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BrokenInclude {
    /// The file with the include line.
    pub(crate) file: String,
    /// Its line.
    pub(crate) line: usize,
    /// The file it names.
    pub(crate) target: String,
    /// Includes itself or nests deeper than Linux-PAM follows, rather than missing.
    pub(crate) too_deep: bool,
}

impl Tree {
    /// Reads every regular file in `/etc/pam.d` below the root (not backups left by package
    /// managers or editors: Linux-PAM never reads those for a service).
    pub(crate) fn load(root: &Root) -> Result<Tree> {
        let dir = root.host(Path::new(PAM_DIR));
        let listing =
            std::fs::read_dir(&dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let mut tree = Tree { files: BTreeMap::new(), broken: BTreeSet::new() };
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_backup(&name) || !entry.path().is_file() {
                continue;
            }
            let sys = format!("{PAM_DIR}/{name}");
            let parsed = read(root, &sys)?;
            tree.files.insert(sys, parsed);
        }
        Ok(tree)
    }

    /// Service names: files that no other file includes (a file including itself still is
    /// one, so that the loop is found).
    pub(crate) fn services(&self) -> Vec<String> {
        let included: BTreeSet<String> = self
            .files
            .iter()
            .filter_map(|(name, file)| Some((name, file.as_ref()?)))
            .flat_map(|(name, file)| file.includes().map(system_path).filter(move |t| t != name))
            .collect();
        self.files
            .keys()
            .filter(|k| !included.contains(*k))
            .filter_map(|k| k.strip_prefix(&format!("{PAM_DIR}/")).map(str::to_string))
            .collect()
    }

    /// The `auth` stack of `service`, includes expanded.
    pub(crate) fn auth_stack(&mut self, root: &Root, service: &str) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut chain = Vec::new();
        self.expand(root, &format!("{PAM_DIR}/{service}"), 0, &mut chain, &mut out)?;
        Ok(out)
    }

    fn expand(
        &mut self,
        root: &Root,
        sys: &str,
        level: usize,
        chain: &mut Vec<String>,
        out: &mut Vec<Item>,
    ) -> Result<()> {
        chain.push(sys.to_string());
        self.readable(root, sys)?;
        enum Step {
            Rule(Rule),
            Include(String, bool, String, usize),
        }
        let mut steps = Vec::new();
        if let Some(Some(file)) = self.files.get(sys) {
            for e in &file.entries {
                match e {
                    Entry::Rule { ty, rule } if ty == "auth" => {
                        steps.push(Step::Rule(rule.clone()))
                    }
                    Entry::Include { ty, target, substack, file, line }
                        if ty.as_deref().is_none_or(|t| t == "auth") =>
                    {
                        steps.push(Step::Include(
                            system_path(target),
                            *substack,
                            file.clone(),
                            *line,
                        ))
                    }
                    _ => {}
                }
            }
        }
        for step in steps {
            match step {
                Step::Rule(rule) => out.push(Item { level, kind: ItemKind::Rule(rule) }),
                Step::Include(target, substack, file, line) => {
                    let inner = level + usize::from(substack);
                    if substack {
                        out.push(Item { level, kind: ItemKind::Substack });
                    }
                    let too_deep = chain.len() >= MAX_DEPTH || chain.contains(&target);
                    if too_deep || !self.readable(root, &target)? {
                        self.broken.insert(BrokenInclude { file, line, target, too_deep });
                        out.push(Item { level: inner, kind: ItemKind::Broken });
                    } else {
                        self.expand(root, &target, inner, chain, out)?;
                    }
                }
            }
        }
        chain.pop();
        Ok(())
    }

    fn readable(&mut self, root: &Root, sys: &str) -> Result<bool> {
        if !self.files.contains_key(sys) {
            let parsed = read(root, sys)?;
            self.files.insert(sys.to_string(), parsed);
        }
        Ok(matches!(self.files.get(sys), Some(Some(_))))
    }

    /// The includes met while expanding stacks that cannot be followed.
    pub(crate) fn broken_includes(&self) -> impl Iterator<Item = &BrokenInclude> {
        self.broken.iter()
    }
}

/// Linux-PAM opens relative include names in `/etc/pam.d`.
fn system_path(target: &str) -> String {
    if target.starts_with('/') { target.to_string() } else { format!("{PAM_DIR}/{target}") }
}

/// Reads and parses a file; `None` if it does not exist.
fn read(root: &Root, sys: &str) -> Result<Option<PamFile>> {
    let host = root.host(Path::new(sys));
    match std::fs::read(&host) {
        Ok(bytes) => Ok(Some(PamFile::parse(sys, &String::from_utf8_lossy(&bytes)))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::NotADirectory
                    | std::io::ErrorKind::IsADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::io(format!("read {}", host.display()), e)),
    }
}

fn is_backup(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp", ".rpmnew", ".rpmsave", ".bak"]
            .iter()
            .any(|s| name.ends_with(s))
        || name.contains(".ucf-")
}

#[cfg(test)]
#[path = "pam_tests.rs"]
mod tests;
