// IndexedDB: the pairing (with the non-extractable CryptoKey itself, which IndexedDB stores
// without exposing its bytes) and the local history of decisions.

const NAME = "pam_mfa";
const HISTORY_MAX = 50;
let opened = null;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function open() {
  if (!opened) {
    const r = indexedDB.open(NAME, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore("state");
      r.result.createObjectStore("history", { autoIncrement: true });
    };
    opened = request(r);
  }
  return opened;
}

async function store(name, mode) {
  return (await open()).transaction(name, mode).objectStore(name);
}

/** The pairing record, or undefined. */
export async function loadDevice() {
  return request((await store("state", "readonly")).get("device"));
}

/** Replaces the pairing record. */
export async function saveDevice(device) {
  return request((await store("state", "readwrite")).put(device, "device"));
}

/** Adds a decision and keeps only the newest ones. */
export async function addHistory(entry) {
  const s = await store("history", "readwrite");
  await request(s.add(entry));
  const keys = await request(s.getAllKeys());
  for (const k of keys.slice(0, Math.max(0, keys.length - HISTORY_MAX))) {
    await request(s.delete(k));
  }
}

/** Decisions, newest first. */
export async function listHistory() {
  const all = await request((await store("history", "readonly")).getAll());
  return all.reverse();
}
