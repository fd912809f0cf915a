/*  The audience matrix at the unit level (DESIGN 2.6): sessions of four
    kinds (anonymous, user, staff, member of group ops; the identified ones
    through ticket authentication) against event types of four audiences
    (public, authenticated, staff, group:ops), for exact subscribe, for
    delivery (to a prefix subscription and to an exact one), for to_users,
    for telegraphy.events.list and for PUBLISH. Every cell is asserted,
    absences included: delivery here is synchronous, so "not queued" is
    final.
*/
#include "test_edge_harness.h"

static harness_t h;

static void setup(void)
{
    h_init(&h);
    h_enable_tickets(&h);
    h.cfg.max_subscriptions = 8;
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_audience, .init = setup, .fini = teardown);

enum { ANONYMOUS, USER, STAFF, OPS, ROLES };
enum { PUBLIC, AUTHENTICATED, STAFF_ONLY, GROUP_OPS, AUDIENCES };

static const char *const s_audiences[AUDIENCES] = {"public", "authenticated", "staff", "group:ops"};
static const char *const s_types[AUDIENCES] = {"authz.pub", "authz.auth", "authz.staff",
                                               "authz.ops"};
static const char *const s_role_names[ROLES] = {"anonymous", "user", "staff", "ops"};
static const char *const s_subs[ROLES] = {NULL, "42", "7", "9"};

/* Who sees what: anonymous public only; any sub is authenticated; staff by
   the group "staff"; group:ops by the group "ops". */
static const bool s_sees[ROLES][AUDIENCES] = {
    [ANONYMOUS] = {true, false, false, false},
    [USER] = {true, true, false, false},
    [STAFF] = {true, true, true, false},
    [OPS] = {true, true, false, true},
};

static edge_session_t *s_session(int role)
{
    static const char *const staff[] = {"staff", NULL};
    static const char *const ops[] = {"ops", NULL};
    if (role == ANONYMOUS)
        return h_welcomed(&h, TG_WAMP_JSON);
    return h_ticket_session(&h, s_subs[role], role == STAFF ? staff : role == OPS ? ops : NULL);
}

static void s_register_all(void)
{
    for (int a = 0; a < AUDIENCES; a++)
        h_register(&h, s_types[a], s_audiences[a], false);
}

/* True when the session's next frame is an EVENT of sub_id (consumed);
   false when nothing is queued. */
static bool s_got_event(edge_session_t *s, uint64_t sub_id)
{
    json_t *msg = h_next(s);
    if (!msg)
        return false;
    cr_assert_eq(tg_wamp_type(msg), TG_WAMP_EVENT);
    cr_assert_eq((uint64_t)json_integer_value(json_array_get(msg, 1)), sub_id);
    json_decref(msg);
    return true;
}

/* Exact subscribe: SUBSCRIBED where the role may see the type, ERROR
   wamp.error.not_authorized (no router round trip) where it may not. */
Test(edge_audience, exact_subscribe_follows_the_matrix)
{
    s_register_all();
    for (int role = 0; role < ROLES; role++) {
        edge_session_t *s = s_session(role);
        for (int a = 0; a < AUDIENCES; a++) {
            int64_t request = 10 + a;
            if (s_sees[role][a]) {
                h_subscribe_live(&h, s, request, "exact", s_types[a], 100 + (uint64_t)a);
            } else {
                char text[128];
                snprintf(text, sizeof(text), "[32, %lld, {}, \"%s\"]", (long long)request,
                         s_types[a]);
                size_t sent = h.sent_count;
                h_input(&h, s, text);
                h_expect_error(s, TG_WAMP_SUBSCRIBE, request, "wamp.error.not_authorized");
                cr_assert_eq(h.sent_count, sent, "%s/%s went to the router", s_role_names[role],
                             s_audiences[a]);
            }
            h_expect_nothing(s);
        }
    }
}

/* Delivery to a prefix subscription held by every role: each event of
   each audience reaches exactly the roles that may see it. */
Test(edge_audience, prefix_delivery_follows_the_matrix)
{
    s_register_all();
    edge_session_t *s[ROLES];
    uint64_t sub_id = 0;
    for (int role = 0; role < ROLES; role++) {
        s[role] = s_session(role);
        sub_id = h_subscribe_live(&h, s[role], 1, "prefix", "authz.", 500);
    }
    for (int a = 0; a < AUDIENCES; a++) {
        h_event(&h, s_types[a], s_audiences[a], false, &sub_id, 1, h_body, sizeof(h_body), NULL, 0);
        for (int role = 0; role < ROLES; role++)
            cr_assert_eq(s_got_event(s[role], sub_id), s_sees[role][a], "%s and a %s event",
                         s_role_names[role], s_audiences[a]);
    }
}

/* Delivery checks the audience on exact subscriptions too: an event whose
   audience the session may not see (the type was re-registered stricter
   after it subscribed) is not delivered. */
