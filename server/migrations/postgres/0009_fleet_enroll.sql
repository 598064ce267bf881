-- mfa-server schema, version 9 (PostgreSQL): fleet enrollment (issue 20). The users the admin opted
-- in to a first enrollment (`mfa-server fleet user opt-in`) when the service's
-- `[fleet] first_enrollment = "admin"`. The factors themselves live in version 6's tables.

CREATE TABLE fleet_opt_in (
    scope       TEXT NOT NULL,
    "user"        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, "user")
);
