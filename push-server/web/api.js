// The service's device API (docs/openapi.yaml), same origin. Device requests carry
// `Authorization: PamMfaDevice <id>.<unix time>.<signature over signed::device_request>`.

import { deviceRequestBytes, sign } from "./proto.js";

/** An error answer from the service (`code` is the stable `error` field). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function send(method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, signal, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
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

/** A request signed by the paired device. */
export async function deviceSend(device, method, path, options = {}) {
  const ts = Math.floor(Date.now() / 1000);
  const sig = await sign(device.privateKey, deviceRequestBytes(device.id, ts, method, path));
  const headers = { Authorization: `PamMfaDevice ${device.id}.${ts}.${sig}` };
  return send(method, path, { ...options, headers });
}

/** POST /v1/device/pair */
export const pair = (body) => send("POST", "/v1/device/pair", { body });

/** GET /v1/device/challenges?wait=N */
export const pending = (device, wait, signal) =>
  deviceSend(device, "GET", `/v1/device/challenges?wait=${wait}`, { signal });

/** POST /v1/device/challenges/{txid}/answer */
export const answer = (device, txid, body) =>
  deviceSend(device, "POST", `/v1/device/challenges/${encodeURIComponent(txid)}/answer`, { body });

/** GET /v1/web-push/key (no authentication). */
export const webPushKey = () => send("GET", "/v1/web-push/key");

/** PUT /v1/device/push-subscription */
export const putSubscription = (device, body) =>
  deviceSend(device, "PUT", "/v1/device/push-subscription", { body });

/** GET /v1/device/passkey/options */
export const passkeyOptions = (device) => deviceSend(device, "GET", "/v1/device/passkey/options");

/** POST /v1/device/passkey */
export const registerPasskey = (device, body) =>
  deviceSend(device, "POST", "/v1/device/passkey", { body });
