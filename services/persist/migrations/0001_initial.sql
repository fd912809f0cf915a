-- Telegraphy's storage, version 1. docs/persistence.md explains every table.
-- Publication ids are integers <= 2^53 (bigint); times are microseconds since
-- the Unix epoch (bigint), as the gateway carries them.

-- The event-type registry: the router's registration, kept as the msgpack it
-- sent, so that a restart of router and ingest together loses no type.
CREATE TABLE telegraphy_types (
    name text PRIMARY KEY,
    definition bytea NOT NULL
);

-- Per event type (= topic), what the gap rule needs: the first publication id
-- stored, and the highest one ever dropped (expiry, or a loss reported by
-- the caller).
CREATE TABLE telegraphy_type_marks (
    topic text PRIMARY KEY,
    store_began bigint NOT NULL,
    dropped_upto bigint NOT NULL DEFAULT 0
);

-- Stored events: retained ones (expires_at_us > 0) and guaranteed ones still
-- owed to a persistent subscription. header and body are the envelope's
-- bytes, stored and served as they came.
CREATE TABLE telegraphy_events (
    pub_id bigint PRIMARY KEY,
    topic text NOT NULL,
    ts_us bigint NOT NULL,
    expires_at_us bigint NOT NULL DEFAULT 0, -- 0: no ttl, kept while owed
    guaranteed boolean NOT NULL,
    header bytea NOT NULL,
    body bytea NOT NULL
);
-- expiry: the oldest deadlines first, in bounded batches
CREATE INDEX telegraphy_events_expiry ON telegraphy_events (expires_at_us)
    WHERE expires_at_us > 0;
-- _since / get_retained: a topic's retained events in publication order
CREATE INDEX telegraphy_events_retained ON telegraphy_events (topic, pub_id)
    WHERE expires_at_us > 0;
-- the sweep of guaranteed events without ttl that nobody is owed any more
CREATE INDEX telegraphy_events_owed ON telegraphy_events (pub_id)
    WHERE expires_at_us = 0;

-- Persistent subscriptions: one row per (client, subscription key).
-- backlog counts its delivery rows (kept by the store, so the bound costs no
-- count(*)); dropped_upto is its own overflow/expiry mark for the gap rule.
CREATE TABLE telegraphy_subscriptions (
    sub_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id text NOT NULL,
    sub_id bigint NOT NULL,
    topic text NOT NULL,
    match text NOT NULL,
    filter text NOT NULL DEFAULT '',
    last_seen_us bigint NOT NULL,
    backlog bigint NOT NULL DEFAULT 0,
    dropped_upto bigint NOT NULL DEFAULT 0,
    dropped bigint NOT NULL DEFAULT 0,
    UNIQUE (client_id, sub_id)
);
-- store_event names router subscription ids: find every client holding one
CREATE INDEX telegraphy_subscriptions_sub_id ON telegraphy_subscriptions (sub_id);
-- the persistent ttl: the longest unused first
CREATE INDEX telegraphy_subscriptions_last_seen ON telegraphy_subscriptions (last_seen_us);

-- What a persistent subscription is still owed: a backlog page is a range
-- scan of the primary key.
CREATE TABLE telegraphy_deliveries (
    sub_key bigint NOT NULL,
    pub_id bigint NOT NULL,
    PRIMARY KEY (sub_key, pub_id)
);
-- expiry and the last-owner check of an event
CREATE INDEX telegraphy_deliveries_pub_id ON telegraphy_deliveries (pub_id);

-- Spent ws token ids, kept until the token's own expiry (unix seconds).
CREATE TABLE telegraphy_spent_tokens (
    jti text PRIMARY KEY,
    exp bigint NOT NULL
);
CREATE INDEX telegraphy_spent_tokens_exp ON telegraphy_spent_tokens (exp);