Test(edge_audience, exact_delivery_checks_the_event_audience)
{
    h_register(&h, "authz.auth", "authenticated", false);
    edge_session_t *user = s_session(USER);
    edge_session_t *staff = s_session(STAFF);
    uint64_t sub_id = h_subscribe_live(&h, user, 1, "exact", "authz.auth", 600);
    h_subscribe_live(&h, staff, 1, "exact", "authz.auth", 600);
    h_event(&h, "authz.auth", "authenticated", false, &sub_id, 1, h_body, sizeof(h_body), NULL, 0);
    cr_assert(s_got_event(user, sub_id));
    cr_assert(s_got_event(staff, sub_id));
    h_event(&h, "authz.auth", "staff", false, &sub_id, 1, h_body, sizeof(h_body), NULL, 0);
    cr_assert_not(s_got_event(user, sub_id));
    cr_assert(s_got_event(staff, sub_id));
}

/* to_users: only the sessions whose authid is listed receive, never an
   anonymous one, and the audience still applies to those listed. */
Test(edge_audience, to_users_reach_only_listed_authids_within_the_audience)
{
    s_register_all();
    edge_session_t *s[ROLES];
    uint64_t sub_id = 0;
    for (int role = 0; role < ROLES; role++) {
        s[role] = s_session(role);
        sub_id = h_subscribe_live(&h, s[role], 1, "prefix", "authz.", 500);
    }
    const char *const listed[] = {"42", "9"};
    h_event(&h, "authz.pub", "public", false, &sub_id, 1, h_body, sizeof(h_body), listed, 2);
    const bool public_receivers[ROLES] = {false, true, false, true};
    for (int role = 0; role < ROLES; role++)
        cr_assert_eq(s_got_event(s[role], sub_id), public_receivers[role], "%s, public",
                     s_role_names[role]);

    /* Listed, but the audience is staff: only the staff member listed. */
    const char *const staff_and_ops[] = {"7", "9"};
    h_event(&h, "authz.staff", "staff", false, &sub_id, 1, h_body, sizeof(h_body), staff_and_ops,
            2);
    const bool staff_receivers[ROLES] = {false, false, true, false};
    for (int role = 0; role < ROLES; role++)
        cr_assert_eq(s_got_event(s[role], sub_id), staff_receivers[role], "%s, staff",
                     s_role_names[role]);

    /* An anonymous session's made-up authid never matches. */
    const char *const anonymous_id[] = {s[ANONYMOUS]->authid};
    h_event(&h, "authz.pub", "public", false, &sub_id, 1, h_body, sizeof(h_body), anonymous_id, 1);
    for (int role = 0; role < ROLES; role++)
        cr_assert_not(s_got_event(s[role], sub_id), "%s, anonymous authid", s_role_names[role]);

    /* An empty list reaches nobody. */
    h_event(&h, "authz.pub", "public", false, &sub_id, 1, h_body, sizeof(h_body), listed, 0);
    for (int role = 0; role < ROLES; role++)
        cr_assert_not(s_got_event(s[role], sub_id), "%s, empty to_users", s_role_names[role]);
}

/* telegraphy.events.list lists exactly the types the session may
   subscribe to. */
Test(edge_audience, events_list_follows_the_matrix)
{
    s_register_all();
    for (int role = 0; role < ROLES; role++) {
        edge_session_t *s = s_session(role);
        h_input(&h, s, "[48, 3, {}, \"telegraphy.events.list\"]");
        json_t *result = h_expect(s, TG_WAMP_RESULT);
        json_t *list = json_array_get(json_array_get(result, 3), 0);
        for (int a = 0; a < AUDIENCES; a++) {
            bool listed = false;
            for (size_t i = 0; i < json_array_size(list); i++)
                if (strcmp(json_string_value(json_object_get(json_array_get(list, i), "name")),
                           s_types[a]) == 0)
                    listed = true;
            cr_assert_eq(listed, s_sees[role][a], "%s lists %s: %d", s_role_names[role], s_types[a],
                         listed);
        }
        json_decref(result);
    }
}

/* PUBLISH stays refused for every identity, even on a client_publish type
   (browser publishing arrives later). */
Test(edge_audience, publish_is_refused_for_authenticated_sessions_too)
{
    h_register(&h, "authz.chat", "authenticated", true);
    for (int role = USER; role < ROLES; role++) {
        edge_session_t *s = s_session(role);
        h_input(&h, s, "[16, 5, {\"acknowledge\": true}, \"authz.chat\", [], {}]");
        h_expect_error(s, TG_WAMP_PUBLISH, 5, "wamp.error.not_authorized");
        h_input(&h, s, "[16, 6, {\"acknowledge\": true}, \"authz.other\", [], {}]");
        h_expect_error(s, TG_WAMP_PUBLISH, 6, "wamp.error.not_authorized");
    }
    cr_assert_eq(h_count_sent(&h, TG_CMD_PUBLISH), 0);
}
