-- Telegraphy's storage, version 2: the gap rule remembers a loss the client
-- was told of. docs/persistence.md, "Gaps".

-- A persistent subscription's gap_acked_upto: the dropped_upto the client
-- has acknowledged (a resume from at or after it was accepted, or a gap was
-- answered with nothing left to serve). A resume from before dropped_upto is
-- a gap only while dropped_upto > gap_acked_upto: one loss is reported until
-- acknowledged, not at every later resume from the start.
ALTER TABLE telegraphy_subscriptions
    ADD COLUMN gap_acked_upto bigint NOT NULL DEFAULT 0;
