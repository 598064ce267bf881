//! `mfa-pushd`: the service and its administration commands (see `mfa-pushd --help`).

#![forbid(unsafe_code)]

use clap::Parser;
use push_server::admin::Admin;
use push_server::cli::{
    Cli, Command, DeviceCommand, FleetCommand, FleetUserCommand, HostCommand, UserCommand,
};
use push_server::config::Config;

async fn run(cli: Cli) -> Result<String, String> {
    if let Command::TlsInit { out_dir, name, ip, ca_key } = &cli.command {
        let written = push_server::tlsinit::init(out_dir, name, ip, ca_key.as_deref())?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        return Ok(format!("wrote {}", names.join(", ")));
    }
    let config = Config::load(&cli.config)?;
    if let Command::Serve = cli.command {
        push_server::server::run(config).await?;
        return Ok(String::new());
    }
    let admin = Admin::open(config).await?;
    match cli.command {
        Command::Host(HostCommand::Add { name, out }) => admin.host_add(&name, &out).await,
        Command::Host(HostCommand::Revoke { name }) => admin.host_revoke(&name).await,
        Command::Host(HostCommand::List { json }) => admin.host_list(json).await,
        Command::User(UserCommand::List { json }) => admin.user_list(json).await,
        Command::Device(DeviceCommand::List { user, json }) => {
            admin.device_list(user.as_deref(), json).await
        }
        Command::Device(DeviceCommand::Revoke { id }) => admin.device_revoke(&id).await,
        Command::Fleet(FleetCommand::User(c)) => fleet_user(&admin, c).await,
        Command::Serve | Command::TlsInit { .. } => Ok(String::new()),
    }
}

async fn fleet_user(admin: &Admin, c: FleetUserCommand) -> Result<String, String> {
    match c {
        FleetUserCommand::SetTotp { who, secret_file, digits, step, algorithm, last_step } => {
            let params =
                push_server::admin::fleet::TotpParams { digits, step, algorithm, last_step };
            admin.fleet_set_totp(&who.scope, &who.user, &secret_file, &params).await
        }
        FleetUserCommand::SetRecovery { who, hashes_file } => {
            admin.fleet_set_recovery(&who.scope, &who.user, &hashes_file).await
        }
        FleetUserCommand::Show { who, json } => admin.fleet_show(&who.scope, &who.user, json).await,
        FleetUserCommand::Unlock { who } => admin.fleet_unlock(&who.scope, &who.user).await,
        FleetUserCommand::OptIn { who } => admin.fleet_opt_in(&who.scope, &who.user, true).await,
        FleetUserCommand::OptOut { who } => admin.fleet_opt_in(&who.scope, &who.user, false).await,
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(out) => {
            if !out.is_empty() {
                println!("{}", out.trim_end());
            }
        }
        Err(e) => {
            eprintln!("mfa-pushd: {e}");
            std::process::exit(1);
        }
    }
}
