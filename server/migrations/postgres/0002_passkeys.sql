-- mfa-server schema, version 2 (postgres): passkeys (WebAuthn) of web app devices, at most one per
-- device; once a device has one, every answer must carry an assertion of it
-- (docs/push-service.md, "Passkeys"). The same table in migrations/sqlite and migrations/postgres.

CREATE TABLE passkeys (
    device_id      TEXT PRIMARY KEY REFERENCES devices (id),
    credential_id  TEXT NOT NULL UNIQUE,
    public_key     TEXT NOT NULL,
    sign_count     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
