//! mfa-server(8) and mfa-push-device(1), a page per subcommand of each (mfa-server-host-add(8),
//! mfa-push-device-pair(1), ...), and their bash, zsh and fish completions, from the clap
//! definitions the binaries use (`server/src/cli.rs`, `server/src/device/cli.rs`).
//! The FILES of mfa-server(8) are the paths of the packaged configuration
//! (`config/mfa-server.toml`).

use crate::enroll_docs::{add_pages, completions_of, see_also};
use crate::roff::{self, Context};
use clap::CommandFactory;

/// The configuration the packages install as `/etc/mfa-server/mfa-server.toml`.
const PACKAGED_CONFIG: &str = include_str!("../../config/mfa-server.toml");

/// What the unit file, the package and the admin commands have in common, for mfa-server(8).
const SERVICE_TEXT: &str = "\
The packages install the systemd unit mfa-server.service, which runs `mfa-server serve` as the \
system user mfa-server, with /var/lib/mfa-server and /var/log/mfa-server as the only writable \
directories. It is installed disabled and starts only once the configuration has a \
public_url and the TLS files exist:

  sudo runuser -u mfa-server -- \\
      mfa-server tls-init --out-dir /etc/mfa-server/tls --name push.example.org --ip 192.0.2.10
  sudoedit /etc/mfa-server/mfa-server.toml     # public_url, listen
  sudo systemctl enable --now mfa-server

Run tls-init and the administration commands (host, user, device) as the mfa-server user, as \
above: the database and the service key belong to it, and the service refuses a key file it \
does not own. A host credential written by `host add` (for example to \
/var/lib/mfa-server/web1.json) goes, owned by root with mode 0600, to /etc/pam_mfa/push-host.json \
on that host.

A source install (scripts/install-server.sh in the source tree) creates the same user, \
directories and configuration, and the same unit as /etc/systemd/system/mfa-server.service, with \
the binaries in /usr/local/bin. Where systemd does not run, start the service in the background \
as that user:

  sudo setsid -f runuser -u mfa-server -- sh -c \\
      'umask 077; exec mfa-server serve >>/var/log/mfa-server/mfa-server.log 2>&1'";

/// mfa-server's command line, without the `help` subcommand (which has no page).
fn pushd_command() -> clap::Command {
    prepared(crate::pushd_cli::Cli::command())
}

/// mfa-push-device's command line, without the `help` subcommand.
fn device_command() -> clap::Command {
    prepared(crate::push_device_cli::Cli::command())
}

/// `cmd` without the `help` subcommand, and with the summary of its doc comment
/// ("mfa-server: the central MFA service of pam_mfa.") as `about`, the NAME line:
/// the bare `#[command(about)]` of the binaries means the crate's description, which compiled
/// here would be xtask's.
fn prepared(cmd: clap::Command) -> clap::Command {
    let name = cmd.get_name().to_string();
    let summary = cmd
        .get_long_about()
        .map(|l| l.to_string())
        .and_then(|l| l.lines().next().map(str::to_string))
        .unwrap_or_default();
    let summary = summary.strip_prefix(&format!("{name}: ")).unwrap_or(&summary);
    let summary = summary.trim_end_matches('.').to_string();
    let mut cmd = cmd.disable_help_subcommand(true).about(summary);
    cmd.build();
    cmd
}

/// `(file name, page)` of mfa-server(8), mfa-push-device(1) and their subcommands' pages.
pub(crate) fn man_pages() -> Result<Vec<(String, Vec<u8>)>, String> {
    let config: toml::Table = toml::from_str(PACKAGED_CONFIG)
        .map_err(|e: toml::de::Error| format!("config/mfa-server.toml: {}", e.message()))?;
    let path = |key: &str| -> Result<String, String> {
        config
            .get(key)
            .and_then(toml::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("config/mfa-server.toml: no {key}"))
    };
    let files = [
        (crate::config::DEFAULT_PATH.to_string(), "The configuration; --config names another."),
        (path("data_dir")?, "The database (pushd.db) and the service's signing key (service.key)."),
        (path("tls_cert")?, "The certificate chain the service presents."),
        (path("tls_key")?, "Its private key: mode 0600, owned by the service user."),
        (path("audit_log")?, "The JSON-lines audit log."),
    ];
    let mut pushd_extra = String::from(".SH SERVICE\n");
    let service: Vec<String> = SERVICE_TEXT.lines().map(str::to_string).collect();
    pushd_extra.push_str(&roff::paragraphs(&service, Context::Section));
    pushd_extra.push_str(".SH FILES\n");
    for (file, what) in files {
        pushd_extra.push_str(&format!(".TP\n.I {}\n{}\n", roff::text(&file), roff::text(what)));
    }
    let pushd_extra = move |related: &[String]| {
        format!(
            "{pushd_extra}{}",
            see_also(related, "8", &["mfa\\-push\\-device (1)", "pam_mfa (8)"])
        )
    };
    let device_extra = |related: &[String]| see_also(related, "1", &["mfa\\-server (8)"]);
    let mut pages = Vec::new();
    add_pages(&pushd_command(), None, "8", &pushd_extra, &mut pages)?;
    add_pages(&device_command(), None, "1", &device_extra, &mut pages)?;
    Ok(pages)
}

