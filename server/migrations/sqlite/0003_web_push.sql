-- mfa-server schema, version 3: Web Push subscriptions, at most one per device
-- (docs/push-service.md, "Web Push"). The endpoint is a capability to send to the browser:
-- it is never logged.

CREATE TABLE push_subscriptions (
    device_id   TEXT PRIMARY KEY REFERENCES devices (id),
    endpoint    TEXT NOT NULL,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
