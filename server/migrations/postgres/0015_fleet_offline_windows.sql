-- mfa-server schema, version 15 (PostgreSQL): fleet mode offline's hashed TOTP windows
-- (issue 21), made in the background and kept, so that a host's bundle request never waits
-- for hashing. One window per host, scope and user: the first step, the steps, the window's
-- salt and hash cost, the hashes (32 bytes each, concatenated), when it was made, and a
-- fingerprint of the TOTP secret and parameters it was made from (a window whose fingerprint
-- is not the current one is never used). Deleted with the rest of the user's offline rows.

CREATE TABLE fleet_offline_windows (
    host_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    "user"       TEXT NOT NULL,
    first_step   BIGINT NOT NULL,
    steps        BIGINT NOT NULL,
    step_secs    BIGINT NOT NULL,
    digits       BIGINT NOT NULL,
    salt         BYTEA NOT NULL,
    memory_kib   BIGINT NOT NULL,
    passes       BIGINT NOT NULL,
    hashes       BYTEA NOT NULL,
    made_at      BIGINT NOT NULL,
    fingerprint  TEXT NOT NULL,
    PRIMARY KEY (host_id, scope, "user")
);
