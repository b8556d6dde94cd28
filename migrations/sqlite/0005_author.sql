-- Who wrote a message, separate from the conversation it belongs to (issue 9; design.md §10):
-- in a direct chat the author is the peer (incoming) or the account (outgoing, also sync copies
-- from our other devices); in a group or community room they differ. The same change as
-- migrations/postgres/0005_author.sql.

-- SQLite adds a NOT NULL column only with a non-NULL default; the store always writes the
-- author, and the backfill below replaces the placeholder in every existing row.
ALTER TABLE messages ADD COLUMN author TEXT NOT NULL DEFAULT '';
UPDATE messages SET author = CASE WHEN direction = 'incoming' THEN peer ELSE account END;
