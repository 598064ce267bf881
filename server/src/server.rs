//! `mfa-server serve`: open everything, run the API until SIGTERM/SIGINT.

use crate::audit::{Audit, Event};
use crate::config::Config;
use crate::http::{AppState, Shared};
use crate::hub::Hub;
use crate::store::pg_notify::Listener;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Challenge, Store};
use std::sync::Arc;
use std::time::Duration;

/// Records that `c` expired and wakes its observers.
pub fn audit_expired(state: &AppState, c: &Challenge) {
    state.audit.record(&Event {
        event: "challenge.expired",
        host: Some(&c.host_id),
        user: Some(&c.user),
        txid: Some(&c.txid),
        outcome: "expired",
        ..Event::default()
    });
    state.hub.publish(&format!("tx:{}", c.txid));
}

/// Opens the data directory's store (creating the directory, database and service key).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    crate::files::ensure_private_dir(&config.data_dir)?;
    if let Some(url) = &config.database {
        let store = PostgresStore::open(url).await.map_err(|e| e.to_string())?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(&config.db_path()).await.map_err(|e| e.to_string())?;
    Ok(Arc::new(store))
}

async fn sweeper(state: Shared) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        let now = crate::time::now();
        match state.store.expire_due(now).await {
            Ok(expired) => expired.iter().for_each(|c| audit_expired(&state, c)),
            Err(e) => eprintln!("mfa-server: expiring challenges: {e}"),
        }
        n += 1;
        if n.is_multiple_of(60) {
            if let Err(e) = state.store.prune(now.saturating_sub(120)).await {
                eprintln!("mfa-server: pruning rate-limit events: {e}");
            }
            if let Err(e) = state.store.prune_fleet_nonces(now).await {
                eprintln!("mfa-server: pruning fleet nonces: {e}");
            }
            if let Err(e) = state.store.prune_key_challenges(now).await {
                eprintln!("mfa-server: pruning fleet key challenges: {e}");
            }
            let since = now.saturating_sub(state.offline.config.bundle_lifetime);
            if let Err(e) = state.store.prune_offline_windows(since).await {
                eprintln!("mfa-server: pruning offline windows: {e}");
            }
        }
    }
}

async fn shutdown_signal(state: Shared) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    eprintln!("mfa-server: shutting down");
    // Long-polls answer now with the current state instead of holding the shutdown.
    state.hub.close();
}

/// Runs the service.
pub async fn run(config: Config) -> Result<(), String> {
    let store = open_store(&config).await?;
    // Subscribed before serving: no change by another instance after start-up goes unheard.
    let listener = match &config.database {
        Some(url) => Some(Listener::connect(url).await?),
        None => None,
    };
    let key = crate::service_key::load_or_create(&config.key_path())?;
    let master =
        Arc::new(crate::fleet::master_key::MasterKey::load_or_create(&config.fleet_key_path())?);
    let audit = Audit::open(&config.audit_log)?;
    let web_push = match config.web_push.as_ref().filter(|w| w.enabled) {
        Some(w) => Some(Arc::new(crate::webpush::WebPush::open(w, &config.vapid_key_path())?)),
        None => None,
    };
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) if !config.insecure_http_loopback => {
            Some(crate::tls::server_config(c, k)?)
        }
        _ => None,
    };
    let state: Shared = Arc::new(AppState {
        store,
        hub: Hub::new(),
        audit,
        key,
        limits: config.limits.clone(),
        fleet: config.fleet.clone(),
        offline: crate::fleet::offline::Offline::new(config.offline.clone()),
        master,
        base_url: config.base_url().to_string(),
        web_push,
    });
    let app = crate::http::router(state.clone());
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", config.listen))?;
    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(sweeper(state.clone()));
    if let Some(listener) = listener {
        let (a, b) = (state.clone(), state.clone());
        tokio::spawn(listener.run(move |key| a.hub.publish(key), move || b.hub.publish_all()));
    }
    state.audit.record(&Event { event: "service.started", outcome: "ok", ..Event::default() });
    let served = match tls {
        Some(cfg) => {
            eprintln!("mfa-server: listening on https://{addr}");
            let listener = crate::tls::TlsListener::spawn(tcp, cfg).map_err(|e| e.to_string())?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown_signal(state.clone())).await
        }
        None => {
            eprintln!("mfa-server: listening on http://{addr} (plain HTTP, loopback only)");
            axum::serve(tcp, app).with_graceful_shutdown(shutdown_signal(state.clone())).await
        }
    };
    served.map_err(|e| format!("serve: {e}"))?;
    state.audit.record(&Event { event: "service.stopped", outcome: "ok", ..Event::default() });
    Ok(())
}
