-- mfa-server schema, version 3 (PostgreSQL): Web Push subscriptions, at most one per device
-- (docs/push-service.md, "Web Push"). The same table as migrations/sqlite/0003_web_push.sql.

CREATE TABLE push_subscriptions (
    device_id   TEXT PRIMARY KEY REFERENCES devices (id),
    endpoint    TEXT NOT NULL,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
