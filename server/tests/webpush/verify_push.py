#!/usr/bin/env python3
"""Independent check of one Web Push request captured from mfa-server (server/tests/webpush.rs).

Decrypts the body with Python http_ece (RFC 8188/8291, aes128gcm) using the subscription's
private key and auth secret, verifies the VAPID token (RFC 8292) with py_vapid against the key
the service publishes, and checks the headers and the payload against what the test expects.

    verify_push.py CASE.json      # exit 0 and "ok ..." when every check holds, else exit 1

CASE.json: {"method", "headers": {lower-case name: value}, "body_b64", "ua_private", "auth",
"vapid_public_key", "endpoint", "subject", "expect": {payload}, "now"}; bytes are base64url.
"""

import base64
import json
import sys
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

DAY = 24 * 3600


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def origin(url):
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else "[%s]" % parts.hostname
    port = "" if parts.port in (None, default) else ":%d" % parts.port
    return "%s://%s%s" % (parts.scheme, host, port)


def fail(why):
    print("verify_push: " + why, file=sys.stderr)
    sys.exit(1)


def check(case):
    h = case["headers"]
    if case["method"] != "POST":
        fail("method is %r, not POST" % case["method"])
    if h.get("content-encoding") != "aes128gcm":
        fail("Content-Encoding is %r, not aes128gcm" % h.get("content-encoding"))
    if h.get("urgency") != "high":
        fail("Urgency is %r, not high" % h.get("urgency"))

    # The message, decrypted with the browser's keys only.
    scalar = int.from_bytes(unb64(case["ua_private"]), "big")
    private = ec.derive_private_key(scalar, ec.SECP256R1())
    try:
        plain = http_ece.decrypt(
            unb64(case["body_b64"]),
            private_key=private,
            auth_secret=unb64(case["auth"]),
            version="aes128gcm",
        )
    except Exception as e:  # http_ece raises several types for a bad record
        fail("http_ece cannot decrypt the body: %s" % e)
    payload = json.loads(plain)
    if payload != case["expect"]:
        fail("payload %r is not the expected %r" % (payload, case["expect"]))
    for secret in ("nonce", "number", "choices"):
        if secret in payload:
            fail("payload carries %r" % secret)

    # TTL: the challenge's remaining lifetime.
    ttl = int(h.get("ttl", "-1"))
    remaining = case["expect"]["expires_at"] - case["now"]
    if not (0 < ttl <= remaining + 2 and ttl >= remaining - 5):
        fail("TTL %d does not match the challenge's remaining %d s" % (ttl, remaining))

    # VAPID: "vapid t=<JWT>, k=<key>", signed by the key the service publishes.
    auth = h.get("authorization", "")
    if not auth.startswith("vapid "):
        fail("Authorization is not a vapid scheme: %r" % auth[:20])
    params = dict(p.strip().split("=", 1) for p in auth[len("vapid "):].split(","))
    if params.get("k") != case["vapid_public_key"]:
        fail("k= is not the service's published VAPID key")
    token = params.get("t", "")
    header = json.loads(unb64(token.split(".")[0]))
    if header.get("alg") != "ES256":
        fail("JWT alg is %r" % header.get("alg"))
    try:
        claims = vapid_jwt.decode(token, case["vapid_public_key"])
    except Exception as e:
        fail("VAPID signature does not verify with the published key: %r" % e)
    if claims.get("aud") != origin(case["endpoint"]):
        fail("aud %r is not the endpoint's origin %r" % (claims.get("aud"), origin(case["endpoint"])))
    exp = claims.get("exp")
    if not isinstance(exp, int) or not (case["now"] < exp <= case["now"] + DAY):
        fail("exp %r is not within the next 24 hours" % exp)
    if claims.get("sub") != case["subject"]:
        fail("sub %r is not the configured subject" % claims.get("sub"))
    print("ok txid=%s ttl=%d aud=%s" % (payload["txid"], ttl, claims["aud"]))


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        check(json.load(f))
