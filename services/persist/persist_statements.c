/*  persist_statements: the store's SQL, see persist_statements.h. */
#include "persist_statements.h"

//  Event columns read back, in this order, by pages.
#define S_EVENT_COLUMNS "e.pub_id, e.ts_us, e.topic, e.expires_at_us, e.header, e.body"

//  Retained pages and the topic gap check, for each way a topic matches:
//  exact, prefix (starts_with), wildcard (a regular expression made here).
#define S_RETAINED(PREDICATE)                                                                      \
    "SELECT " S_EVENT_COLUMNS " FROM telegraphy_events e WHERE " PREDICATE                         \
    " AND e.expires_at_us > 0 AND e.expires_at_us > $3::bigint AND e.pub_id > $2::bigint"          \
    " ORDER BY e.pub_id LIMIT $4::bigint"
#define S_GAP_TOPIC(MARK_PREDICATE, EVENT_PREDICATE)                                               \
    "SELECT count(*) > 0, coalesce(bool_or($2::bigint < m.dropped_upto OR"                         \
    " $2::bigint + 1 < m.store_began), false), min(m.store_began), max(m.dropped_upto),"           \
    " (SELECT min(e.pub_id) FROM telegraphy_events e WHERE " EVENT_PREDICATE                       \
    " AND e.expires_at_us > 0 AND e.expires_at_us > $3::bigint)"                                   \
    " FROM telegraphy_type_marks m WHERE " MARK_PREDICATE

