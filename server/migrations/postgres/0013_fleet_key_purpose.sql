-- mfa-server schema, version 13: a security-key challenge's purpose (issue 20). A login's
-- challenge ('login', every challenge before this version) and an enrollment proof's
-- ('enroll') are taken only by their own endpoint, so an assertion made for one is never
-- accepted as the other.

ALTER TABLE fleet_key_challenges ADD COLUMN purpose TEXT NOT NULL DEFAULT 'login';
