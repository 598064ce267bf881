-- mfa-server schema, version 5 (PostgreSQL): each rate-limit event names its challenge, so a push
-- the host withdrew because the user typed a code (DELETE ...?reason=code_typed) can be taken
-- out of the user's count in the same transaction as the cancel. Events from before have none
-- (they age out of the 60 s window; pruned after 120 s).

ALTER TABLE rate_events ADD COLUMN txid TEXT;
