//! `mfa-enroll fido2`: register, list and remove security keys.

use crate::cli::{Cli, Fido2Args};
use crate::context::{load_config, open_store, require_root, target_user};
use crate::error::{Error, Result};
use crate::output::write_recovery_codes;
use crate::prompt::Console;
use mfa_login::login::{Clock, SystemClock};

/// Runs `mfa-enroll fido2`.
pub(crate) fn run(cli: &Cli, args: &Fido2Args, console: &mut Console<'_>) -> Result<()> {
    require_root(cli)?;
    let user = target_user(cli)?;
    let cfg = load_config(cli)?;
    let store = open_store(&cfg)?;
    if args.list {
        let keys = store.load(&user)?.map(|r| r.fido2).unwrap_or_default();
        if keys.is_empty() {
            return writeln!(console.out, "{user} has no security key.").map_err(Error::stdout);
        }
        for k in keys {
            writeln!(
                console.out,
                "{}  (RP id {}, {}, counter {})",
                k.name,
                k.rp_id,
                if k.user_verification { "PIN/UV required" } else { "touch only" },
                k.sign_count
            )
            .map_err(Error::stdout)?;
        }
        return Ok(());
    }
    if let Some(name) = &args.remove {
        return if mfa_login::enroll::remove_fido2(&store, &user, name)? {
            writeln!(console.out, "Removed security key '{name}' of {user}.").map_err(Error::stdout)
        } else {
            Err(Error::Usage(format!("{user} has no security key named '{name}'")))
        };
    }
    let name = args.name.as_deref().ok_or_else(|| Error::Usage("--name is required".into()))?;
    let mut device = mfa_login::fido2::open(&cfg.fido2)
        .map_err(|e| Error::Usage(format!("{e}: insert the security key and try again")))?;
    if cfg.fido2.test_device.is_some() {
        crate::output::warn(
            "fido2.test_device is set: registering on the SOFTWARE test authenticator",
        );
    }
    let pin = if args.uv {
        console.ask_hidden("Security key PIN (empty if it uses a fingerprint): ")?
    } else {
        None
    };
    let pin = pin.filter(|p| !p.is_empty());
    let now = SystemClock.now()?;
    let out = &mut *console.out;
    let key = mfa_login::enroll::NewKey { name, user_verification: args.uv, pin: pin.as_ref() };
    let codes = mfa_login::enroll::register_fido2(
        &cfg,
        &store,
        &user,
        &key,
        device.as_mut(),
        now,
        &mut |m| {
            let _ = writeln!(out, "{m}");
            let _ = out.flush();
        },
    )?;
    writeln!(
        console.out,
        "Security key '{name}' registered for {user} (RP id {}). It works at the console, in desktop \
         logins, for sudo and su; over SSH, use a code.",
        cfg.fido2.rp_id()
    )
    .map_err(Error::stdout)?;
    if let Some(codes) = codes {
        write_recovery_codes(console.out, user.as_str(), &codes)?;
    }
    Ok(())
}
