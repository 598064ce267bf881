// The approver: pairing from the QR link (with an optional passkey, and the pairing code to type
// at the host), pending requests by long-poll (shown only when the service signed them, they
// name this phone's account and offer sane numbers), number matching (type the number shown
// at login, or tap one of three when the host offers them), deny, "this wasn't me", a local
// history, and notifications. An answer signs the hash of the login exactly as shown.

import * as api from "./api.js";
import { ApiError } from "./api.js";
import * as db from "./db.js";
import * as passkey from "./passkey.js";
import * as proto from "./proto.js";
import * as webpush from "./webpush.js";

const $ = (id) => document.getElementById(id);
const WAIT = 25;
const VIEWS = ["loading-view", "unpaired-view", "pair-view", "main-view"];

let device = null;
let poller = null;
let pollError = false;
const cards = new Map(); // txid -> { c, el, busy }

function setStatus(text, kind = "") {
  const s = $("status");
  s.textContent = text;
  s.className = kind;
}

function show(view) {
  for (const v of VIEWS) $(v).hidden = v !== view;
  $("loading-view").removeAttribute("aria-busy");
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

function explain(e) {
  if (e instanceof ApiError) {
    switch (e.code) {
      case "expired": return "This request or link has expired.";
      case "already_used": return "This was already answered or used.";
      case "unauthorized": return "The service did not accept this phone (is the link still valid?).";
      case "revoked": return "This phone was removed by the administrator. Pair it again.";
      case "not_found": return "The service does not know this request any more.";
      case "passkey_required": return "This phone must confirm with its passkey.";
      case "replayed": return "The request was sent twice; try again.";
      default: return `The service refused: ${e.message}`;
    }
  }
  if (e?.name === "NotAllowedError") return "The phone's confirmation was cancelled or timed out.";
  return `Something went wrong: ${e?.message ?? e}`;
}

// ---- pairing ------------------------------------------------------------------------------

function defaultName() {
  const ua = navigator.userAgent;
  if (/Android/.test(ua)) return "Android phone";
  if (/iPhone/.test(ua)) return "iPhone";
  if (/iPad/.test(ua)) return "iPad";
  return "Browser on " + (navigator.userAgentData?.platform || navigator.platform || "this device");
}

const validName = (n) =>
  n.length > 0 && new TextEncoder().encode(n).length <= 64 && !/[\u0000-\u001f\u007f-\u009f]/.test(n);

/**
 * The one-time credential and the host's secret from `/pair#c=...&k=...`; they are dropped
 * from the address bar at once.
 */
function takeLink() {
  if (location.pathname !== "/pair") return undefined;
  const m = /^#c=([A-Za-z0-9_-]{43})&k=([A-Za-z0-9_-]{22})$/.exec(location.hash);
  history.replaceState(null, "", "/");
  return m ? { credential: m[1], hostSecret: m[2] } : null;
}

function showPairCode(code) {
  $("pair-code").textContent = code ? `${code.slice(0, 3)} ${code.slice(3)}` : "";
  $("pair-code-box").hidden = !code;
}

function showPair({ credential, hostSecret }) {
  show("pair-view");
  $("pair-replaces").hidden = !device;
  $("passkey-choice").hidden = !passkey.supported();
  // Ticked by default where the phone can unlock with a platform authenticator.
  passkey.available().then((yes) => { $("use-passkey").checked = yes; });
  const input = $("device-name");
  input.value = defaultName().slice(0, 64);
  input.focus();
  $("pair-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!validName(name)) {
      setStatus("Give the phone a name of at most 64 characters.", "error");
      input.focus();
      return;
    }
    $("pair-button").disabled = true;
    setStatus("Pairing…");
    try {
      const keys = await proto.generateKey();
      const publicKey = await proto.exportPublic(keys.publicKey);
      const signature = await proto.sign(keys.privateKey, proto.pairBytes(credential, name, publicKey));
      const body = { credential, name, public_key: publicKey, signature };
      let made = null;
      if (passkey.supported() && $("use-passkey").checked) {
        setStatus("Creating a passkey: confirm with your phone's unlock…");
        body.passkey = await passkey.createForPairing(credential, publicKey, name);
        made = { credentialId: body.passkey.credential_id, rpId: location.hostname };
      }
      const paired = await api.pair(body);
      device = {
        id: paired.device_id, user: paired.user, serviceKey: paired.service_key, name,
        privateKey: keys.privateKey, publicKey, pairedAt: Date.now(), passkey: made, push: false,
      };
      await db.saveDevice(device);
      const code = await proto.pairingCode(hostSecret, credential, publicKey, body.passkey ?? null);
      setStatus(`Paired for ${device.user}. Type the pairing code below on the computer.`, "ok");
      showMain();
      showPairCode(code);
    } catch (e) {
      setStatus(explain(e), "error");
      $("pair-button").disabled = false;
    }
  };
}