/// `(file name, script)`: bash, zsh and fish completions of both programs.
pub(crate) fn completions() -> Vec<(String, Vec<u8>)> {
    let mut all = completions_of(&pushd_command());
    all.extend(completions_of(&device_command()));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(pages: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        let (_, page) = pages.iter().find(|(n, _)| n == name).unwrap_or_else(|| {
            panic!("{name} not in {names:?}");
        });
        std::str::from_utf8(page).unwrap()
    }

    #[test]
    fn pages_of_both_programs_and_every_subcommand() {
        let pages = man_pages().unwrap();
        let pushd = page(&pages, "mfa-server.8");
        assert!(pushd.contains("\n.TH mfa-server 8 "));
        assert!(pushd.contains("\\-\\-config") && pushd.contains(".SH SERVICE"));
        // NAME is the doc comment's summary, not a crate description.
        assert!(pushd.contains("mfa\\-server \\- the central MFA service of pam_mfa\n"));
        assert!(!pushd.contains("generators"));
        // FILES come from the packaged configuration.
        for path in ["/etc/mfa\\-server/mfa\\-server.toml", "/var/lib/mfa\\-server", "audit.log"] {
            assert!(pushd.contains(path), "{path}");
        }
        assert!(pushd.contains(".BR mfa\\-server\\-host (8)"));
        let add = page(&pages, "mfa-server-host-add.8");
        assert!(add.contains("\\-\\-out") && add.contains(".BR mfa\\-server\\-host (8)"));
        let tls = page(&pages, "mfa-server-tls-init.8");
        assert!(tls.contains("\\-\\-out\\-dir") && tls.contains("\\-\\-ip"));
        assert!(tls.contains("\\-\\-ca\\-key") && tls.contains("825 days"));
        let device = page(&pages, "mfa-push-device.1");
        assert!(device.contains("\n.TH mfa-push-device 1 "));
        assert!(
            device.contains("mfa\\-push\\-device \\- a pam_mfa push device on the command line\n")
        );
        assert!(device.contains("\\-\\-key\\-file") && device.contains(".BR mfa\\-server (8)"));
        let approve = page(&pages, "mfa-push-device-approve.1");
        assert!(approve.contains("\\-\\-number"));
        for cmd in [pushd_command(), device_command()] {
            for sub in cmd.get_subcommands() {
                let section = if cmd.get_name() == "mfa-server" { 8 } else { 1 };
                page(&pages, &format!("{}-{}.{section}", cmd.get_name(), sub.get_name()));
            }
        }
    }

    #[test]
    fn completions_know_the_subcommands() {
        let all = completions();
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "mfa-server.bash",
                "_mfa-server",
                "mfa-server.fish",
                "mfa-push-device.bash",
                "_mfa-push-device",
                "mfa-push-device.fish"
            ]
        );
        for (file, script) in all {
            let script = String::from_utf8(script).unwrap();
            let sub = if file.contains("device") { "approve" } else { "tls-init" };
            assert!(script.contains(sub), "{file} lacks {sub}");
        }
    }

    #[test]
    fn default_config_path_is_the_service_one() {
        // server/src/cli.rs names `crate::config::DEFAULT_PATH`; xtask's copy must be
        // the service's own constant.
        let service = include_str!("../../server/src/config.rs");
        let want = format!("pub const DEFAULT_PATH: &str = \"{}\";", crate::config::DEFAULT_PATH);
        assert!(service.contains(&want), "server/src/config.rs lacks {want}");
    }
}
