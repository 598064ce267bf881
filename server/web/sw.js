// Service worker (scope /): keeps the app shell for offline use (network first, so updates
// arrive at once), never touches the API, shows Web Push notifications and opens the app on
// a click.

const CACHE = "pam-mfa-shell-v2";
const SHELL = [
  "/", "/app.js", "/proto.js", "/db.js", "/api.js", "/passkey.js", "/webpush.js",
  "/style.css", "/manifest.webmanifest", "/icon.svg", "/icon-192.png",
];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin) return;
  const key = url.pathname === "/pair" ? "/" : url.pathname;
  if (!SHELL.includes(key)) return; // the API and anything else go to the network untouched
  e.respondWith(
    fetch(e.request)
      .then((r) => {
        if (r.ok) {
          const copy = r.clone();
          e.waitUntil(caches.open(CACHE).then((c) => c.put(key, copy)));
        }
        return r;
      })
      .catch(() => caches.match(key).then((r) => r || Response.error())),
  );
});

self.addEventListener("push", (e) => {
  let d = {};
  try {
    d = e.data ? e.data.json() : {};
  } catch {
    d = {};
  }
  const isChallenge = d.type === "challenge";
  const title = isChallenge ? `Log in as ${d.user} on ${d.hostname}?` : "Login approval";
  const body = isChallenge ? `${d.service}: open to approve or deny` : "Open to see pending requests";
  e.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag: isChallenge ? String(d.txid) : "pam-mfa",
      icon: "/icon-192.png",
      requireInteraction: true,
    }),
  );
});

self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  e.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      for (const c of list) {
        if (new URL(c.url).origin === self.location.origin && "focus" in c) return c.focus();
      }
      return self.clients.openWindow("/");
    }),
  );
});