// ---- pending requests ---------------------------------------------------------------------

function startPolling() {
  if (poller || document.hidden || !device) return;
  poller = new AbortController();
  pollLoop(poller.signal);
}

function stopPolling() {
  poller?.abort();
  poller = null;
}

async function pollLoop(signal) {
  let backoff = 1000;
  while (!signal.aborted) {
    try {
      const list = await api.pending(device, WAIT, signal);
      if (pollError) { setStatus(""); pollError = false; }
      await showRequests(list.challenges);
      backoff = 1000;
      // The service answers at once while a request is open; look again shortly.
      if (list.challenges.length) await sleep(2000, signal);
    } catch (e) {
      if (signal.aborted) break;
      if (e instanceof ApiError && e.code === "revoked") {
        setStatus(explain(e), "error");
        stopPolling();
        break;
      }
      pollError = true;
      setStatus("Cannot reach the service; trying again…", "error");
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 30000);
    }
  }
}

async function showRequests(list) {
  const valid = [];
  for (const c of list) {
    const hash = await proto.loginHash(c);
    const problem = proto.requestProblem(c, device.user);
    if (problem) {
      setStatus(`A request is not shown: ${problem}.`, "error");
    } else if (await proto.verifyService(device.serviceKey, proto.pendingBytes(hash, c.expires_at), c.signature)) {
      valid.push(c);
    } else {
      setStatus("A request did not carry the service's valid signature and is not shown.", "error");
    }
  }
  const keep = new Set(valid.map((c) => c.txid));
  for (const [txid, card] of cards) {
    if (!keep.has(txid) && !card.busy) removeCard(txid);
  }
  for (const c of valid) if (!cards.has(c.txid)) addCard(c);
  $("no-requests").hidden = cards.size > 0;
}

function removeCard(txid) {
  cards.get(txid)?.el.remove();
  cards.delete(txid);
  $("no-requests").hidden = cards.size > 0;
}

function addCard(c) {
  const el = $("request-template").content.firstElementChild.cloneNode(true);
  const set = (cls, text) => { el.querySelector(cls).textContent = text; };
  el.dataset.txid = c.txid;
  el.setAttribute("aria-labelledby", `title-${c.txid}`);
  el.querySelector(".req-title").id = `title-${c.txid}`;
  set(".req-title", `Log in as ${c.user} on ${c.hostname}?`);
  set(".req-user", c.user);
  set(".req-host", c.hostname);
  set(".req-service", c.service);
  set(".req-rhost", c.rhost ?? "this computer (no remote address)");
  set(".req-time", new Date(c.time * 1000).toLocaleString());
  if (c.choices.length === 0) {
    // Typing the number: a blind approval gets in 1 time in 90, not 1 in 3.
    const form = el.querySelector(".type-number");
    const typed = form.querySelector(".typed");
    typed.id = `typed-${c.txid}`;
    form.querySelector(".type-label").htmlFor = typed.id;
    form.hidden = false;
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const text = typed.value.trim();
      if (!/^[1-9][0-9]$/.test(text)) {
        setStatus("Type the two-digit number shown at the login.", "error");
        typed.focus();
        return;
      }
      decide(c, "approve", Number(text));
    };
  } else {
    el.querySelector(".numbers").hidden = false;
    const row = el.querySelector(".number-row");
    for (const n of c.choices) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "number";
      b.dataset.number = String(n);
      b.textContent = String(n);
      b.setAttribute("aria-label", `Approve: the login shows ${n}`);
      b.onclick = () => decide(c, "approve", n);
      row.append(b);
    }
  }
  const confirm = el.querySelector(".confirm-fraud");
  el.querySelector(".deny").onclick = () => decide(c, "deny", null);
  el.querySelector(".fraud").onclick = () => {
    confirm.hidden = false;
    el.querySelector(".fraud-yes").focus();
  };
  el.querySelector(".fraud-no").onclick = () => {
    confirm.hidden = true;
    el.querySelector(".fraud").focus();
  };
  el.querySelector(".fraud-yes").onclick = () => decide(c, "fraud", null);
  $("requests").append(el);
  cards.set(c.txid, { c, el, busy: false });
  tick();
}

