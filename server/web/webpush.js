// Web Push on the page side: subscribe with the service's VAPID key and hand the subscription
// to the service. Without it (no support, no permission, the service cannot reach a push
// service) the page still long-polls while it is open.

import { putSubscription, webPushKey } from "./api.js";
import { b64, unb64 } from "./proto.js";

/** Whether this browser can receive Web Push. */
export const supported = () =>
  "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

/** Whether the user already allowed notifications. */
export const permitted = () => supported() && Notification.permission === "granted";

function sameKey(a, b) {
  if (!a || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

const clean = (s) => (s ?? "").replace(/=+$/, "");

/** Subscribes (asking for permission if needed) and registers the subscription. */
export async function enable(device) {
  if (Notification.permission !== "granted") {
    if ((await Notification.requestPermission()) !== "granted") {
      throw new Error("notifications are not allowed for this site");
    }
  }
  const { vapid_public_key: vapid } = await webPushKey();
  const key = unb64(vapid);
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) {
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  const j = sub.toJSON();
  await putSubscription(device, {
    endpoint: j.endpoint,
    p256dh: clean(j.keys?.p256dh) || b64(sub.getKey("p256dh")),
    auth: clean(j.keys?.auth) || b64(sub.getKey("auth")),
  });
}
