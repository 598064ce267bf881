//! mfa-enroll(1), one page per subcommand (mfa-enroll-totp(1), ...), and the bash, zsh and fish
//! completions, all from the clap definitions that the binary uses. The page and completion
//! builders are shared with `push_docs` (mfa-server(8), mfa-push-device(1)).

use crate::cli::Cli;
use crate::roff::{self, Context};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use mfa_login::config::{Config, DEFAULT_PATH};

/// The command line as the binary builds it (without the `help` subcommand, which has no page).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `(file name, page)` for mfa-enroll(1) and each subcommand's page, nested ones included.
pub(crate) fn man_pages() -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut pages = Vec::new();
    add_pages(&command(), None, "1", &main_extra, &mut pages)?;
    Ok(pages)
}

/// Adds the page of `cmd` (in manual `section`) and, recursively, of its visible subcommands.
/// The top page ends with `main_extra(related pages)`, the others with SEE ALSO.
pub(crate) fn add_pages(
    cmd: &clap::Command,
    parent: Option<&str>,
    section: &str,
    main_extra: &dyn Fn(&[String]) -> String,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    let subcommands: Vec<&clap::Command> =
        cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut related: Vec<String> = parent.map(str::to_string).into_iter().collect();
    related.extend(subcommands.iter().map(|s| page_name(s)));
    let extra = match parent {
        None => main_extra(&related),
        Some(_) => see_also(&related, section, &[]),
    };
    pages.push(page(cmd, section, &extra)?);
    let name = page_name(cmd);
    for sub in subcommands {
        add_pages(sub, Some(&name), section, main_extra, pages)?;
    }
    Ok(())
}

/// The page's name: the command's display name (`mfa-enroll-totp`).
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string()
}

/// One page: clap_mangen's title, name, synopsis, description, options and subcommands, then
/// the command's `after_help` as EXAMPLES (and NOTES), then `extra` (hand-written sections).
fn page(cmd: &clap::Command, section: &str, extra: &str) -> Result<(String, Vec<u8>), String> {
    let man = Man::new(cmd.clone())
        .section(section)
        .source(format!("pam_mfa {}", crate::VERSION))
        .manual("pam_mfa Manual");
    let mut out = Vec::new();
    let clap_sections = |out: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        if cmd.has_subcommands() {
            man.render_subcommands_section(out)?;
        }
        Ok(())
    };
    clap_sections(&mut out).map_err(|e| format!("rendering {}: {e}", page_name(cmd)))?;
    if let Some(after) = cmd.get_after_help() {
        out.extend_from_slice(after_help(&after.to_string()).as_bytes());
    }
    out.extend_from_slice(extra.as_bytes());
    Ok((man.get_filename(), out))
}

/// `after_help` text: a leading "Example(s):" block becomes EXAMPLES, the rest NOTES.
fn after_help(text: &str) -> String {
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (examples, notes) = match lines.first().map(String::as_str) {
        Some("Example:" | "Examples:") => {
            let end = lines.iter().position(String::is_empty).unwrap_or(lines.len());
            (&lines[1..end], &lines[end..])
        }
        _ => (&lines[..0], &lines[..]),
    };
    let mut out = String::new();
    if !examples.is_empty() {
        out.push_str(".SH EXAMPLES\n");
        out.push_str(&roff::paragraphs(examples, Context::Section));
    }
    let notes: Vec<String> = notes.iter().skip_while(|l| l.is_empty()).cloned().collect();
    if !notes.is_empty() {
        out.push_str(".SH NOTES\n");
        out.push_str(&roff::paragraphs(&notes, Context::Section));
    }
    out
}

/// SEE ALSO: the related pages (in `section`), then `others` (already in `name (section)` form).
pub(crate) fn see_also(pages: &[String], section: &str, others: &[&str]) -> String {
    let mut items: Vec<String> =
        pages.iter().map(|p| format!(".BR {} ({section})", roff::text(p))).collect();
    items.extend(others.iter().map(|o| format!(".BR {o}")));
    format!(".SH SEE ALSO\n{}\n", items.join(",\n"))
}

/// FILES and SEE ALSO of mfa-enroll(1); the paths are the defaults mfa-login uses.
fn main_extra(sub_pages: &[String]) -> String {
    let store = Config::default().store;
    let mut out = String::from(".SH FILES\n");
    for (path, what) in [
        (
            DEFAULT_PATH.to_string(),
            "The configuration (see pam_mfa.toml(5)); --config names another.",
        ),
        (store.master_key.display().to_string(), "The master key encrypting every user's record."),
        (store.state_dir.display().to_string(), "The encrypted per-user records and their locks."),
    ] {
        out.push_str(&format!(".TP\n.I {}\n{}\n", roff::text(&path), roff::text(what)));
    }
    out.push_str(&see_also(sub_pages, "1", &["pam_mfa (8)", "pam_mfa.toml (5)"]));
    out
}

/// `(file name, script)` for bash, zsh and fish, named as those shells look them up.
pub(crate) fn completions() -> Vec<(String, Vec<u8>)> {
    completions_of(&command())
}

/// `(file name, script)` for bash (`BIN.bash`), zsh (`_BIN`) and fish (`BIN.fish`) of `cmd`.
pub(crate) fn completions_of(cmd: &clap::Command) -> Vec<(String, Vec<u8>)> {
    let bin = cmd.get_name().to_string();
    [
        (Shell::Bash, format!("{bin}.bash")),
        (Shell::Zsh, format!("_{bin}")),
        (Shell::Fish, format!("{bin}.fish")),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), &bin, &mut script);
        (file, script)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_subcommand_with_its_options() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for sub in command().get_subcommands() {
            let file = format!("mfa-enroll-{}.1", sub.get_name());
            assert!(names.contains(&file.as_str()), "{file} in {names:?}");
        }
        let main = String::from_utf8(pages[0].1.clone()).unwrap();
        assert_eq!(pages[0].0, "mfa-enroll.1");
        assert!(main.contains(".SH EXAMPLES") && main.contains(".SH NOTES"));
        assert!(main.contains("\\-\\-user") && main.contains(".BR mfa\\-enroll\\-totp (1),"));
        assert!(main.contains("/etc/pam_mfa/master.key"));
        let totp = pages.iter().find(|(n, _)| n == "mfa-enroll-totp.1").unwrap();
        let totp = String::from_utf8(totp.1.clone()).unwrap();
        assert!(totp.contains("\\-\\-json") && totp.contains("\\-\\-qr"));
    }

    #[test]
    fn completions_know_the_subcommands() {
        for (file, script) in completions() {
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains("recovery-codes"), "{file}");
        }
    }
}