const persist_statement_t persist_statements[PERSIST_ST_COUNT] = {
    [PERSIST_ST_EVENT] = {"tg_event",
                          "WITH mark AS (INSERT INTO telegraphy_type_marks (topic, store_began)"
                          " VALUES ($2::text, $1::bigint) ON CONFLICT (topic) DO NOTHING)"
                          " INSERT INTO telegraphy_events"
                          " (pub_id, topic, ts_us, expires_at_us, guaranteed, header, body)"
                          " VALUES ($1::bigint, $2::text, $3::bigint, $4::bigint, $5::boolean,"
                          " $6::bytea, $7::bytea) ON CONFLICT (pub_id) DO NOTHING"},
    //  $1 pub ids, $2 sub ids (parallel arrays): one delivery row per
    //  (event, client holding the sub id), the backlog counters raised.
    [PERSIST_ST_DELIVER] =
        {"tg_deliver",
         "WITH pairs AS (SELECT DISTINCT p.pub_id, s.sub_key"
         " FROM unnest($1::bigint[], $2::bigint[]) AS p (pub_id, sub_id)"
         " JOIN telegraphy_subscriptions s ON s.sub_id = p.sub_id),"
         " ins AS (INSERT INTO telegraphy_deliveries (sub_key, pub_id)"
         " SELECT sub_key, pub_id FROM pairs ON CONFLICT DO NOTHING RETURNING sub_key),"
         " cnt AS (SELECT sub_key, count(*) AS n FROM ins GROUP BY sub_key)"
         " UPDATE telegraphy_subscriptions s SET backlog = s.backlog + cnt.n"
         " FROM cnt WHERE s.sub_key = cnt.sub_key"},
    //  $1 sub ids touched by the batch, $2 the bound: the oldest rows over
    //  it go, the subscription's mark rises. Returns the rows dropped.
    [PERSIST_ST_TRIM] =
        {"tg_trim", "WITH over AS (SELECT sub_key, backlog - $2::bigint AS excess"
                    " FROM telegraphy_subscriptions WHERE sub_id = ANY ($1::bigint[])"
                    " AND backlog > $2::bigint),"
                    " victims AS (SELECT o.sub_key, v.pub_id FROM over o CROSS JOIN LATERAL"
                    " (SELECT d.pub_id FROM telegraphy_deliveries d WHERE d.sub_key = o.sub_key"
                    " ORDER BY d.pub_id LIMIT o.excess) v),"
                    " del AS (DELETE FROM telegraphy_deliveries d USING victims v"
                    " WHERE d.sub_key = v.sub_key AND d.pub_id = v.pub_id"
                    " RETURNING d.sub_key, d.pub_id),"
                    " agg AS (SELECT sub_key, count(*) AS n, max(pub_id) AS upto FROM del"
                    " GROUP BY sub_key),"
                    " upd AS (UPDATE telegraphy_subscriptions s SET backlog = s.backlog - agg.n,"
                    " dropped = s.dropped + agg.n,"
                    " dropped_upto = greatest(s.dropped_upto, agg.upto)"
                    " FROM agg WHERE s.sub_key = agg.sub_key RETURNING agg.n)"
                    " SELECT coalesce(sum(n), 0)::bigint FROM upd"},
    //  Acks: the rows go, the counter follows, and an event without ttl
    //  that no other subscription is owed goes too. Returns the rows removed.
    [PERSIST_ST_ACK] =
        {"tg_ack", "WITH s AS (SELECT sub_key FROM telegraphy_subscriptions"
                   " WHERE client_id = $1::text AND sub_id = $2::bigint),"
                   " d AS (DELETE FROM telegraphy_deliveries d USING s WHERE d.sub_key = s.sub_key"
                   " AND d.pub_id = ANY ($3::bigint[]) RETURNING d.sub_key, d.pub_id),"
                   " u AS (UPDATE telegraphy_subscriptions t"
                   " SET backlog = t.backlog - (SELECT count(*) FROM d)"
                   " WHERE t.sub_key IN (SELECT sub_key FROM s) AND EXISTS (SELECT 1 FROM d)),"
                   " e AS (DELETE FROM telegraphy_events ev USING d WHERE ev.pub_id = d.pub_id"
                   " AND ev.expires_at_us = 0 AND NOT EXISTS (SELECT 1 FROM telegraphy_deliveries x"
                   " WHERE x.pub_id = ev.pub_id AND x.sub_key <> d.sub_key))"
                   " SELECT count(*) FROM d"},
    [PERSIST_ST_ACK_UPTO] =
        {"tg_ack_upto",
         "WITH s AS (SELECT sub_key FROM telegraphy_subscriptions"
         " WHERE client_id = $1::text AND sub_id = $2::bigint),"
         " d AS (DELETE FROM telegraphy_deliveries d USING s WHERE d.sub_key = s.sub_key"
         " AND d.pub_id <= $3::bigint RETURNING d.sub_key, d.pub_id),"
         " u AS (UPDATE telegraphy_subscriptions t"
         " SET backlog = t.backlog - (SELECT count(*) FROM d)"
         " WHERE t.sub_key IN (SELECT sub_key FROM s) AND EXISTS (SELECT 1 FROM d)),"
         " e AS (DELETE FROM telegraphy_events ev USING d WHERE ev.pub_id = d.pub_id"
         " AND ev.expires_at_us = 0 AND NOT EXISTS (SELECT 1 FROM"
         " telegraphy_deliveries x WHERE x.pub_id = ev.pub_id"
         " AND x.sub_key <> d.sub_key))"
         " SELECT count(*) FROM d"},
    [PERSIST_ST_SUB_UPSERT] =
        {"tg_sub_upsert", "INSERT INTO telegraphy_subscriptions"
                          " (client_id, sub_id, topic, match, filter, last_seen_us)"
                          " VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::bigint)"
                          " ON CONFLICT (client_id, sub_id) DO UPDATE SET"
                          " last_seen_us = greatest(telegraphy_subscriptions.last_seen_us,"
                          " excluded.last_seen_us), topic = excluded.topic, match = excluded.match,"
                          " filter = excluded.filter RETURNING (xmax = 0)"},
    [PERSIST_ST_SUB_DELETE] =
        {"tg_sub_delete", "WITH s AS (DELETE FROM telegraphy_subscriptions"
                          " WHERE client_id = $1::text AND sub_id = $2::bigint RETURNING sub_key),"
                          " d AS (DELETE FROM telegraphy_deliveries d USING s"
                          " WHERE d.sub_key = s.sub_key)"
                          /* removed, and how many persistent subscriptions
                             remain on that router key: the statement's
                             snapshot still sees the deleted row */
                          " SELECT (SELECT count(*) FROM s),"
                          " (SELECT count(*) FROM telegraphy_subscriptions"
                          " WHERE sub_id = $2::bigint) - (SELECT count(*) FROM s)"},
    [PERSIST_ST_SUB_TOUCH] = {"tg_sub_touch",
                              "UPDATE telegraphy_subscriptions"
                              " SET last_seen_us = greatest(last_seen_us, $3::bigint)"
                              " WHERE client_id = $1::text AND sub_id = $2::bigint"},
    [PERSIST_ST_TYPE] =
        {"tg_type", "INSERT INTO telegraphy_types (name, definition) VALUES ($1::text, $2::bytea)"
                    " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition"},
    [PERSIST_ST_TOKEN] =
        {"tg_token", "INSERT INTO telegraphy_spent_tokens (jti, exp) VALUES ($1::text, $2::bigint)"
                     " ON CONFLICT (jti) DO NOTHING"},
    [PERSIST_ST_MARK] =
        {"tg_mark", "INSERT INTO telegraphy_type_marks (topic, store_began, dropped_upto)"
                    " VALUES ($1::text, $2::bigint, $2::bigint) ON CONFLICT (topic) DO UPDATE SET"
                    " dropped_upto = greatest(telegraphy_type_marks.dropped_upto,"
                    " excluded.dropped_upto)"},
    //  Expiry, each bounded by $2 rows. Returns (events, delivery rows).
    [PERSIST_ST_EXPIRE_EVENTS] =
        {"tg_expire_events",
         "WITH gone AS (DELETE FROM telegraphy_events WHERE pub_id IN (SELECT pub_id"
         " FROM telegraphy_events WHERE expires_at_us > 0 AND expires_at_us <= $1::bigint"
         " ORDER BY expires_at_us LIMIT $2::bigint) RETURNING pub_id, topic),"
         " marks AS (UPDATE telegraphy_type_marks m SET dropped_upto = greatest(m.dropped_upto,"
         " g.upto) FROM (SELECT topic, max(pub_id) AS upto FROM gone GROUP BY topic) g"
         " WHERE m.topic = g.topic),"
         " dels AS (DELETE FROM telegraphy_deliveries d USING gone WHERE d.pub_id = gone.pub_id"
         " RETURNING d.sub_key, d.pub_id),"
         " subs AS (UPDATE telegraphy_subscriptions s SET backlog = s.backlog - x.n,"
         " dropped = s.dropped + x.n, dropped_upto = greatest(s.dropped_upto, x.upto)"
         " FROM (SELECT sub_key, count(*) AS n, max(pub_id) AS upto FROM dels GROUP BY sub_key) x"
         " WHERE s.sub_key = x.sub_key)"
         " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM dels)"},
    [PERSIST_ST_EXPIRE_TOKENS] = {"tg_expire_tokens",
                                  "WITH gone AS (DELETE FROM telegraphy_spent_tokens WHERE jti IN"
                                  " (SELECT jti FROM telegraphy_spent_tokens WHERE exp < $1::bigint"
                                  " ORDER BY exp LIMIT $2::bigint) RETURNING 1)"
                                  " SELECT count(*), 0::bigint FROM gone"},
    [PERSIST_ST_EXPIRE_STALE_DELIVERIES] =
        {"tg_expire_stale_deliveries",
         "WITH gone AS (DELETE FROM telegraphy_deliveries d WHERE (d.sub_key, d.pub_id) IN"
         " (SELECT x.sub_key, x.pub_id FROM telegraphy_deliveries x WHERE x.sub_key IN"
         " (SELECT sub_key FROM telegraphy_subscriptions WHERE last_seen_us < $1::bigint)"
         " LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint FROM gone"},
    [PERSIST_ST_EXPIRE_STALE_SUBS] =
        {"tg_expire_stale_subs",
         "WITH gone AS (DELETE FROM telegraphy_subscriptions WHERE sub_key IN"
         " (SELECT s.sub_key FROM telegraphy_subscriptions s WHERE s.last_seen_us < $1::bigint"
         " AND NOT EXISTS (SELECT 1 FROM telegraphy_deliveries d WHERE d.sub_key = s.sub_key)"
         " ORDER BY s.last_seen_us LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint FROM gone"},
    [PERSIST_ST_EXPIRE_ORPHANS] =
        {"tg_expire_orphans",
         "WITH gone AS (DELETE FROM telegraphy_events WHERE pub_id IN (SELECT e.pub_id"
         " FROM telegraphy_events e WHERE e.expires_at_us = 0 AND NOT EXISTS"
         " (SELECT 1 FROM telegraphy_deliveries d WHERE d.pub_id = e.pub_id)"
         " ORDER BY e.pub_id LIMIT $2::bigint) RETURNING 1)"
         " SELECT count(*), 0::bigint + $1::bigint * 0 FROM gone"},
    [PERSIST_ST_LOAD_TYPES] = {"tg_load_types",
                               "SELECT name, definition FROM telegraphy_types ORDER BY name"},
    [PERSIST_ST_LOAD_TOKENS] =
        {"tg_load_tokens", "SELECT jti, exp FROM telegraphy_spent_tokens WHERE exp >= $1::bigint"
                           " ORDER BY jti"},
    [PERSIST_ST_LOAD_SUBS] =
        {"tg_load_subs", "SELECT sub_key, client_id, sub_id, topic, match, filter, last_seen_us,"
                         " backlog, dropped_upto FROM telegraphy_subscriptions"
                         " WHERE sub_key > $1::bigint ORDER BY sub_key LIMIT $2::bigint"},
    [PERSIST_ST_BACKLOG] = {"tg_backlog",
                            "SELECT " S_EVENT_COLUMNS " FROM telegraphy_subscriptions s"
                            " JOIN telegraphy_deliveries d ON d.sub_key = s.sub_key"
                            " JOIN telegraphy_events e ON e.pub_id = d.pub_id"
                            " WHERE s.client_id = $1::text AND s.sub_id = $2::bigint"
                            " AND d.pub_id > $3::bigint"
                            " AND (e.expires_at_us = 0 OR e.expires_at_us > $5::bigint)"
                            " ORDER BY d.pub_id LIMIT $4::bigint"},
    [PERSIST_ST_RETAINED_EXACT] = {"tg_retained_exact", S_RETAINED("e.topic = $1::text")},
    [PERSIST_ST_RETAINED_PREFIX] = {"tg_retained_prefix",
                                    S_RETAINED("starts_with(e.topic, $1::text)")},
    [PERSIST_ST_RETAINED_WILDCARD] = {"tg_retained_wildcard", S_RETAINED("e.topic ~ $1::text")},
    [PERSIST_ST_GAP_SUB] =
        //  A gap while a drop the client has not acknowledged is above its
        //  position. The statement acknowledges the drop (gap_acked_upto)
        //  when the resume is from at or after it, or when it answers a gap
        //  with nothing held (the client can only go on from the start).
        //  It runs after the batch's COMMIT, so that write commits at the
        //  batch's end: lost with the connection, the loss is only
        //  reported again.
    {"tg_gap_sub",
     "WITH s AS (SELECT s.sub_key, s.dropped_upto, s.gap_acked_upto,"
     " (SELECT min(d.pub_id) FROM telegraphy_deliveries d"
     " JOIN telegraphy_events e ON e.pub_id = d.pub_id WHERE d.sub_key = s.sub_key"
     " AND (e.expires_at_us = 0 OR e.expires_at_us > $4::bigint)) AS oldest"
     " FROM telegraphy_subscriptions s"
     " WHERE s.client_id = $1::text AND s.sub_id = $2::bigint),"
     " acked AS (UPDATE telegraphy_subscriptions t SET gap_acked_upto = s.dropped_upto"
     " FROM s WHERE t.sub_key = s.sub_key AND s.dropped_upto > s.gap_acked_upto"
     " AND ($3::bigint >= s.dropped_upto OR s.oldest IS NULL) RETURNING 1)"
     " SELECT s.dropped_upto, s.oldest,"
     " $3::bigint < s.dropped_upto AND s.dropped_upto > s.gap_acked_upto FROM s"},
    [PERSIST_ST_GAP_TOPIC_EXACT] = {"tg_gap_topic_exact",
                                    S_GAP_TOPIC("m.topic = $1::text", "e.topic = $1::text")},
    [PERSIST_ST_GAP_TOPIC_PREFIX] = {"tg_gap_topic_prefix",
                                     S_GAP_TOPIC("starts_with(m.topic, $1::text)",
                                                 "starts_with(e.topic, $1::text)")},
    [PERSIST_ST_GAP_TOPIC_WILDCARD] = {"tg_gap_topic_wildcard",
                                       S_GAP_TOPIC("m.topic ~ $1::text", "e.topic ~ $1::text")},
    //  For status: a scan of the subscriptions (small rows), and the oldest
    //  delivery row by the (pub_id) index.
    [PERSIST_ST_TOTALS] = {"tg_totals",
                           "SELECT count(*)::bigint, coalesce(sum(backlog), 0)::bigint,"
                           " (SELECT min(pub_id) FROM telegraphy_deliveries)"
                           " FROM telegraphy_subscriptions"},
};
