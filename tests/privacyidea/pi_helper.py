#!/usr/bin/env python3
"""privacyIDEA admin and phone side for pam_mfa's integration tests and benchmark.

Runs with the privacyIDEA virtualenv's python (it has `requests` and `cryptography`).
Every command prints one JSON object on stdout. The phone follows privacyIDEA's documented
/ttype/push protocol: it registers its RSA key, polls signed (serial|timestamp) and answers
signed (nonce|serial[|decline][|presence answer]), all with PKCS#1 v1.5 + SHA-256, base32.
"""
import argparse
import base64
import json
import os
import sys
import time
import urllib.parse
from datetime import datetime, timezone

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(1)


class Admin:
    def __init__(self, url, ca, password):
        self.url, self.ca = url.rstrip("/"), ca or True
        r = requests.post(f"{self.url}/auth", data={"username": "admin", "password": password},
                          verify=self.ca, timeout=30)
        self.headers = {"Authorization": self.result(r)["token"]}

    @staticmethod
    def result(r, whole=False):
        try:
            body = r.json()
        except ValueError:
            fail(f"HTTP {r.status_code}: {r.text[:300]}")
        if not body.get("result", {}).get("status"):
            fail(f"HTTP {r.status_code}: {json.dumps(body)[:500]}")
        return body if whole else body["result"]["value"]

    def post(self, path, data, whole=False):
        return self.result(requests.post(f"{self.url}{path}", data=data, headers=self.headers,
                                         verify=self.ca, timeout=30), whole)

    def get(self, path, params=None):
        return self.result(requests.get(f"{self.url}{path}", params=params or {},
                                        headers=self.headers, verify=self.ca, timeout=30))


def configure(a):
    ad = Admin(a.url, a.ca, a.admin_password)
    ad.post("/resolver/pam_mfa_users", {"type": "passwdresolver", "fileName": a.passwd})
    ad.post(f"/realm/{a.realm}", {"resolvers": "pam_mfa_users"})
    ad.post("/system/setConfig", {"OverrideAuthorizationClient": "127.0.0.1"})
    ad.post("/policy/pam_mfa_push_enroll", {
        "scope": "enrollment", "realm": a.realm,
        "action": f"push_firebase_configuration=poll only, push_registration_url={a.url}/ttype/push,"
                  f" push_ssl_verify={'1' if a.ca else '0'}, push_ttl=10"})
    # Number matching only for the users named (other users get plain push).
    if a.presence_users:
        ad.post("/policy/pam_mfa_presence", {
            "scope": "authentication", "realm": a.realm, "user": a.presence_users,
            "action": "push_require_presence=1, push_presence_options=NUMERIC,"
                      " push_presence_num_options=3"})
    print(json.dumps({"ok": True}))


def enroll_totp(a):
    ad = Admin(a.url, a.ca, a.admin_password)
    v = ad.post("/token/init", {"type": "totp", "otpkey": a.secret_hex, "otplen": "6",
                                "timeStep": "30", "hashlib": "sha1", "user": a.user,
                                "realm": a.realm}, whole=True)
    print(json.dumps({"serial": v["detail"]["serial"]}))


def b32(sig):
    return base64.b32encode(sig).decode()


def enroll_push(a):
    serial = push_token(Admin(a.url, a.ca, a.admin_password), a, a.user, a.state)
    print(json.dumps({"serial": serial}))


def enroll_push_many(a):
    """Push tokens with phones for many users at once (the benchmark's setup): one admin login,
    a few enrollments in parallel; each phone's state goes to STATE_DIR/phone-USER.json."""
    from concurrent.futures import ThreadPoolExecutor
    ad = Admin(a.url, a.ca, a.admin_password)
    users = [u for u in a.users.split(",") if u]
    enroll = lambda u: push_token(ad, a, u, os.path.join(a.state_dir, f"phone-{u}.json"))
    with ThreadPoolExecutor(max_workers=a.parallel) as pool:
        serials = list(pool.map(enroll, users))
    print(json.dumps({"serials": serials}))


def push_token(ad, a, user, state_file):
    """Enrolls a push token for `user` and registers a new phone key for it; writes the phone's
    state (registration URL, serial, server public key, private key PEM) to `state_file`."""
    v = ad.post("/token/init", {"type": "push", "genkey": "1", "user": user,
                                "realm": a.realm}, whole=True)
    uri = v["detail"]["pushurl"]["value"]
    q = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    serial = q["serial"][0]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    r = requests.post(q["url"][0], data={
        "enrollment_credential": q["enrollment_credential"][0], "serial": serial,
        "fbtoken": "poll-only-test-phone",
        "pubkey": base64.urlsafe_b64encode(pub_der).decode().rstrip("=")},
        verify=a.ca or True, timeout=30)
    detail = Admin.result(r, whole=True)["detail"]
    state = {"url": q["url"][0], "serial": serial,
             "server_pubkey": detail["public_key"],
             "key": key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()}
    with open(state_file, "w") as f:
        json.dump(state, f)
    return serial


