// The service's device API (docs/openapi.yaml), same origin. Device requests carry
// `Authorization: PamMfaDevice <id>.<unix time>.<nonce>.<signature over signed::device_request>`:
// the signature covers the method, path, body (its SHA-256) and a fresh nonce, so a request
// someone captured cannot be sent again, with its body or another.

import { b64, deviceRequestBytes, randomToken, sha256, sign } from "./proto.js";

/** An error answer from the service (`code` is the stable `error` field). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function send(method, path, { text, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, signal, cache: "no-store", credentials: "omit" };
  if (text !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = text;
  }
  const r = await fetch(path, init);
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    throw new ApiError(r.status, data?.error ?? "http_" + r.status, data?.message ?? r.statusText);
  }
  return data;
}

/** A request signed by the paired device (the body is sent exactly as signed). */
export async function deviceSend(device, method, path, { body, signal } = {}) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const bodyHash = b64(await sha256(new TextEncoder().encode(text ?? "")));
  const ts = Math.floor(Date.now() / 1000);
  const nonce = randomToken(16);
  const sig = await sign(device.privateKey, deviceRequestBytes(device.id, ts, nonce, method, path, bodyHash));
  const headers = { Authorization: `PamMfaDevice ${device.id}.${ts}.${nonce}.${sig}` };
  return send(method, path, { text, headers, signal });
}

/** POST /v2/device/pair */
export const pair = (body) => send("POST", "/v2/device/pair", { text: JSON.stringify(body) });

/** GET /v2/device/challenges?wait=N */
export const pending = (device, wait, signal) =>
  deviceSend(device, "GET", `/v2/device/challenges?wait=${wait}`, { signal });

/** POST /v2/device/challenges/{txid}/answer */
export const answer = (device, txid, body) =>
  deviceSend(device, "POST", `/v2/device/challenges/${encodeURIComponent(txid)}/answer`, { body });

/** GET /v2/web-push/key (no authentication). */
export const webPushKey = () => send("GET", "/v2/web-push/key");

/** PUT /v2/device/push-subscription */
export const putSubscription = (device, body) =>
  deviceSend(device, "PUT", "/v2/device/push-subscription", { body });
