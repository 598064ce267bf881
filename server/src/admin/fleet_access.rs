//! `fleet group ...`, `fleet user list|remove|groups`: host groups and who may use them
//! ([`crate::fleet::access`]). Every change is audited; names are checked before the store
//! is touched.

use super::{Admin, e, when};
use crate::audit::Event;
use crate::fleet::access::{Purpose, is_group_name};
use crate::store::fleet_admin::{GroupRemoved, HostGroup};
use crate::store::{Host, StoreError};
use serde_json::{Value, json};

fn check_group(name: &str) -> Result<(), String> {
    if is_group_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a host group name: 1 to {} ASCII letters, digits, '.', '_' or '-', \
             starting with a letter or digit",
            crate::fleet::access::MAX_GROUP_NAME
        ))
    }
}

/// Splits `G1,G2` (empty: no groups), checking each name.
fn group_list(text: &str) -> Result<Vec<String>, String> {
    let mut groups: Vec<String> =
        text.split(',').filter(|g| !g.is_empty()).map(str::to_string).collect();
    groups.iter().try_for_each(|g| check_group(g))?;
    groups.sort();
    groups.dedup();
    Ok(groups)
}

impl Admin {
    pub(super) fn audit_admin(
        &self,
        event: &str,
        user: Option<&str>,
        host: Option<&str>,
        reason: &str,
    ) {
        self.audit.record(&Event {
            event,
            user,
            host,
            outcome: "ok",
            reason: Some(reason),
            ..Event::default()
        });
    }

    /// The active host named `name`.
    pub(super) async fn active_host(&self, name: &str) -> Result<Host, String> {
        let hosts = self.store.hosts().await.map_err(e)?;
        hosts
            .into_iter()
            .find(|h| h.name == name && h.revoked_at.is_none())
            .ok_or_else(|| format!("no active host named {name:?}"))
    }

    /// `fleet group add NAME`.
    pub async fn group_add(&self, name: &str) -> Result<String, String> {
        check_group(name)?;
        self.store.add_group(name, crate::time::now()).await.map_err(|err| match err {
            StoreError::Conflict(_) => format!("a host group named {name:?} exists"),
            other => other.to_string(),
        })?;
        self.audit_admin("fleet.group.added", None, None, name);
        Ok(format!("host group {name} added"))
    }

    /// `fleet group remove NAME`: refused while a user's restriction names the group
    /// (removing it would lift the restriction).
    pub async fn group_remove(&self, name: &str) -> Result<String, String> {
        check_group(name)?;
        match self.store.remove_group(name).await.map_err(e)? {
            GroupRemoved::Removed => {
                self.audit_admin("fleet.group.removed", None, None, name);
                Ok(format!("host group {name} removed"))
            }
            GroupRemoved::NoSuchGroup => Err(format!("no host group named {name:?}")),
            GroupRemoved::InUse(users) => Err(format!(
                "host group {name} restricts {}: change their groups first \
                 (fleet user groups)",
                users.join(", ")
            )),
        }
    }

    /// `fleet group add-host GROUP HOST` / `remove-host` (`add`: true for add-host).
    pub async fn group_host(&self, group: &str, host: &str, add: bool) -> Result<String, String> {
        check_group(group)?;
        let h = self.active_host(host).await?;
        if add {
            if !self.store.add_group_host(group, &h.id).await.map_err(e)? {
                return Err(format!("no host group named {group:?}"));
            }
            self.audit_admin("fleet.group.host_added", None, Some(&h.id), group);
            return Ok(format!("host {host} is in host group {group}"));
        }
        if !self.store.remove_group_host(group, &h.id).await.map_err(e)? {
            return Err(format!("host {host} is not in host group {group:?}"));
        }
        self.audit_admin("fleet.group.host_removed", None, Some(&h.id), group);
        Ok(format!("host {host} removed from host group {group}"))
    }