class Phone:
    def __init__(self, state_file, ca):
        with open(state_file) as f:
            self.s = json.load(f)
        self.key = serialization.load_pem_private_key(self.s["key"].encode(), password=None)
        self.ca = ca or True
        self.session = requests.Session()

    def sign(self, text):
        return b32(self.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))

    def poll(self):
        ts = datetime.now(timezone.utc).isoformat()
        serial = self.s["serial"]
        r = self.session.get(self.s["url"], params={
            "serial": serial, "timestamp": ts, "signature": self.sign(f"{serial}|{ts}")},
            verify=self.ca, timeout=30)
        return Admin.result(r)

    def wait_challenge(self, deadline, seen=()):
        """The first open challenge whose nonce is not in `seen` (older, unanswered ones)."""
        while time.monotonic() < deadline:
            for chal in self.poll():
                if chal["nonce"] not in seen:
                    return chal
            time.sleep(0.1)
        return None

    def answer(self, chal, decision, presence=None):
        serial, nonce = self.s["serial"], chal["nonce"]
        data = {"serial": serial, "nonce": nonce}
        text = f"{nonce}|{serial}"
        if decision == "decline":
            data["decline"] = "1"
            text += "|decline"
        if presence is not None:
            data["presence_answer"] = presence
            text += f"|{presence}"
        data["signature"] = self.sign(text)
        r = self.session.post(self.s["url"], data=data, verify=self.ca, timeout=30)
        return Admin.result(r)


def correct_presence(a, serial, nonce):
    """The number the login shows ("Please press: NN"), which the user reads off the screen;
    here read from the server's record of this challenge."""
    ad = Admin(a.url, a.ca, a.admin_password)
    v = ad.get(f"/token/challenges/{serial}", {"pagesize": "1000"})
    for c in v.get("challenges", []):
        if c.get("challenge") != nonce:
            continue
        data = c.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                continue
        if isinstance(data, dict) and data.get("correct_answer"):
            return data["correct_answer"]
    return None


def phone(a):
    p = Phone(a.state, a.ca)
    # Challenges already open belong to earlier logins (left to expire): answer only a new one.
    seen = {c["nonce"] for c in p.poll()}
    print(json.dumps({"ready": True}), flush=True)
    chal = p.wait_challenge(time.monotonic() + a.wait, seen)
    if chal is None:
        fail("no challenge reached the phone")
    presence = None
    options = chal.get("require_presence")
    if options:
        options = options.split(",")
        right = correct_presence(a, p.s["serial"], chal["nonce"])
        if right is None:
            fail("presence required but no correct answer found")
        if a.action == "accept":
            presence = right
        elif a.action == "wrong-number":
            presence = next(o for o in options if o != right)
    if a.action == "wrong-number" and presence is None:
        fail("wrong-number asked but the challenge has no number matching")
    value = p.answer(chal, "decline" if a.action == "decline" else "accept", presence)
    print(json.dumps({"answered": a.action, "presence": presence, "options": options,
                      "value": value, "question": chal.get("question")}))


def health(a):
    deadline = time.monotonic() + a.wait
    last = ""
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{a.url.rstrip('/')}/healthz/", verify=a.ca or True, timeout=5)
            if r.status_code == 200:
                print(json.dumps({"ready": True}))
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as e:
            last = type(e).__name__
        time.sleep(0.2)
    fail(f"privacyIDEA not ready after {a.wait} s ({last})")


def audit_clients(a):
    """The client addresses privacyIDEA recorded for a user's /validate/check requests."""
    ad = Admin(a.url, a.ca, a.admin_password)
    v = ad.get("/audit/", {"user": a.user, "action": "*validate/check*", "page_size": "100"})
    print(json.dumps({"clients": [e.get("client") for e in v.get("auditdata", [])]}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", default="")
    ap.add_argument("--admin-password", default="")
    ap.add_argument("--realm", default="pam_mfa")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("configure")
    c.add_argument("--passwd", required=True)
    c.add_argument("--presence-users", default="")
    t = sub.add_parser("enroll-totp")
    t.add_argument("--user", required=True)
    t.add_argument("--secret-hex", required=True)
    e = sub.add_parser("enroll-push")
    e.add_argument("--user", required=True)
    e.add_argument("--state", required=True)
    em = sub.add_parser("enroll-push-many")
    em.add_argument("--users", required=True, help="comma-separated")
    em.add_argument("--state-dir", required=True)
    em.add_argument("--parallel", type=int, default=4)
    ph = sub.add_parser("phone")
    ph.add_argument("--state", required=True)
    ph.add_argument("--action", choices=["accept", "decline", "wrong-number"], required=True)
    ph.add_argument("--wait", type=float, default=20.0)
    h = sub.add_parser("health")
    h.add_argument("--wait", type=float, default=60.0)
    au = sub.add_parser("audit-clients")
    au.add_argument("--user", required=True)
    a = ap.parse_args()
    {"health": health, "audit-clients": audit_clients, "configure": configure, "enroll-totp": enroll_totp, "enroll-push": enroll_push,
     "enroll-push-many": enroll_push_many,
     "phone": phone}[a.cmd](a)


if __name__ == "__main__":
    main()
