-- mfa-server schema, version 8 (PostgreSQL): fleet mode's security keys (issue 20). Per user and
-- fleet scope, FIDO2 credentials registered for the fleet's one RP id (public key and
-- signature counter; nothing secret), and the assertion challenges handed to hosts: bound to
-- host, user and the host's nonce, short-lived, deleted when used.

CREATE TABLE fleet_keys (
    scope              TEXT NOT NULL,
    "user"             TEXT NOT NULL,
    credential_id      TEXT NOT NULL,
    public_key         TEXT NOT NULL,
    name               TEXT NOT NULL,
    sign_count         BIGINT NOT NULL,
    user_verification  BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    used_at            BIGINT,
    PRIMARY KEY (scope, "user", credential_id)
);

CREATE TABLE fleet_key_challenges (
    challenge   TEXT PRIMARY KEY,
    host_id     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX fleet_key_challenges_by_expiry ON fleet_key_challenges (expires_at);

-- Fleet hosts for push (`mfa-server fleet host join`): they share one push scope, so a device
-- paired through one of them reaches all of them. Hosts not listed stay their own scope.
CREATE TABLE fleet_push_hosts (
    host_id    TEXT PRIMARY KEY,
    joined_at  BIGINT NOT NULL
);