function tick() {
  const now = Date.now() / 1000;
  for (const [txid, { c, el, busy }] of cards) {
    const left = Math.round(c.expires_at - now);
    el.querySelector(".req-expiry").textContent = left > 0 ? `${left} s` : "expired";
    if (left <= 0 && !busy) {
      el.querySelectorAll("button, input").forEach((b) => { b.disabled = true; });
      if (left < -5) removeCard(txid);
    }
  }
}

const OUTCOMES = {
  approved: ["Approved: the login goes ahead if the number is the one it shows.", "ok"],
  denied: ["Denied: the login is refused.", ""],
  fraud: ["Reported: the login is refused and new requests for the account pause for a while.", ""],
};

async function decide(c, decision, number) {
  const card = cards.get(c.txid);
  if (!card || card.busy) return;
  card.busy = true;
  card.el.querySelectorAll("button, input").forEach((b) => { b.disabled = true; });
  setStatus("Sending…");
  try {
    // The answer signs the hash of the login exactly as this card shows it.
    const bytes = proto.answerBytes(await proto.loginHash(c), decision, number);
    const body = { decision, number, signature: await proto.sign(device.privateKey, bytes) };
    if (device.passkey) {
      setStatus("Confirm with your phone's unlock…");
      body.passkey = await passkey.assertAnswer(device.passkey.credentialId, device.passkey.rpId, bytes);
    }
    const r = await api.answer(device, c.txid, body);
    const [text, kind] = OUTCOMES[r.status] ?? [`Answered: ${r.status}`, ""];
    setStatus(text, kind);
    await db.addHistory({
      txid: c.txid, user: c.user, hostname: c.hostname, service: c.service, rhost: c.rhost ?? null,
      decision, number, status: r.status, at: Date.now(),
    });
    removeCard(c.txid);
    showPairCode(null);
    renderHistory();
  } catch (e) {
    setStatus(explain(e), "error");
    card.busy = false;
    if (e instanceof ApiError && ["expired", "already_used", "not_found"].includes(e.code)) {
      removeCard(c.txid);
    } else {
      card.el.querySelectorAll("button, input").forEach((b) => { b.disabled = false; });
    }
  }
}

// ---- history and settings -----------------------------------------------------------------

const DONE = { approved: "Approved", denied: "Denied", fraud: "Reported" };

async function renderHistory() {
  const list = await db.listHistory();
  const ol = $("history");
  ol.replaceChildren(
    ...list.map((h) => {
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.className = `outcome-${h.status}`;
      what.textContent = DONE[h.status] ?? h.status;
      const where = `${h.user} on ${h.hostname} (${h.service}${h.rhost ? ", from " + h.rhost : ""})`;
      li.append(what, ` — ${where}, ${new Date(h.at).toLocaleString()}`);
      return li;
    }),
  );
  $("no-history").hidden = list.length > 0;
}

function renderInfo() {
  $("info-user").textContent = device.user;
  $("info-name").textContent = device.name;
  $("info-id").textContent = device.id;
  $("info-passkey").textContent = device.passkey ? "Yes (passkey)" : "No";
  $("info-push").textContent = device.push ? "On" : "Off";
  $("push-button").hidden = !webpush.supported();
}

async function enablePush(quiet) {
  try {
    await webpush.enable(device);
    device.push = true;
    await db.saveDevice(device);
    if (!quiet) setStatus("Notifications are on.", "ok");
  } catch (e) {
    device.push = false;
    if (!quiet) {
      const why = e instanceof ApiError && e.status === 404
        ? "this service does not send notifications"
        : e.message;
      setStatus(`Notifications are not available (${why}); keep this page open to see requests.`, "error");
    }
  }
  renderInfo();
}

function showMain() {
  show("main-view");
  renderInfo();
  renderHistory();
  $("no-requests").hidden = cards.size > 0;
  startPolling();
  if (webpush.permitted()) enablePush(true);
}

// ---- start --------------------------------------------------------------------------------

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return "unsupported";
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    return "registered";
  } catch {
    return "failed";
  }
}

async function start() {
  $("push-button").onclick = () => enablePush(false);
  document.addEventListener("visibilitychange", () => (document.hidden ? stopPolling() : startPolling()));
  setInterval(tick, 1000);
  registerWorker().then((s) => { document.documentElement.dataset.worker = s; });
  device = (await db.loadDevice()) ?? null;
  const link = takeLink();
  if (link) {
    showPair(link);
  } else if (link === null) {
    show(device ? "main-view" : "unpaired-view");
    if (device) showMain();
    setStatus("This pairing link is damaged: scan the QR code again.", "error");
  } else if (device) {
    showMain();
  } else {
    show("unpaired-view");
  }
  document.documentElement.dataset.ready = "1";
}

start().catch((e) => setStatus(explain(e), "error"));
