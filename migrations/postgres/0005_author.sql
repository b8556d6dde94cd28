-- Who wrote a message, separate from the conversation it belongs to (issue 9; design.md §10):
-- in a direct chat the author is the peer (incoming) or the account (outgoing, also sync copies
-- from our other devices); in a group or community room they differ. The same change as
-- migrations/sqlite/0005_author.sql.

-- Added without a default, filled from the existing rows, then required: a row the store
-- writes without an author fails instead of getting a placeholder.
ALTER TABLE messages ADD COLUMN author TEXT;
UPDATE messages SET author = CASE WHEN direction = 'incoming' THEN peer ELSE account END;
ALTER TABLE messages ALTER COLUMN author SET NOT NULL;
