// The push protocol's signed bytes, exactly as push-proto/src/signed.rs builds them:
// "pam_mfa-push-v1" 0x00 kind 0x00, then per field a 4-byte big-endian length and its UTF-8.
// Keys: P-256 ECDSA with SHA-256; WebCrypto signatures are already the 64-byte r||s the
// service expects. Everything on the wire is base64url without padding.

export const DOMAIN = "pam_mfa-push-v1";
const utf8 = new TextEncoder();
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };

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

/** signed::answer */
export const answerBytes = (txid, nonce, decision, number) =>
  message("answer", [txid, nonce, decision, numberText(number)]);

/** signed::challenge (the service's signature over a pending request). */
export const challengeBytes = (c) =>
  message("challenge", [
    c.txid, c.user, c.hostname, c.service, c.rhost ?? "", String(c.time), c.nonce,
    String(c.expires_at), c.choices.map(String).join(","),
  ]);

/** signed::pair */
export const pairBytes = (credential, name, publicKey) =>
  message("pair", [credential, name, publicKey]);

/** signed::device_request */
export const deviceRequestBytes = (id, timestamp, method, path) =>
  message("device-request", [id, String(timestamp), method, path]);

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

/** A new device key pair; the private half cannot be exported. */
export function generateKey() {
  return crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
}

/** The public key as the service wants it: uncompressed SEC1 point, base64url. */
export async function exportPublic(publicKey) {
  return b64(await crypto.subtle.exportKey("raw", publicKey));
}

/** Signs `bytes` with the device key: r||s, base64url. */
export async function sign(privateKey, bytes) {
  return b64(await crypto.subtle.sign(SIGN, privateKey, bytes));
}

/** Whether `signature` is the service's signature (key `serviceKey`, base64url point). */
export async function verifyService(serviceKey, bytes, signature) {
  try {
    const key = await crypto.subtle.importKey("raw", unb64(serviceKey), ECDSA, false, ["verify"]);
    return await crypto.subtle.verify(SIGN, key, unb64(signature), bytes);
  } catch {
    return false;
  }
}

/** SHA-256 of `bytes`. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
