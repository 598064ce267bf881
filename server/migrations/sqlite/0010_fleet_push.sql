-- mfa-server schema, version 10 (SQLite): fleet push devices (issue 20). A device paired once
-- (version 1's `devices`) that the user made a fleet factor (`mfa-enroll push` on a fleet host):
-- every fleet host offers it at login (POST /v2/fleet/push/devices).

CREATE TABLE fleet_push_devices (
    scope       TEXT NOT NULL,
    user        TEXT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, user, device_id)
);
