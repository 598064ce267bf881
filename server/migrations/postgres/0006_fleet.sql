-- mfa-server schema, version 6 (PostgreSQL): fleet mode, first slice (issue 20). Per user and fleet
-- scope: the TOTP secret sealed with the master key file (never stored here) and its
-- watermark, recovery-code hashes with used flags, the fleet-wide failure count and lockout;
-- and the hosts' verification nonces, remembered while a request with them could pass.

CREATE TABLE fleet_totp (
    scope       TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    secret      BYTEA NOT NULL,
    algorithm   TEXT NOT NULL,
    digits      BIGINT NOT NULL,
    step        BIGINT NOT NULL,
    last_step   BIGINT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, "user")
);

CREATE TABLE fleet_recovery (
    scope       TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    slot        BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, "user", slot)
);

CREATE TABLE fleet_lockout (
    scope         TEXT NOT NULL,
    "user"        TEXT NOT NULL,
    failures      BIGINT NOT NULL,
    locked_until  BIGINT,
    PRIMARY KEY (scope, "user")
);

CREATE TABLE fleet_nonces (
    host_id     TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (host_id, nonce)
);
CREATE INDEX fleet_nonces_by_expiry ON fleet_nonces (expires_at);
