-- mfa-server schema, version 6 (SQLite): fleet mode, first slice (issue 20). Per user and fleet
-- scope: the TOTP secret sealed with the master key file (never stored here) and its
-- watermark, recovery-code hashes with used flags, the fleet-wide failure count and lockout;
-- and the hosts' verification nonces, remembered while a request with them could pass.

CREATE TABLE fleet_totp (
    scope       TEXT NOT NULL,
    user        TEXT NOT NULL,
    secret      BLOB NOT NULL,
    algorithm   TEXT NOT NULL,
    digits      INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    last_step   INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, user)
);

CREATE TABLE fleet_recovery (
    scope       TEXT NOT NULL,
    user        TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, user, slot)
);

CREATE TABLE fleet_lockout (
    scope         TEXT NOT NULL,
    user          TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  INTEGER,
    PRIMARY KEY (scope, user)
);

CREATE TABLE fleet_nonces (
    host_id     TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (host_id, nonce)
);
CREATE INDEX fleet_nonces_by_expiry ON fleet_nonces (expires_at);
