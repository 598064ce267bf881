//! `mfa-push-device`: a pam_mfa push device on the command line (see `--help`).

#![forbid(unsafe_code)]

use clap::Parser;
use mfa_server::device::cli::{Cli, Command};
use mfa_server::device::commands::{self, Outcome};
use push_proto::api::Decision;
use std::path::PathBuf;

fn default_key_file() -> Result<PathBuf, String> {
    let home = std::env::var_os("HOME").ok_or("--key-file is needed (HOME is not set)")?;
    Ok(PathBuf::from(home).join(".config/mfa-push-device/key.json"))
}

fn run(cli: Cli) -> Result<Outcome, String> {
    let key_file = match cli.key_file {
        Some(k) => k,
        None => default_key_file()?,
    };
    match cli.command {
        Command::Pair { uri, name, ca_file } => {
            if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                mfa_server::files::ensure_private_dir(dir)?;
            }
            commands::pair(&key_file, &uri, &name, ca_file.as_deref())
        }
        Command::Pending { wait, json } => commands::pending(&key_file, wait, json),
        Command::Approve { txid, number, wait, json } => commands::answer(
            &key_file,
            txid.as_deref(),
            Decision::Approve,
            Some(number),
            wait,
            json,
        ),
        Command::Deny { txid, wait, json } => {
            commands::answer(&key_file, txid.as_deref(), Decision::Deny, None, wait, json)
        }
        Command::Fraud { txid, wait, json } => {
            commands::answer(&key_file, txid.as_deref(), Decision::Fraud, None, wait, json)
        }
    }
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            if !out.stdout.is_empty() {
                println!("{}", out.stdout);
            }
            if let Some(e) = out.error {
                eprintln!("mfa-push-device: {e}");
            }
            if !out.ok {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("mfa-push-device: {e}");
            std::process::exit(1);
        }
    }
}
