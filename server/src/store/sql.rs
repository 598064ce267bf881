//! What the SQL backends share: the error mapping, reading each record from a row, running a
//! read on the pool and binding each record's values in one order. Generic over sqlx's row and
//! query types, so it holds for [`super::sqlite`] and [`super::postgres`] alike; the SQL itself
//! (placeholders, `RETURNING`, locking, `NOTIFY`) stays in each backend. A statement bound by a
//! helper here takes its values in the helper's order, which the helper's comment gives; where
//! it uses one twice, SQLite's placeholders are numbered (`?1`) like PostgreSQL's (`$1`).

use super::codec::{
    choices_text, hash32, i, parse_choices, parse_decision, parse_passkey, parse_status,
    passkey_text, small, u,
};
use super::passkeys::Passkey;
use super::{Answer, Challenge, Device, Host, Pairing, Result, StoreError, UserSummary};
use push_proto::api::{PushSubscription, Status};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

/// A challenge row with its host's current name, as [`challenge_row`] reads it; both backends
/// add their own `WHERE`.
pub(crate) const CHALLENGE_SELECT: &str =
    "SELECT c.*, h.name AS hostname FROM challenges c JOIN hosts h ON h.id = c.host_id";

/// A database error as a [`StoreError`]: a broken uniqueness rule is a conflict.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(d.message().to_string());
        }
    }
    StoreError::Db(e.to_string())
}

/// The first row of `q` on `pool`, read by `row`, if there is one.
pub(crate) async fn fetch_optional<'q, DB, T>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    pool: &Pool<DB>,
    row: impl Fn(&DB::Row) -> Result<T>,
) -> Result<Option<T>>
where
    DB: Database,
    <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    q.fetch_optional(pool).await.map_err(db)?.as_ref().map(row).transpose()
}

/// Every row of `q` on `pool`, read by `row`.
pub(crate) async fn fetch_all<'q, DB, T>(
    q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    pool: &Pool<DB>,
    row: impl Fn(&DB::Row) -> Result<T>,
) -> Result<Vec<T>>
where
    DB: Database,
    <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    q.fetch_all(pool).await.map_err(db)?.iter().map(row).collect()
}

