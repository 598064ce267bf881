-- mfa-server schema, version 15 (SQLite): fleet mode offline's hashed TOTP windows
-- (issue 21), made in the background and kept, so that a host's bundle request never waits
-- for hashing. One window per host, scope and user: the first step, the steps, the window's
-- salt and hash cost, the hashes (32 bytes each, concatenated), when it was made, and a
-- fingerprint of the TOTP secret and parameters it was made from (a window whose fingerprint
-- is not the current one is never used). Deleted with the rest of the user's offline rows.

CREATE TABLE fleet_offline_windows (
    host_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    user         TEXT NOT NULL,
    first_step   INTEGER NOT NULL,
    steps        INTEGER NOT NULL,
    step_secs    INTEGER NOT NULL,
    digits       INTEGER NOT NULL,
    salt         BLOB NOT NULL,
    memory_kib   INTEGER NOT NULL,
    passes       INTEGER NOT NULL,
    hashes       BLOB NOT NULL,
    made_at      INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,
    PRIMARY KEY (host_id, scope, user)
);
