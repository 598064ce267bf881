//! `mfa-server`: the service and its administration commands (see `mfa-server --help`).

#![forbid(unsafe_code)]

use clap::Parser;
use mfa_server::admin::Admin;
use mfa_server::cli::{
    Cli, Command, DeviceCommand, FleetCommand, FleetGroupCommand, FleetHostCommand,
    FleetOfflineCommand, FleetUserCommand, HostCommand, UserCommand,
};
use mfa_server::config::Config;

async fn run(cli: Cli) -> Result<String, String> {
    if let Command::TlsInit { out_dir, name, ip, ca_key } = &cli.command {
        let written = mfa_server::tlsinit::init(out_dir, name, ip, ca_key.as_deref())?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        return Ok(format!("wrote {}", names.join(", ")));
    }
    let config = Config::load(&cli.config)?;
    if let Command::Serve = cli.command {
        mfa_server::server::run(config).await?;
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
        Command::Fleet(FleetCommand::Group(c)) => fleet_group(&admin, c).await,
        Command::Fleet(FleetCommand::Audit { user, host, since, last, json }) => {
            let f = mfa_server::admin::audit_log::AuditFilter { user, host, since, last };
            admin.audit_list(&f, json).await
        }
        Command::Fleet(FleetCommand::Host(FleetHostCommand::Join { name })) => {
            admin.fleet_host_push(&name, true).await
        }
        Command::Fleet(FleetCommand::Host(FleetHostCommand::Leave { name })) => {
            admin.fleet_host_push(&name, false).await
        }
        Command::Fleet(FleetCommand::Offline(c)) => fleet_offline(&admin, c).await,
        Command::Serve | Command::TlsInit { .. } => Ok(String::new()),
    }
}

async fn fleet_offline(admin: &Admin, c: FleetOfflineCommand) -> Result<String, String> {
    match c {
        FleetOfflineCommand::List { scope, user, host, json } => {
            admin.offline_list(&scope, user.as_deref(), host.as_deref(), json).await
        }
        FleetOfflineCommand::Revoke { who, host } => {
            admin.offline_revoke(&who.scope, &who.user, host.as_deref()).await
        }
        FleetOfflineCommand::Mark { who, host } => {
            admin.offline_mark(&who.scope, &who.user, &host).await
        }
    }
}

async fn fleet_user(admin: &Admin, c: FleetUserCommand) -> Result<String, String> {
    match c {
        FleetUserCommand::SetTotp { who, secret_file, digits, step, algorithm, last_step } => {
            let params =
                mfa_server::admin::fleet::TotpParams { digits, step, algorithm, last_step };
            admin.fleet_set_totp(&who.scope, &who.user, &secret_file, &params).await
        }
        FleetUserCommand::SetRecovery { who, hashes_file } => {
            admin.fleet_set_recovery(&who.scope, &who.user, &hashes_file).await
        }
        FleetUserCommand::Show { who, json } => admin.fleet_show(&who.scope, &who.user, json).await,
        FleetUserCommand::Unlock { who } => admin.fleet_unlock(&who.scope, &who.user).await,
        FleetUserCommand::OptIn { who } => admin.fleet_opt_in(&who.scope, &who.user, true).await,
        FleetUserCommand::OptOut { who } => admin.fleet_opt_in(&who.scope, &who.user, false).await,
        FleetUserCommand::List { scope, json } => admin.fleet_user_list(&scope, json).await,
        FleetUserCommand::Remove { who, yes } => {
            admin.fleet_user_remove(&who.scope, &who.user, yes).await
        }
        FleetUserCommand::Groups { who, authenticate, enroll } => {
            let (a, e) = (authenticate.as_deref(), enroll.as_deref());
            admin.fleet_user_groups(&who.scope, &who.user, a, e).await
        }
        FleetUserCommand::AddKey { who, credential_file } => {
            admin.fleet_add_key(&who.scope, &who.user, &credential_file).await
        }
        FleetUserCommand::RemoveKey { who, credential_id } => {
            admin.fleet_remove_key(&who.scope, &who.user, &credential_id).await
        }
    }
}

async fn fleet_group(admin: &Admin, c: FleetGroupCommand) -> Result<String, String> {
    match c {
        FleetGroupCommand::Add { name } => admin.group_add(&name).await,
        FleetGroupCommand::Remove { name } => admin.group_remove(&name).await,
        FleetGroupCommand::List { json } => admin.group_list(json).await,
        FleetGroupCommand::AddHost { group, host } => admin.group_host(&group, &host, true).await,
        FleetGroupCommand::RemoveHost { group, host } => {
            admin.group_host(&group, &host, false).await
        }
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
            eprintln!("mfa-server: {e}");
            std::process::exit(1);
        }
    }
}
