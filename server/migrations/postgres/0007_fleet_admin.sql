-- mfa-server schema, version 7 (PostgreSQL): fleet mode's access model (issue 20). Host groups,
-- their member hosts, and per user (within a fleet scope) the groups whose hosts may
-- authenticate or enroll the user. A user with no row for a purpose is unrestricted for it.
-- A group named by a user's restriction cannot be deleted (RESTRICT): deleting it would
-- silently lift the restriction (fail open).

CREATE TABLE host_groups (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE host_group_members (
    group_name  TEXT NOT NULL REFERENCES host_groups (name) ON DELETE CASCADE,
    host_id     TEXT NOT NULL REFERENCES hosts (id),
    PRIMARY KEY (group_name, host_id)
);
CREATE INDEX host_group_members_by_host ON host_group_members (host_id);

CREATE TABLE fleet_user_groups (
    scope       TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('authenticate', 'enroll')),
    group_name  TEXT NOT NULL REFERENCES host_groups (name) ON DELETE RESTRICT,
    PRIMARY KEY (scope, "user", purpose, group_name)
);