    /// `fleet group list`.
    pub async fn group_list(&self, as_json: bool) -> Result<String, String> {
        let groups: Vec<HostGroup> = self.store.groups().await.map_err(e)?;
        let hosts = self.store.hosts().await.map_err(e)?;
        let name_of = |id: &String| {
            hosts.iter().find(|h| &h.id == id).map_or_else(|| id.clone(), |h| h.name.clone())
        };
        if as_json {
            let v: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let members: Vec<Value> =
                        g.hosts.iter().map(|id| json!({"id": id, "name": name_of(id)})).collect();
                    json!({"name": g.name, "created_at": g.created_at, "hosts": members})
                })
                .collect();
            return serde_json::to_string_pretty(&v).map_err(|err| err.to_string());
        }
        let mut out = format!("{:<24} {}\n", "GROUP", "HOSTS");
        for g in &groups {
            let mut names: Vec<String> = g.hosts.iter().map(name_of).collect();
            names.sort();
            out += &format!("{:<24} {}\n", g.name, names.join(","));
        }
        Ok(out)
    }

    /// The user's fleet state as JSON (nothing secret): factors, failures, lockout, groups.
    pub(super) async fn fleet_user_json(&self, scope: &str, user: &str) -> Result<Value, String> {
        let totp = self.store.totp(scope, user).await.map_err(e)?;
        let codes = self.store.recovery(scope, user).await.map_err(e)?;
        let lock = self.store.lockout(scope, user).await.map_err(e)?;
        let restrictions = self.store.user_groups(scope, user).await.map_err(e)?;
        let keys = self.store.fleet_keys(scope, user).await.map_err(e)?;
        let push = self.store.fleet_push_devices(scope, user).await.map_err(e)?;
        let unused = codes.iter().filter(|c| c.used_at.is_none()).count();
        let mut groups = json!({});
        for p in Purpose::ALL {
            let names: Vec<&str> =
                restrictions.iter().filter(|r| r.purpose == p).map(|r| r.group.as_str()).collect();
            // No restriction: every host (null), as opposed to an empty list.
            groups[p.as_str()] = if names.is_empty() { Value::Null } else { json!(names) };
        }
        Ok(json!({
            "scope": scope,
            "user": user,
            "totp": totp.as_ref().map(|t| json!({
                "algorithm": t.algorithm, "digits": t.digits, "step": t.step,
                "last_step": t.last_step, "updated_at": t.updated_at,
            })),
            "recovery_codes": {"unused": unused, "used": codes.len() - unused},
            "security_keys": keys.iter().map(|k| json!({
                "name": k.name, "credential_id": k.credential_id, "sign_count": k.sign_count,
                "user_verification": k.user_verification, "created_at": k.created_at,
                "used_at": k.used_at,
            })).collect::<Vec<_>>(),
            "push_devices": push,
            "failures": lock.failures,
            "locked_until": lock.locked_until,
            "groups": groups,
            "offline_bundles": self.offline_json(scope, Some(user), None).await?,
        }))
    }

    /// `fleet user list`.
    pub async fn fleet_user_list(&self, scope: &str, as_json: bool) -> Result<String, String> {
        super::fleet::check_scope(scope)?;
        let mut users = Vec::new();
        for user in self.store.fleet_users(scope).await.map_err(e)? {
            users.push(self.fleet_user_json(scope, &user).await?);
        }
        if as_json {
            return serde_json::to_string_pretty(&users).map_err(|err| err.to_string());
        }
        let mut out = format!(
            "{:<24} {:<5} {:>8} {:>8} {:<20} {}\n",
            "USER", "TOTP", "RECOVERY", "FAILURES", "LOCKED UNTIL", "GROUPS"
        );
        for u in &users {
            out += &format!(
                "{:<24} {:<5} {:>8} {:>8} {:<20} {}\n",
                u["user"].as_str().unwrap_or_default(),
                if u["totp"].is_null() { "no" } else { "yes" },
                u["recovery_codes"]["unused"],
                u["failures"],
                when(u["locked_until"].as_u64()),
                groups_text(&u["groups"]),
            );
        }
        Ok(out)
    }

    /// `fleet user remove --user U --yes`: every fleet record of the user.
    pub async fn fleet_user_remove(
        &self,
        scope: &str,
        user: &str,
        yes: bool,
    ) -> Result<String, String> {
        super::fleet::check_user(scope, user)?;
        if !yes {
            return Err(format!(
                "this removes every fleet record of {user} in scope {scope} (TOTP, recovery \
                 codes, security keys, lockout, host group restrictions); run again with --yes"
            ));
        }
        if !self.store.remove_user(scope, user).await.map_err(e)? {
            return Err(format!("{user} has no fleet records in scope {scope}"));
        }
        self.audit_admin("fleet.user.removed", Some(user), None, scope);
        Ok(format!("every fleet record of {user} in scope {scope} removed"))
    }

    /// `fleet user groups`: sets (a list), clears (an empty value) or, with neither option,
    /// shows the user's restrictions.
    pub async fn fleet_user_groups(
        &self,
        scope: &str,
        user: &str,
        authenticate: Option<&str>,
        enroll: Option<&str>,
    ) -> Result<String, String> {
        super::fleet::check_user(scope, user)?;
        let changes: Vec<(Purpose, Vec<String>)> =
            [(Purpose::Authenticate, authenticate), (Purpose::Enroll, enroll)]
                .into_iter()
                .filter_map(|(p, text)| text.map(|t| group_list(t).map(|g| (p, g))))
                .collect::<Result<_, _>>()?;
        let known: Vec<String> =
            self.store.groups().await.map_err(e)?.into_iter().map(|g| g.name).collect();
        if let Some(g) = changes.iter().flat_map(|c| &c.1).find(|g| !known.contains(g)) {
            return Err(format!("no host group named {g:?}"));
        }
        for (purpose, groups) in &changes {
            self.store.set_user_groups(scope, user, *purpose, groups).await.map_err(e)?;
            let reason = format!("{scope}: {} = [{}]", purpose.as_str(), groups.join(","));
            self.audit_admin("fleet.user.groups_set", Some(user), None, &reason);
        }
        let v = self.fleet_user_json(scope, user).await?;
        Ok(format!("{user} (fleet scope {scope}): {}", groups_text(&v["groups"])))
    }

    /// The groups of each host id, for `host list`.
    pub(super) async fn host_groups(&self) -> Result<Vec<HostGroup>, String> {
        self.store.groups().await.map_err(e)
    }
}

/// `authenticate: all hosts; enroll: db` from a user's `groups` JSON.
pub(super) fn groups_text(groups: &Value) -> String {
    Purpose::ALL
        .iter()
        .map(|p| {
            let unrestricted = if *p == Purpose::Enroll && groups["authenticate"].is_array() {
                "as authenticate"
            } else {
                "all hosts"
            };
            let names = groups[p.as_str()].as_array().map_or_else(
                || unrestricted.to_string(),
                |a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            );
            format!("{}: {names}", p.as_str())
        })
        .collect::<Vec<_>>()
        .join("; ")
}
