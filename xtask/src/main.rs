//! `xtask`: generates the files the packages ship but the repository does not keep, so they
//! cannot drift from their sources:
//!
//! | output | source |
//! |---|---|
//! | `man/mfa-enroll*.1` | the clap definitions in `enroll-tool/src/cli.rs` |
//! | `man/pam_mfa.toml.5` | the comments of `config/pam_mfa.toml` |
//! | `man/pam_mfa.8` | `packaging/man/pam_mfa.8.in` (the version filled in) |
//! | `completions/{mfa-enroll.bash,_mfa-enroll,mfa-enroll.fish}` | the clap definitions |
//! | `man/mfa-server*.8`, `man/mfa-push-device*.1`, their completions | the clap definitions in `server/src/cli.rs` and `server/src/device/cli.rs`; FILES from `config/mfa-server.toml` |
//!
//! ```text
//! cargo run -p xtask -- docs OUT_DIR
//! ```
//!
//! `scripts/build-packages.sh` runs it; the tests here check that every output is generated.

mod config_doc;
mod config_man;
mod enroll_docs;
mod push_docs;
mod roff;

// The clap definitions of mfa-enroll, compiled here too. Only the parser's shape is used, so the
// fields and helpers the binary reads are dead code in this crate.
#[allow(dead_code)]
#[path = "../../enroll-tool/src/cli.rs"]
mod cli;

// The clap definitions of mfa-server and mfa-push-device, compiled here the same way. They are
// `pub` in their crate, hence unreachable here.
#[allow(dead_code, unreachable_pub)]
#[path = "../../server/src/device/cli.rs"]
mod push_device_cli;
#[allow(dead_code, unreachable_pub)]
#[path = "../../server/src/cli.rs"]
mod pushd_cli;

/// What `pushd_cli` uses of the service's `crate::config` (a test checks it is the same).
mod config {
    /// mfa-server's default configuration file.
    pub(crate) const DEFAULT_PATH: &str = "/etc/mfa-server/mfa-server.toml";
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The version on every page: the workspace version, which the packages carry too.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The hand-written source of pam_mfa(8).
const MODULE_PAGE_SOURCE: &str = include_str!("../../packaging/man/pam_mfa.8.in");

/// The documented default configuration.
const DEFAULT_CONFIG: &str = include_str!("../../config/pam_mfa.toml");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [cmd, dir] if cmd == "docs" => PathBuf::from(dir),
        _ => {
            eprintln!("usage: xtask docs OUT_DIR   (man pages and shell completions)");
            return ExitCode::from(2);
        }
    };
    match generate(&out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every generated file under `out` and returns their paths.
fn generate(out: &Path) -> Result<Vec<PathBuf>, String> {
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut written = Vec::new();
    let mut write = |path: PathBuf, content: &[u8]| -> Result<(), String> {
        std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
        Ok(())
    };
    for (name, page) in enroll_docs::man_pages()? {
        write(man.join(name), &page)?;
    }
    let config = config_doc::parse(DEFAULT_CONFIG)?;
    write(man.join("pam_mfa.toml.5"), config_man::render(&config, VERSION).as_bytes())?;
    write(man.join("pam_mfa.8"), module_page(MODULE_PAGE_SOURCE)?.as_bytes())?;
    for (name, page) in push_docs::man_pages()? {
        write(man.join(name), &page)?;
    }
    for (name, script) in enroll_docs::completions().into_iter().chain(push_docs::completions()) {
        write(completions.join(name), &script)?;
    }
    Ok(written)
}

/// Fills the version into pam_mfa(8); any other `@WORD@` left over is an error.
fn module_page(source: &str) -> Result<String, String> {
    let page = source.replace("@VERSION@", VERSION);
    let leftover = page
        .split('@')
        .skip(1)
        .step_by(2)
        .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    match leftover {
        Some(word) => Err(format!("packaging/man/pam_mfa.8.in: unknown placeholder @{word}@")),
        None => Ok(page),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_every_file() {
        let dir = std::env::temp_dir().join(format!("xtask-docs-{}", std::process::id()));
        let files = generate(&dir).expect("generation works");
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
            .collect();
        for expected in [
            "man/mfa-enroll.1",
            "man/mfa-enroll-totp.1",
            "man/pam_mfa.toml.5",
            "man/pam_mfa.8",
            "completions/mfa-enroll.bash",
            "completions/_mfa-enroll",
            "completions/mfa-enroll.fish",
            "man/mfa-server.8",
            "man/mfa-server-host-add.8",
            "man/mfa-push-device.1",
            "man/mfa-push-device-pair.1",
            "completions/mfa-server.bash",
            "completions/_mfa-push-device",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
        }
        for f in &files {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size > 100, "{} has content", f.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn module_page_gets_the_version() {
        let page = module_page(MODULE_PAGE_SOURCE).unwrap();
        assert!(page.starts_with(".TH PAM_MFA 8"));
        assert!(page.contains(&format!("pam_mfa {VERSION}")));
        assert!(module_page(".TH X @OTHER@").unwrap_err().contains("@OTHER@"));
        assert!(module_page("mail@example.org and @VERSION@").is_ok());
    }

    /// The lines of `page` from `.SH start` up to the next `.SH`.
    fn section<'a>(page: &'a str, start: &str) -> Vec<&'a str> {
        page.lines()
            .skip_while(|l| *l != format!(".SH {start}"))
            .skip(1)
            .take_while(|l| !l.starts_with(".SH "))
            .collect()
    }

    #[test]
    fn module_page_documents_every_module_argument() {
        // The arguments `ModuleArgs::parse` in login/src/config.rs accepts: `arg == "NAME"` and
        // `arg.strip_prefix("NAME=")`.
        let core = include_str!("../../login/src/config.rs");
        let parse = core.split("fn parse<'a>(args").nth(1).expect("ModuleArgs::parse");
        let parse = &parse[..parse.find("\n    }\n").expect("end of ModuleArgs::parse")];
        let accepted: Vec<&str> = ["arg == \"", "strip_prefix(\""]
            .iter()
            .flat_map(|p| parse.split(p).skip(1).map(|s| &s[..s.find('"').expect("quote")]))
            .collect();
        assert!(accepted.contains(&"nullok"), "argument extraction: {accepted:?}");

        let page = MODULE_PAGE_SOURCE;
        let synopsis: Vec<String> = section(page, "SYNOPSIS")
            .iter()
            .filter_map(|l| l.strip_prefix(".RB [ ")?.strip_suffix(" ]"))
            .map(|a| a.split('\\').next().unwrap_or(a).to_string())
            .collect();
        let options = section(page, "OPTIONS");
        let options: Vec<&str> = options
            .windows(2)
            .filter(|w| w[0] == ".TP")
            .filter_map(|w| w[1].split_whitespace().nth(1))
            .collect();
        for arg in &accepted {
            assert!(synopsis.iter().any(|s| s == arg), "{arg} missing from SYNOPSIS: {synopsis:?}");
            assert!(options.contains(arg), "{arg} missing from OPTIONS: {options:?}");
        }
        for arg in &synopsis {
            let example = if arg.ends_with('=') { format!("{arg}/x") } else { arg.clone() };
            mfa_login::config::ModuleArgs::parse([example.as_str()])
                .unwrap_or_else(|e| panic!("SYNOPSIS names {arg}, which the module refuses: {e}"));
        }
    }
}