/// The column types the stores read, by name, with errors as [`StoreError`]s.
pub(crate) trait Columns {
    /// A `TEXT` column.
    fn text(&self, col: &str) -> Result<String>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    /// An integer column (64-bit).
    fn int(&self, col: &str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// A `BLOB` / `BYTEA` column.
    fn bytes(&self, col: &str) -> Result<Vec<u8>>;
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String> {
        self.try_get(col).map_err(db)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.try_get(col).map_err(db)
    }
    fn int(&self, col: &str) -> Result<i64> {
        self.try_get(col).map_err(db)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.try_get(col).map_err(db)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        self.try_get(col).map_err(db)
    }
}

/// A row of `hosts`.
pub(crate) fn host_row(r: &impl Columns) -> Result<Host> {
    Ok(Host {
        id: r.text("id")?,
        name: r.text("name")?,
        token_hash: hash32(r.bytes("token_hash")?)?,
        created_at: u(r.int("created_at")?),
        revoked_at: r.opt_int("revoked_at")?.map(u),
    })
}

/// A row of `devices`.
pub(crate) fn device_row(r: &impl Columns) -> Result<Device> {
    Ok(Device {
        id: r.text("id")?,
        user: r.text("user")?,
        name: r.text("name")?,
        public_key: r.text("public_key")?,
        created_at: u(r.int("created_at")?),
        revoked_at: r.opt_int("revoked_at")?.map(u),
        host_id: r.opt_text("host_id")?,
    })
}

/// A row of `pairings`.
pub(crate) fn pairing_row(r: &impl Columns) -> Result<Pairing> {
    Ok(Pairing {
        id: r.text("id")?,
        host_id: r.text("host_id")?,
        user: r.text("user")?,
        credential_hash: hash32(r.bytes("credential_hash")?)?,
        created_at: u(r.int("created_at")?),
        expires_at: u(r.int("expires_at")?),
        used_at: r.opt_int("used_at")?.map(u),
        device_id: r.opt_text("device_id")?,
    })
}

/// A row of [`CHALLENGE_SELECT`] (or a `RETURNING` of the same columns).
pub(crate) fn challenge_row(r: &impl Columns) -> Result<Challenge> {
    let answer = match r.opt_text("decision")? {
        None => None,
        Some(d) => Some(Answer {
            device_id: r.opt_text("device_id")?.unwrap_or_default(),
            decision: parse_decision(&d)?,
            number: r.opt_int("answer_number")?.map(small).transpose()?,
            device_signature: r.opt_text("device_signature")?.unwrap_or_default(),
            passkey: parse_passkey(r.opt_text("passkey")?)?,
            answered_at: u(r.opt_int("answered_at")?.unwrap_or(0)),
            receipt_signature: r.opt_text("receipt_signature")?.unwrap_or_default(),
        }),
    };
    Ok(Challenge {
        txid: r.text("txid")?,
        host_id: r.text("host_id")?,
        scope: r.text("scope")?,
        hostname: r.text("hostname")?,
        user: r.text("user")?,
        service: r.text("service")?,
        rhost: r.opt_text("rhost")?,
        time: u(r.int("login_time")?),
        nonce: r.text("nonce")?,
        choices: parse_choices(&r.text("choices")?)?,
        created_at: u(r.int("created_at")?),
        expires_at: u(r.int("expires_at")?),
        status: parse_status(&r.text("status")?)?,
        answer,
    })
}

/// A row of `passkeys`.
pub(crate) fn passkey_row(r: &impl Columns) -> Result<Passkey> {
    let count = u(r.int("sign_count")?);
    Ok(Passkey {
        device_id: r.text("device_id")?,
        credential_id: r.text("credential_id")?,
        public_key: r.text("public_key")?,
        sign_count: u32::try_from(count)
            .map_err(|_| StoreError::Db("stored passkey counter out of range".into()))?,
        created_at: u(r.int("created_at")?),
        registration: r.text("registration")?,
    })
}

/// A row of the users query (`user`, `active`, `revoked`, `until`).
pub(crate) fn user_summary_row(r: &impl Columns) -> Result<UserSummary> {
    Ok(UserSummary {
        user: r.text("user")?,
        active_devices: u(r.int("active")?),
        revoked_devices: u(r.int("revoked")?),
        cooldown_until: r.opt_int("until")?.map(u),
    })
}

/// A row of `push_subscriptions` (`endpoint`, `p256dh`, `auth`).
pub(crate) fn push_subscription_row(r: &impl Columns) -> Result<PushSubscription> {
    Ok(PushSubscription {
        endpoint: r.text("endpoint")?,
        p256dh: r.text("p256dh")?,
        auth: r.text("auth")?,
    })
}

/// The value types the stores bind, in their stored encodings ([`super::codec`]).
pub(crate) trait Binds<'q>: Sized {
    /// Text.
    fn text(self, v: &'q str) -> Self;
    /// Nullable text.
    fn opt_text(self, v: Option<&'q str>) -> Self;
    /// Text made for this statement.
    fn owned_text(self, v: Option<String>) -> Self;
    /// A time or counter ([`i`]).
    fn int(self, v: u64) -> Self;
    /// A nullable time or counter.
    fn opt_int(self, v: Option<u64>) -> Self;
    /// Bytes.
    fn bytes(self, v: &'q [u8]) -> Self;
}

impl<'q, DB> Binds<'q> for Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    fn text(self, v: &'q str) -> Self {
        self.bind(v)
    }
    fn opt_text(self, v: Option<&'q str>) -> Self {
        self.bind(v)
    }
    fn owned_text(self, v: Option<String>) -> Self {
        self.bind(v)
    }
    fn int(self, v: u64) -> Self {
        self.bind(i(v))
    }
    fn opt_int(self, v: Option<u64>) -> Self {
        self.bind(v.map(i))
    }
    fn bytes(self, v: &'q [u8]) -> Self {
        self.bind(v)
    }
}

/// Binds a new host: 1 id, 2 name, 3 token hash, 4 created, 5 revoked.
pub(crate) fn bind_host<'q, Q: Binds<'q>>(q: Q, h: &'q Host) -> Q {
    q.text(&h.id).text(&h.name).bytes(&h.token_hash[..]).int(h.created_at).opt_int(h.revoked_at)
}

/// Binds a new pairing: 1 id, 2 host, 3 user, 4 credential hash, 5 created, 6 expires.
pub(crate) fn bind_pairing<'q, Q: Binds<'q>>(q: Q, p: &'q Pairing) -> Q {
    q.text(&p.id)
        .text(&p.host_id)
        .text(&p.user)
        .bytes(&p.credential_hash[..])
        .int(p.created_at)
        .int(p.expires_at)
}

/// Binds a new device: 1 id, 2 user, 3 name, 4 public key, 5 created, 6 host.
pub(crate) fn bind_device<'q, Q: Binds<'q>>(q: Q, d: &'q Device) -> Q {
    q.text(&d.id)
        .text(&d.user)
        .text(&d.name)
        .text(&d.public_key)
        .int(d.created_at)
        .opt_text(d.host_id.as_deref())
}

/// Binds a new passkey: 1 device, 2 credential id, 3 public key, 4 counter, 5 created,
/// 6 registration.
pub(crate) fn bind_passkey<'q, Q: Binds<'q>>(q: Q, p: &'q Passkey) -> Q {
    q.text(&p.device_id)
        .text(&p.credential_id)
        .text(&p.public_key)
        .int(u64::from(p.sign_count))
        .int(p.created_at)
        .text(&p.registration)
}

/// Binds a pairing's use: 1 now, 2 device id, 3 pairing id (`used_at = $1, device_id = $2
/// WHERE id = $3 ... AND expires_at > $1`).
pub(crate) fn bind_pairing_use<'q, Q: Binds<'q>>(
    q: Q,
    now: u64,
    device_id: &'q str,
    pairing_id: &'q str,
) -> Q {
    q.int(now).text(device_id).text(pairing_id)
}

/// Binds a new challenge: 1 txid, 2 host, 3 scope, 4 user, 5 service, 6 rhost, 7 login time,
/// 8 nonce, 9 choices, 10 created, 11 expires.
pub(crate) fn bind_challenge<'q, Q: Binds<'q>>(q: Q, c: &'q Challenge) -> Q {
    q.text(&c.txid)
        .text(&c.host_id)
        .text(&c.scope)
        .text(&c.user)
        .text(&c.service)
        .opt_text(c.rhost.as_deref())
        .int(c.time)
        .text(&c.nonce)
        .owned_text(Some(choices_text(&c.choices)))
        .int(c.created_at)
        .int(c.expires_at)
}

/// Binds an answer: 1 status, 2 now, 3 device, 4 decision, 5 number, 6 device signature,
/// 7 answered, 8 receipt signature, 9 txid, 10 passkey (`closed_at = $2 ... WHERE txid = $9
/// AND status = 'pending' AND expires_at > $2`).
pub(crate) fn bind_answer<'q, Q: Binds<'q>>(
    q: Q,
    txid: &'q str,
    status: Status,
    a: &'q Answer,
    now: u64,
) -> Result<Q> {
    Ok(q.text(super::codec::status_text(status))
        .int(now)
        .text(&a.device_id)
        .text(a.decision.as_str())
        .opt_int(a.number.map(u64::from))
        .text(&a.device_signature)
        .int(a.answered_at)
        .text(&a.receipt_signature)
        .text(txid)
        .owned_text(passkey_text(a.passkey.as_ref())?))
}

/// Binds a push subscription: 1 device, 2 endpoint, 3 p256dh, 4 auth, 5 now.
pub(crate) fn bind_push_subscription<'q, Q: Binds<'q>>(
    q: Q,
    device_id: &'q str,
    sub: &'q PushSubscription,
    now: u64,
) -> Q {
    q.text(device_id).text(&sub.endpoint).text(&sub.p256dh).text(&sub.auth).int(now)
}

/// `challenges` marked expired: the rows as they were read, with their new status.
pub(crate) fn now_expired(challenges: Vec<Challenge>) -> Vec<Challenge> {
    challenges
        .into_iter()
        .map(|mut c| {
            c.status = Status::Expired;
            c
        })
        .collect()
}

/// A row of `fleet_totp`.
pub(crate) fn totp_row(r: &impl Columns) -> Result<super::fleet::TotpRecord> {
    Ok(super::fleet::TotpRecord {
        scope: r.text("scope")?,
        user: r.text("user")?,
        sealed: r.bytes("secret")?,
        algorithm: r.text("algorithm")?,
        digits: small(r.int("digits")?)?,
        step: u(r.int("step")?),
        last_step: r.opt_int("last_step")?.map(u),
        updated_at: u(r.int("updated_at")?),
    })
}

/// A row of `fleet_recovery`.
pub(crate) fn recovery_row(r: &impl Columns) -> Result<super::fleet::RecoverySlot> {
    Ok(super::fleet::RecoverySlot {
        slot: small(r.int("slot")?)?,
        hash: r.text("hash")?,
        used_at: r.opt_int("used_at")?.map(u),
    })
}

/// A row of `fleet_lockout`.
pub(crate) fn lockout_row(r: &impl Columns) -> Result<super::fleet::Lockout> {
    Ok(super::fleet::Lockout {
        failures: u32::try_from(r.int("failures")?).unwrap_or(0),
        locked_until: r.opt_int("locked_until")?.map(u),
    })
}
