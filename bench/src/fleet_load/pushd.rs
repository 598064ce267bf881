//! `fleet-load`'s mfa-server backend: the service started as for `push-load`
//! (`push_load/pushd.rs`, `Service`), users enrolled with a TOTP secret, and workers verifying
//! codes with the module's own client (`mfa_remote::fleet::FleetClient`) and host credentials,
//! checking each signed receipt as the module does.
//!
//! Enrolling 100,000 users one `mfa-server fleet user set-totp` process at a time would take
//! most of an hour, so the benchmark writes the records itself through the service's library:
//! `mfa_server::fleet::totp_record` (the sealing `set-totp` does) and `Store::set_totp` (its
//! store call) on the store the configuration names, many at a time. The verifications then
//! go through the real endpoint, `POST /v2/fleet/verify`.

use super::fleet_backend::{DbUsage, FleetBackend, Verify, in_parallel, parse_pair, sqlite_usage};
use super::pushd::{Service, Store};
use super::users::{PARAMS, Users, unix_now};
use mfa_login::fleet::FleetConfig;
use mfa_remote::fleet::FleetClient;
use mfa_server::fleet::master_key::MasterKey;
use mfa_server::scope::DEFAULT_FLEET_SCOPE;
use push_proto::fleet::{Factor, Verdict, VerifyRequest};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// mfa-server in fleet mode with its hosts.
pub(crate) struct FleetPushd {
    svc: Service,
    users: Users,
}

/// One worker's host: the module's client, with one host's credential, to one instance.
struct HostClient {
    client: FleetClient,
}

impl Verify for HostClient {
    fn verify(&mut self, user: &str, code: &str) -> Result<Verdict, String> {
        let req = VerifyRequest {
            user: user.to_string(),
            factor: Factor::Totp,
            answer: code.to_string(),
            service: "sshd".into(),
            rhost: Some("192.0.2.1".into()),
            time: unix_now(),
            nonce: push_proto::random_token(32).map_err(|e| e.0)?,
        };
        let reply = self.client.verify(&req).map_err(|e| e.to_string())?;
        reply
            .receipt
            .check(self.client.service_key(), self.client.host_id(), &req)
            .map_err(|e| format!("receipt refused: {e}"))
    }
}

impl FleetPushd {
    /// Starts the service on `store` with `hosts` hosts; users are enrolled by
    /// [`FleetPushd::enroll`].
    pub(crate) async fn start(
        pushd: &Path,
        store: Store,
        hosts: usize,
        users: Users,
    ) -> Result<FleetPushd, String> {
        Ok(FleetPushd { svc: Service::start(pushd, store, hosts).await?, users })
    }

    /// Enrolls users `range` (TOTP only), 16 writes in flight; returns the seconds it took.
    pub(crate) async fn enroll(&self, range: Range<usize>) -> Result<f64, String> {
        let started = std::time::Instant::now();
        let config = mfa_server::config::Config::load(&self.svc.configs[0].0)?;
        let store = mfa_server::server::open_store(&config).await?;
        let master = Arc::new(MasterKey::load(&config.fleet_key_path())?);
        const WRITERS: usize = 16;
        in_parallel(WRITERS, |k| {
            let (store, master, users) = (store.clone(), master.clone(), self.users);
            let part: Vec<usize> = range.clone().skip(k).step_by(WRITERS).collect();
            async move {
                for i in part {
                    let rec = mfa_server::fleet::totp_record(
                        &master,
                        DEFAULT_FLEET_SCOPE,
                        &Users::name(i),
                        &users.secret(i),
                        PARAMS,
                        None,
                        unix_now(),
                    )?;
                    store.set_totp(&rec).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        })
        .await?;
        Ok(started.elapsed().as_secs_f64())
    }
}

impl FleetBackend for FleetPushd {
    fn name(&self) -> &'static str {
        self.svc.store.name()
    }

    fn setup(&self) -> String {
        let hosts = self.svc.hosts.len();
        let how = match self.svc.store {
            Store::Sqlite => format!("one instance, SQLite store; {hosts} registered hosts"),
            Store::Postgres { instances } => format!(
                "PostgreSQL {} (a throwaway local cluster on a Unix socket, default durability), \
                 {}; {hosts} registered hosts",
                self.svc.pg_version,
                if instances == 1 {
                    "one instance".to_string()
                } else {
                    format!(
                        "{instances} instances sharing the database, the service key and the \
                         fleet master key, workers spread over them"
                    )
                }
            ),
        };
        format!(
            "{how}; `[fleet]` per-minute rates raised to 1,000,000 (the lockout and the TOTP \
             window as shipped: 5 failures, ±1 step)"
        )
    }

    fn flow(&self) -> &'static str {
        "the module's client (`mfa_remote::fleet::FleetClient`: a new TLS connection per \
         request, as in a login) sends `POST /v2/fleet/verify` with the host's token, user, \
         code, service, remote address, login time and a fresh nonce; the service counts the \
         attempt (nonce, rate limits, lockout: one committed transaction), opens the sealed \
         secret, checks the code and accepts it with its guarded watermark update (a second \
         transaction), then signs the receipt; the worker checks the receipt against its own \
         request and the pinned service key (`FleetReceipt::check`, what the module does)"
    }

    fn client(&self, worker: usize) -> Result<Box<dyn Verify>, String> {
        let hosts = self.svc.hosts.len();
        let (_, port) = self.svc.configs[worker % self.svc.configs.len()];
        let cfg = FleetConfig {
            url: format!("https://127.0.0.1:{port}"),
            ca_file: Some(self.svc.ca_file()),
            proxy: None,
            // Generous, so that a queue shows as latency, not as errors (the module's defaults
            // are 5 and 10 s).
            connect_timeout: 30,
            io_timeout: 30,
            credential: self.svc.host_files[worker % hosts].clone(),
            failmode: Default::default(),
            rp_id: None,
            offline: false,
        };
        let client = FleetClient::new(&cfg).map_err(|e| e.to_string())?;
        Ok(Box::new(HostClient { client }))
    }

    fn db_usage(&self) -> Result<DbUsage, String> {
        match &self.svc.pg {
            None => {
                let config = mfa_server::config::Config::load(&self.svc.configs[0].0)?;
                sqlite_usage(&config.db_path(), &["fleet_totp"])
            }
            Some(pg) => parse_pair(&pg.psql(
                "mfa_server",
                "SELECT pg_total_relation_size('fleet_totp'), pg_database_size('mfa_server')",
            )),
        }
    }

    fn service_rss_kib(&self) -> Option<u64> {
        Some(self.svc.pids().into_iter().map(crate::rss_kib).sum())
    }
}
