-- mfa-server schema, version 14 (PostgreSQL): fleet mode offline (issue 21). Which hosts may hold
-- an offline bundle for a user (an accepted online login from that host, or the admin's mark),
-- the bundles the service issued (for `fleet offline list` and the keep rule; nothing secret:
-- a fingerprint of the factors the bundle was made from), and the offline uses hosts reported
-- (each applied once, by the host's id of the use).

CREATE TABLE fleet_offline_eligible (
    host_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    "user"         TEXT NOT NULL,
    last_login_at  BIGINT,
    marked_at      BIGINT,
    PRIMARY KEY (host_id, scope, "user")
);

CREATE TABLE fleet_offline_bundles (
    host_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    "user"       TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_step    BIGINT,
    fingerprint  TEXT NOT NULL,
    PRIMARY KEY (host_id, scope, "user")
);

CREATE TABLE fleet_offline_uses (
    host_id     TEXT NOT NULL,
    use_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    accepted    BIGINT NOT NULL,
    applied_at  BIGINT NOT NULL,
    PRIMARY KEY (host_id, use_id)
);
