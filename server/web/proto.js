// The push protocol's signed bytes, exactly as push-proto/src/signed.rs builds them:
// "pam_mfa-push-v2" 0x00 kind 0x00, then per field a 4-byte big-endian length and its UTF-8.
// Keys: P-256 ECDSA with SHA-256 in the 64-byte r||s form, always with a low s (WebCrypto
// returns either; the service refuses high-S). Everything on the wire is base64url without
// padding.

export const DOMAIN = "pam_mfa-push-v2";
const utf8 = new TextEncoder();
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };
// The order of P-256's group, and half of it: s above the half is "high".
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = N >> 1n;

/** Concatenates byte arrays. */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The canonical message of `kind` over `fields` (strings). */
export function message(kind, fields) {
  const parts = [utf8.encode(DOMAIN), Uint8Array.of(0), utf8.encode(kind), Uint8Array.of(0)];
  for (const f of fields) {
    const bytes = utf8.encode(f);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.length);
    parts.push(len, bytes);
  }
  return concat(parts);
}

const numberText = (n) => (n === null || n === undefined ? "" : String(n));

/** SHA-256 of `bytes`. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** signed::login: the whole login as the host created it and this page shows it. */
export const loginBytes = (c) =>
  message("login", [
    c.txid, c.host_id, c.hostname, c.user, c.service, c.rhost ?? "", String(c.time), c.nonce,
    c.choices.map(String).join(","),
  ]);

/** signed::login_hash: what an answer is bound to. */
export const loginHash = (c) => sha256(loginBytes(c));

/** signed::answer (`hash`: the login's hash, bytes). */
export const answerBytes = (hash, decision, number) =>
  message("answer", [b64(hash), decision, numberText(number)]);

/** signed::pending (the service's signature over a request it hands to this device). */
export const pendingBytes = (hash, expiresAt) => message("pending", [b64(hash), String(expiresAt)]);

/** signed::pair */
export const pairBytes = (credential, name, publicKey) =>
  message("pair", [credential, name, publicKey]);

/** signed::passkey_pairing_challenge: the WebAuthn challenge of a passkey made while pairing. */
export const passkeyPairingChallenge = (credential, publicKey) =>
  sha256(message("passkey-pairing", [credential, publicKey]));

/** signed::pairing_code: six digits the user types at the host. */
export async function pairingCode(hostSecret, credential, publicKey, passkey) {
  const id = passkey ? passkey.credential_id : "";
  const attestation = passkey ? b64(await sha256(utf8.encode(passkey.attestation_object))) : "";
  const h = await sha256(message("pairing-code", [hostSecret, credential, publicKey, id, attestation]));
  const first = new DataView(h.buffer).getBigUint64(0);
  return String(first % 1000000n).padStart(6, "0");
}

/** signed::device_request (`bodyHash`: base64url SHA-256 of the body as sent). */
export const deviceRequestBytes = (id, timestamp, nonce, method, path, bodyHash) =>
  message("device-request", [id, String(timestamp), nonce, method, path, bodyHash]);

/** base64url without padding. */
export function b64(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const b of u8) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes base64url (throws on anything else). */
export function unb64(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

/** `n` random bytes, base64url. */
export function randomToken(n) {
  return b64(crypto.getRandomValues(new Uint8Array(n)));
}

const toBig = (bytes) => BigInt("0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));

function fromBig(n) {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Whether a 64-byte r||s signature has a low s. */
export const isLowS = (sig) => sig.length === 64 && toBig(sig.slice(32)) <= HALF_N;

/** The low-S form of a 64-byte r||s signature: (r, n - s) when s is high. */
export function lowS(sig) {
  const s = toBig(sig.slice(32));
  return s <= HALF_N ? sig : concat([sig.slice(0, 32), fromBig(N - s)]);
}

/** A new device key pair; the private half cannot be exported. */
export function generateKey() {
  return crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
}

/** The public key as the service wants it: uncompressed SEC1 point, base64url. */
export async function exportPublic(publicKey) {
  return b64(await crypto.subtle.exportKey("raw", publicKey));
}

/** Signs `bytes` with the device key: r||s with a low s, base64url. */
export async function sign(privateKey, bytes) {
  return b64(lowS(new Uint8Array(await crypto.subtle.sign(SIGN, privateKey, bytes))));
}

/** Whether `signature` is the service's (low-S) signature (key `serviceKey`, base64url point). */
export async function verifyService(serviceKey, bytes, signature) {
  try {
    const sig = unb64(signature);
    if (!isLowS(sig)) return false;
    const key = await crypto.subtle.importKey("raw", unb64(serviceKey), ECDSA, false, ["verify"]);
    return await crypto.subtle.verify(SIGN, key, sig, bytes);
  } catch {
    return false;
  }
}

/**
 * Why a (service-signed) request must not be shown, or null: it must name this phone's own
 * user and offer no numbers (the user types the one shown at login) or three different
 * two-digit numbers. The service could otherwise make this phone answer for another account.
 */
export function requestProblem(c, user) {
  if (c.user !== user) return "it is for another account";
  const ch = c.choices;
  if (!Array.isArray(ch)) return "its numbers are malformed";
  if (ch.length === 0) return null;
  const ok = ch.length === 3 && ch.every((n) => Number.isInteger(n) && n >= 10 && n <= 99)
    && new Set(ch).size === 3;
  return ok ? null : "it does not offer three different numbers";
}
