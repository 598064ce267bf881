//! A small async HTTPS client for the load generator: hyper's HTTP/1 connections over
//! tokio-rustls (ring), trusting one CA, with a pool of idle keep-alive connections.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_rustls::TlsConnector;

/// A client for one service address.
pub(crate) struct Http {
    addr: SocketAddr,
    name: ServerName<'static>,
    tls: TlsConnector,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

/// A reply.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

impl Http {
    /// A client for `addr`, checking the certificate for `name` against `ca`.
    pub(crate) fn new(addr: SocketAddr, name: &str, ca: &Path) -> Result<Http, String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))? {
            roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Http {
            addr,
            name: ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?,
            tls: TlsConnector::from(Arc::new(cfg)),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let tls = self.tls.connect(self.name.clone(), tcp).await.map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(sender)
    }

    /// Sends one request on an idle or new connection.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, String> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|s| !s.is_closed())
        };
        let mut sender = match pooled {
            Some(s) => s,
            None => self.connect().await?,
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut req =
            hyper::Request::builder().method(method).uri(path).header("host", "localhost");
        if !auth.is_empty() {
            req = req.header("authorization", auth);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        // A server that closes after each reply (gunicorn's sync workers) gets a new connection.
        let close = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !close {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(sender);
        }
        Ok(Reply { status, body })
    }
}
