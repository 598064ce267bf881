-- mfa-server schema, version 14 (SQLite): fleet mode offline (issue 21). Which hosts may hold
-- an offline bundle for a user (an accepted online login from that host, or the admin's mark),
-- the bundles the service issued (for `fleet offline list` and the keep rule; nothing secret:
-- a fingerprint of the factors the bundle was made from), and the offline uses hosts reported
-- (each applied once, by the host's id of the use).

CREATE TABLE fleet_offline_eligible (
    host_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    user           TEXT NOT NULL,
    last_login_at  INTEGER,
    marked_at      INTEGER,
    PRIMARY KEY (host_id, scope, user)
);

CREATE TABLE fleet_offline_bundles (
    host_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    user         TEXT NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_step    INTEGER,
    fingerprint  TEXT NOT NULL,
    PRIMARY KEY (host_id, scope, user)
);

CREATE TABLE fleet_offline_uses (
    host_id     TEXT NOT NULL,
    use_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    user        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    accepted    INTEGER NOT NULL,
    applied_at  INTEGER NOT NULL,
    PRIMARY KEY (host_id, use_id)
);
