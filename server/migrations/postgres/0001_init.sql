-- mfa-server schema, version 1 (PostgreSQL). The same tables as migrations/sqlite/0001_init.sql:
-- times are Unix seconds; secrets are stored as SHA-256 hashes. "user" is a reserved word in
-- PostgreSQL, so it is always quoted.

CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    "user"      TEXT NOT NULL,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX devices_by_user ON devices ("user");

CREATE TABLE pairings (
    id               TEXT PRIMARY KEY,
    host_id          TEXT NOT NULL REFERENCES hosts (id),
    "user"           TEXT NOT NULL,
    credential_hash  BYTEA NOT NULL UNIQUE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT,
    device_id        TEXT REFERENCES devices (id)
);

CREATE TABLE challenges (
    txid              TEXT PRIMARY KEY,
    host_id           TEXT NOT NULL REFERENCES hosts (id),
    "user"            TEXT NOT NULL,
    service           TEXT NOT NULL,
    rhost             TEXT,
    login_time        BIGINT NOT NULL,
    nonce             TEXT NOT NULL,
    number            BIGINT NOT NULL,
    choices           TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    status            TEXT NOT NULL,
    closed_at         BIGINT,
    device_id         TEXT,
    decision          TEXT,
    answer_number     BIGINT,
    device_signature  TEXT,
    answered_at       BIGINT,
    receipt_signature TEXT
);
-- One open challenge per user, enforced by the database itself (across every instance).
CREATE UNIQUE INDEX challenges_one_open ON challenges ("user") WHERE status = 'pending';
CREATE INDEX challenges_by_expiry ON challenges (status, expires_at);

CREATE TABLE challenge_devices (
    txid       TEXT NOT NULL REFERENCES challenges (txid),
    device_id  TEXT NOT NULL REFERENCES devices (id),
    PRIMARY KEY (txid, device_id)
);
CREATE INDEX challenge_devices_by_device ON challenge_devices (device_id);

-- Accepted challenges, counted for the sliding-window rate limits (shared by every instance).
CREATE TABLE rate_events (
    scope  TEXT NOT NULL,
    key    TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX rate_events_by_key ON rate_events (scope, key, at);

CREATE TABLE cooldowns (
    "user"  TEXT PRIMARY KEY,
    until   BIGINT NOT NULL
);
