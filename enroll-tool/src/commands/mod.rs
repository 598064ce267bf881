//! One module per subcommand. Each checks root first, then loads the configuration and opens
//! the store (see [`crate::context`]).

mod doctor;
mod fido2;
mod fleet;
mod fleet_keys;
mod fleet_migrate;
mod fleet_offline;
mod fleet_push;
mod import;
mod init;
mod push;
mod recovery;
mod remove;
mod state;
mod status;
mod totp;

use crate::cli::{AdminCommand, Cli, Command};
use crate::error::{Error, Result};
use crate::prompt::Console;

/// Runs the subcommand with standard input and output as the console.
pub(crate) fn run(cli: &Cli) -> Result<()> {
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    let mut console = Console { input: &mut input, out: &mut out };
    // Without root, a user manages their own account through the setuid helper.
    if !nix::unistd::getuid().is_root() && cli.user.is_none() {
        if let Some(request) = crate::selfservice::request_for(&cli.command) {
            crate::selfservice::run(cli, request, &mut console)?;
            return console.out.flush().map_err(Error::stdout);
        }
    }
    if fleet::route(cli, &mut console)? {
        return console.out.flush().map_err(Error::stdout);
    }
    match &cli.command {
        Command::Init => init::run(cli, console.out),
        Command::Totp(args) => totp::run(cli, args, &mut console),
        Command::Status(args) => status::status(cli, args, console.out),
        Command::List(args) => status::list(cli, args, console.out),
        Command::Remove(args) => remove::run(cli, args, &mut console),
        Command::RecoveryCodes(args) => recovery::run(cli, args, console.out),
        Command::OptIn => state::opt_in(cli, console.out),
        Command::Import(args) => import::run(cli, args, console.out),
        Command::Fido2(args) => fido2::run(cli, args, &mut console),
        Command::Push(args) => push::run(cli, args, &mut console),
        Command::Doctor(args) => doctor::run(cli, args, console.out),
        Command::MigrateToFleet(args) => fleet_migrate::run(cli, args, console.out),
        Command::Admin(AdminCommand::Unlock) => state::unlock(cli, console.out),
        Command::OfflineBundles(args) => fleet_offline::bring_up_to_date(cli, args, console.out),
    }?;
    console.out.flush().map_err(Error::stdout)
}
