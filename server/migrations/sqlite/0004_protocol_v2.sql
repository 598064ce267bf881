-- mfa-server schema, version 4 (sqlite): push protocol 2 (docs/push-service.md, "Protocol").
--
-- * Challenges carry the numbers the host had the phone offer (empty: the user types the
--   number) and no longer the number itself: the host picks and keeps it. A device's answer may
--   carry a passkey assertion (JSON). Version-1 challenges cannot be answered by version-2
--   devices or checked by version-2 hosts, so they are dropped rather than converted.
-- * The one open challenge per user, the per-user rate limit and fraud cooldowns count per push
--   scope (today: the host; fleet mode will put host groups here), so one host cannot block or
--   pause a user's logins on other hosts.
-- * Devices remember the host they were paired through: only that host's scope can push to
--   them. Devices paired before this version have none and receive nothing (pair them again).
-- * Passkeys are made while pairing; the registration is kept for the host that paired it.
-- * Device requests carry single-use nonces, remembered until their timestamp expires.

DROP TABLE challenge_devices;
DROP TABLE challenges;

CREATE TABLE challenges (
    txid              TEXT PRIMARY KEY,
    host_id           TEXT NOT NULL REFERENCES hosts (id),
    scope             TEXT NOT NULL,
    user              TEXT NOT NULL,
    service           TEXT NOT NULL,
    rhost             TEXT,
    login_time        INTEGER NOT NULL,
    nonce             TEXT NOT NULL,
    choices           TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    status            TEXT NOT NULL,
    closed_at         INTEGER,
    device_id         TEXT,
    decision          TEXT,
    answer_number     INTEGER,
    device_signature  TEXT,
    passkey           TEXT,
    answered_at       INTEGER,
    receipt_signature TEXT
);
CREATE UNIQUE INDEX challenges_one_open ON challenges (scope, user) WHERE status = 'pending';
CREATE INDEX challenges_by_expiry ON challenges (status, expires_at);

CREATE TABLE challenge_devices (
    txid       TEXT NOT NULL REFERENCES challenges (txid),
    device_id  TEXT NOT NULL REFERENCES devices (id),
    PRIMARY KEY (txid, device_id)
);
CREATE INDEX challenge_devices_by_device ON challenge_devices (device_id);

DROP TABLE cooldowns;
CREATE TABLE cooldowns (
    scope  TEXT NOT NULL,
    user   TEXT NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (scope, user)
);

ALTER TABLE devices ADD COLUMN host_id TEXT REFERENCES hosts (id);

ALTER TABLE passkeys ADD COLUMN registration TEXT NOT NULL DEFAULT '';

CREATE TABLE request_nonces (
    device_id   TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);
