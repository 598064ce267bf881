//! The approver web app (`web/`): static files compiled into the binary, served with a strict
//! Content-Security-Policy and no caching surprises (`no-cache` plus an `ETag`: the service
//! worker keeps the offline copy, the network always has the current one).

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Scripts, styles, images and connections from this origin only; no inline code, no frames,
/// no plugins, no `<base>`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the web app. `/pair` is the app shell too (the credential is in the fragment,
/// which never reaches the service).
const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: HTML, body: include_bytes!("../../web/index.html") },
    Asset { path: "/pair", content_type: HTML, body: include_bytes!("../../web/index.html") },
    Asset { path: "/app.js", content_type: JS, body: include_bytes!("../../web/app.js") },
    Asset { path: "/api.js", content_type: JS, body: include_bytes!("../../web/api.js") },
    Asset { path: "/db.js", content_type: JS, body: include_bytes!("../../web/db.js") },
    Asset { path: "/proto.js", content_type: JS, body: include_bytes!("../../web/proto.js") },
    Asset { path: "/passkey.js", content_type: JS, body: include_bytes!("../../web/passkey.js") },
    Asset { path: "/webpush.js", content_type: JS, body: include_bytes!("../../web/webpush.js") },
    Asset { path: "/sw.js", content_type: JS, body: include_bytes!("../../web/sw.js") },
    Asset {
        path: "/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/style.css"),
    },
    Asset {
        path: "/manifest.webmanifest",
        content_type: "application/manifest+json",
        body: include_bytes!("../../web/manifest.webmanifest"),
    },
    Asset {
        path: "/icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../web/icon.svg"),
    },
    Asset {
        path: "/icon-192.png",
        content_type: "image/png",
        body: include_bytes!("../../web/icon-192.png"),
    },
];

/// The strong `ETag` of each asset (a prefix of its SHA-256), computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let d = Sha256::digest(a.body);
                format!("\"{}\"", push_proto::b64(&d[..16]))
            })
            .collect()
    })
}

/// The headers every web app answer carries.
pub fn security_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(h, header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
}

async fn asset(uri: Uri, req_headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (a, tag) = (&ASSETS[i], &etags()[i]);
    let fresh = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, a.body).into_response()
    };
    let h = r.headers_mut();
    security_headers(h);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    if a.path == "/sw.js" {
        h.insert(
            header::HeaderName::from_static("service-worker-allowed"),
            HeaderValue::from_static("/"),
        );
    }
    r
}

/// The routes of the web app (GET only; HEAD is answered by axum from GET).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |r, a| r.route(a.path, get(asset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_distinctly_tagged_and_typed() {
        let tags = etags();
        assert_eq!(tags.len(), ASSETS.len());
        for (a, t) in ASSETS.iter().zip(tags) {
            assert!(!a.body.is_empty(), "{}", a.path);
            assert!(t.starts_with('"') && t.ends_with('"'), "{t}");
        }
        // The HTML references only files that are served.
        let html = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        for part in html.split(['"', '\'']).filter(|p| p.starts_with('/') && p.len() > 1) {
            assert!(ASSETS.iter().any(|a| a.path == part), "index.html names {part}");
        }
        // No inline script or style: the CSP would block them.
        assert!(!html.contains("<script>") && !html.contains("style="), "inline code");
    }

    #[test]
    fn the_worker_caches_exactly_the_shell() {
        let sw = std::str::from_utf8(include_bytes!("../../web/sw.js")).unwrap_or_default();
        for a in ASSETS.iter().filter(|a| !matches!(a.path, "/pair" | "/sw.js")) {
            assert!(sw.contains(&format!("\"{}\"", a.path)), "sw.js does not cache {}", a.path);
        }
    }
}
