/*  Ticket authentication in the edge's session state machine (edge_wamp +
    edge_auth), driven through the broker with a recording transport and a
    recording router: HELLO -> CHALLENGE -> AUTHENTICATE -> (TOKEN_SPEND ->
    ACCEPTED/REJECTED) -> WELCOME or ABORT. Tokens are minted with
    tg_token_mint and a test secret; odd ones are signed by hand.
*/
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "edge_auth.h"
#include "test_edge_harness.h"
#include "tg_log.h"

static harness_t h;

static void setup(void)
{
    tg_log_init("test_edge_auth", "error");
    h_init(&h);
    h_enable_tickets(&h);
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_auth, .init = setup, .fini = teardown);

static const char *const s_no_groups[] = {NULL};
static const char *const s_staff[] = {"staff", NULL};
static const char *const s_superuser[] = {"editors", "superuser", NULL};

/* Caller frees: "v1.<b64(payload)>.<b64(HMAC)>" for any payload text. */
static char *s_sign(const char *payload, const char *secret)
{
    char *part = tg_base64url_encode(payload, strlen(payload));
    size_t signed_len = strlen(part) + 3;
    char *signed_text = malloc(signed_len + 1);
    snprintf(signed_text, signed_len + 1, "v1.%s", part);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signed_text, signed_len,
         mac, &mac_len);
    char *mac_text = tg_base64url_encode(mac, mac_len);
    size_t size = signed_len + strlen(mac_text) + 2;
    char *token = malloc(size);
    snprintf(token, size, "%s.%s", signed_text, mac_text);
    free(part);
    free(signed_text);
    free(mac_text);
    return token;
}

/* The WELCOME's details (borrowed from *welcome_p, which the caller decrefs). */
static json_t *s_expect_welcome(edge_session_t *s, json_t **welcome_p)
{
    *welcome_p = h_expect(s, TG_WAMP_WELCOME);
    cr_assert_eq(s->state, EDGE_SESSION_OPEN);
    return json_array_get(*welcome_p, 2);
}

/* The refusal every failure gets: ABORT authentication_failed whose
   details are exactly {message: "authentication failed"}, then a close. */
static void s_expect_refused(edge_session_t *s)
{
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.authentication_failed");
    json_t *details = json_array_get(abort_msg, 1);
    cr_assert_eq(json_object_size(details), 1, "the ABORT says nothing but its message");
    cr_assert_str_eq(json_string_value(json_object_get(details, "message")),
                     "authentication failed");
    cr_assert_eq(s->state, EDGE_SESSION_CLOSING);
    cr_assert_eq(h_conn(s)->closes, 1);
    json_decref(abort_msg);
}

/* HELLO ticket + AUTHENTICATE token on a new session. */
static edge_session_t *s_try(const char *authid, const char *token)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_hello_ticket(&h, s, authid);
    h_authenticate(&h, s, token);
    return s;
}

/* A valid ws token: CHALLENGE, then the jti is spent at the router (exp =
   the token's exp + the skew) and nothing is answered until it accepts;
   then WELCOME with authid = sub, authrole user, authmethod ticket and
   authextra {client_id, resume_token, resume_expires}. */
Test(edge_auth, valid_ws_token_is_spent_at_the_router_then_welcomed)
{
    char *token = h_token(TG_TOKEN_WS, "42", s_no_groups, 60, NULL, H_SECRET);
    tg_token_claims_t claims;
    cr_assert_eq(tg_token_verify(token, strlen(token), H_SECRET, NULL, H_WALL_START_S, 0,
                                 TG_TOKEN_WS, &claims, NULL),
                 0);
    edge_session_t *s = s_try("42", token);
    cr_assert_eq(s->state, EDGE_SESSION_AUTHENTICATING);
    h_expect_nothing(s);
    h_sent_t *spend = h_last_sent(&h);
    cr_assert_eq(spend->command, TG_CMD_TOKEN_SPEND);
    cr_assert_gt(spend->req, 0);
    cr_assert_str_eq(spend->jti, claims.jti);
    cr_assert_eq(spend->exp, (uint64_t)(claims.exp + 30));
    h_verdict(&h, spend->req, NULL);

    json_t *welcome;
    json_t *details = s_expect_welcome(s, &welcome);
    cr_assert_str_eq(json_string_value(json_object_get(details, "authid")), "42");
    cr_assert_str_eq(json_string_value(json_object_get(details, "authrole")), "user");
    cr_assert_str_eq(json_string_value(json_object_get(details, "authmethod")), "ticket");
    json_t *extra = json_object_get(details, "authextra");
    const char *client_id = json_string_value(json_object_get(extra, "client_id"));
    const char *resume = json_string_value(json_object_get(extra, "resume_token"));
    json_int_t expires = json_integer_value(json_object_get(extra, "resume_expires"));
    cr_assert(client_id && strlen(client_id) >= 16);
    cr_assert_not_null(resume);
    cr_assert_eq(expires, H_WALL_START_S + 86400); /* resume_ttl from the harness's now */
    tg_token_claims_t resumed;
    cr_assert_eq(tg_token_verify(resume, strlen(resume), H_SECRET, NULL, H_WALL_START_S, 0,
                                 TG_TOKEN_RESUME, &resumed, NULL),
                 0);
    cr_assert_str_eq(resumed.sub, "42");
    cr_assert_str_eq(resumed.cid, client_id);
    cr_assert_eq(resumed.exp, expires);
    cr_assert_str_eq(s->authid, "42");
    cr_assert_not(s->anonymous);
    cr_assert_str_eq(s->client_id, client_id);
    cr_assert_eq(edge_broker_metrics(h.broker)->auth_successes, 1);
    tg_token_claims_release(&resumed);
    tg_token_claims_release(&claims);
    json_decref(welcome);
    free(token);
}

/* The group "staff", or "superuser", makes the authrole "staff". */
Test(edge_auth, staff_and_superuser_groups_make_authrole_staff)
{
    edge_session_t *staff = h_ticket_session(&h, "7", s_staff);
    cr_assert_str_eq(staff->authrole, "staff");
    edge_session_t *root = h_ticket_session(&h, "8", s_superuser);
    cr_assert_str_eq(root->authrole, "staff");
    cr_assert(edge_session_may_see(root, "staff"));
    cr_assert(edge_session_may_see(root, "group:editors"));
}

/* An expired token (beyond the skew) is refused without a spend, counted
   both as an auth failure and as bad input of kind auth_failed. */
Test(edge_auth, expired_token_is_refused_without_a_spend)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, -31, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    s_expect_refused(s);
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    cr_assert_eq(edge_broker_metrics(h.broker)->auth_failures, 1);
    cr_assert_eq(edge_broker_metrics(h.broker)->bad_input[EDGE_BAD_AUTH_FAILED], 1);
    free(token);
}

/* Within the skew an expired token is still good. */
Test(edge_auth, token_expired_within_the_skew_is_accepted)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, -10, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(s, TG_WAMP_WELCOME));
    free(token);
}

/* A token signed with another secret is refused. */
Test(edge_auth, wrong_signature_is_refused)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, "another-secret-another-secret");
    s_expect_refused(s_try("42", token));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    free(token);
}

/* During a rotation the previous secret is accepted too; without it
   configured, the same token is refused. */
Test(edge_auth, previous_secret_is_accepted_only_when_configured)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, "the-old-secret-the-old-secret");
    s_expect_refused(s_try("42", token));
    snprintf(h.cfg.secret_previous, sizeof(h.cfg.secret_previous), "%s",
             "the-old-secret-the-old-secret");
    edge_session_t *s = s_try("42", token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(s, TG_WAMP_WELCOME));
    free(token);
}

/* A correctly signed token with a typ other than ws or resume is refused. */
Test(edge_auth, wrong_typ_is_refused)
{
    char payload[256];
    snprintf(payload, sizeof(payload),
             "{\"typ\":\"refresh\",\"sub\":\"42\",\"grp\":[],\"exp\":%lld,"
             "\"jti\":\"AAECAwQFBgcICQoLDA0ODw\"}",
             (long long)H_WALL_START_S + 60);
    char *token = s_sign(payload, H_SECRET);
    s_expect_refused(s_try("42", token));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    free(token);
}

/* The router says the jti was spent already (on another edge): refused. */
Test(edge_auth, replay_refused_by_the_router_is_refused)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    h_verdict(&h, h_last_sent(&h)->req, "telegraphy.error.token_replayed");
    s_expect_refused(s);
    cr_assert_eq(edge_auth_pending_count(edge_broker_auth(h.broker)), 0);
    free(token);
}

/* A token spent through this edge is refused here again without asking
   the router. */
Test(edge_auth, replay_on_the_same_edge_is_refused_without_a_round_trip)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *first = s_try("42", token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(first, TG_WAMP_WELCOME));
    s_expect_refused(s_try("42", token));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 1);
    free(token);
}

/* The same token twice at once: the second is refused while the first
   waits for the router. */
Test(edge_auth, concurrent_use_of_one_token_is_refused)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *first = s_try("42", token);
    s_expect_refused(s_try("42", token));
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(first, TG_WAMP_WELCOME));
    free(token);
}

/* No router yet (the edge's link is not welcomed: a gateway starting): the
   valid token is not refused; its spend goes out at the first tick the
   router is there, and the session is welcomed on the verdict (issue 11). */
Test(edge_auth, router_away_at_first_is_asked_once_it_is_there)
{
    h.ready = false;
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    h_expect_nothing(s);
    h.ready = true;
    edge_broker_tick(h.broker, h_at(&h, 500));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 1);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(s, TG_WAMP_WELCOME));
    free(token);
}

/* A router in its start-up window answers unavailable: the spend is asked
   again at the next tick, under a new request id, and the session is
   welcomed once the router accepts it. */
Test(edge_auth, router_starting_up_is_asked_again_until_it_accepts)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    uint64_t first = h_last_sent(&h)->req;
    h_verdict(&h, first, "telegraphy.error.unavailable");
    h_expect_nothing(s);
    edge_broker_tick(h.broker, h_at(&h, 500));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 2);
    uint64_t second = h_last_sent(&h)->req;
    cr_assert_neq(second, first);
    h_verdict(&h, first, NULL); /* a late answer to the first ask changes nothing */
    h_expect_nothing(s);
    h_verdict(&h, second, NULL);
    json_decref(h_expect(s, TG_WAMP_WELCOME));
    free(token);
}

/* The wait is bounded: a router that stays away (or keeps answering
   unavailable) past EDGE_AUTH_TIMEOUT_MS gets the session refused, not
   before (fail closed). */
Test(edge_auth, router_away_past_the_bound_refuses_the_token)
{
    h.ready = false;
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    edge_broker_tick(h.broker, h_at(&h, EDGE_AUTH_TIMEOUT_MS - 1));
    h_expect_nothing(s);
    edge_broker_tick(h.broker, h_at(&h, EDGE_AUTH_TIMEOUT_MS + 1));
    s_expect_refused(s);
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    free(token);
}

/* A router that never answers: the session is refused once the bounded
   wait is over, not before; a late ACCEPTED changes nothing. */
Test(edge_auth, unanswered_spend_is_refused_after_the_timeout)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    uint64_t req = h_last_sent(&h)->req;
    edge_broker_tick(h.broker, h_at(&h, EDGE_AUTH_TIMEOUT_MS - 500));
    h_expect_nothing(s);
    edge_broker_tick(h.broker, h_at(&h, EDGE_AUTH_TIMEOUT_MS + 1));
    s_expect_refused(s);
    cr_assert_eq(edge_auth_pending_count(edge_broker_auth(h.broker)), 0);
    h_verdict(&h, req, NULL);
    h_expect_nothing(s);
    free(token);
}

/* At most max_pending sessions wait for the router; the next is refused. */
Test(edge_auth, pending_authentications_are_bounded)
{
    edge_auth_set_max_pending(edge_broker_auth(h.broker), 2);
    edge_session_t *s[3];
    for (int i = 0; i < 3; i++) {
        char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
        s[i] = s_try("42", token);
        free(token);
    }
    cr_assert_eq(s[0]->state, EDGE_SESSION_AUTHENTICATING);
    cr_assert_eq(s[1]->state, EDGE_SESSION_AUTHENTICATING);
    s_expect_refused(s[2]);
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 2);
}

/* A resume token opens the same identity and client id at once (no
   spend), and is reusable; each WELCOME brings a new resume token for the
   same client id. */
Test(edge_auth, resume_token_gives_the_same_authid_and_client_id)
{
    const char *const groups[] = {"ops", NULL};
    char *resume = h_token(TG_TOKEN_RESUME, "42", groups, 3600, "client-abc", H_SECRET);
    for (int round = 0; round < 2; round++) {
        edge_session_t *s = s_try("42", resume);
        json_t *welcome;
        json_t *details = s_expect_welcome(s, &welcome);
        json_t *extra = json_object_get(details, "authextra");
        cr_assert_str_eq(json_string_value(json_object_get(details, "authid")), "42");
        cr_assert_str_eq(json_string_value(json_object_get(extra, "client_id")), "client-abc");
        const char *next = json_string_value(json_object_get(extra, "resume_token"));
        cr_assert_str_neq(next, resume);
        tg_token_claims_t claims;
        cr_assert_eq(tg_token_verify(next, strlen(next), H_SECRET, NULL, H_WALL_START_S, 0,
                                     TG_TOKEN_RESUME, &claims, NULL),
                     0);
        cr_assert_str_eq(claims.cid, "client-abc");
        cr_assert(tg_token_claims_in_group(&claims, "ops"));
        cr_assert(edge_session_may_see(s, "group:ops"));
        tg_token_claims_release(&claims);
        json_decref(welcome);
    }
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    free(resume);
}

/* The resume token from a WELCOME opens the same identity again. */
Test(edge_auth, resume_token_from_a_welcome_resumes_that_session)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *first = s_try(NULL, token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_t *welcome;
    json_t *extra = json_object_get(s_expect_welcome(first, &welcome), "authextra");
    char *client_id = strdup(json_string_value(json_object_get(extra, "client_id")));
    char *resume = strdup(json_string_value(json_object_get(extra, "resume_token")));
    json_decref(welcome);
    edge_session_t *again = s_try("42", resume);
    json_t *details = s_expect_welcome(again, &welcome);
    cr_assert_str_eq(json_string_value(json_object_get(details, "authid")), "42");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(details, "authextra"), "client_id")),
        client_id);
    cr_assert_str_eq(again->client_id, client_id);
    json_decref(welcome);
    free(client_id);
    free(resume);
    free(token);
}

/* An expired resume token is refused. */
Test(edge_auth, expired_resume_token_is_refused)
{
    char *resume = h_token(TG_TOKEN_RESUME, "42", NULL, -60, "client-abc", H_SECRET);
    s_expect_refused(s_try("42", resume));
    free(resume);
}

/* Two ws tokens of one user get two different client ids. */
Test(edge_auth, each_ws_token_gets_a_new_client_id)
{
    edge_session_t *a = h_ticket_session(&h, "42", NULL);
    edge_session_t *b = h_ticket_session(&h, "42", NULL);
    cr_assert_str_neq(a->client_id, b->client_id);
}

/* A token without sub (anonymous page) opens an anonymous session, which
   still gets a client id and a resume token; refused when anonymous
   sessions are disabled. */
Test(edge_auth, token_without_sub_opens_an_anonymous_session)
{
    char *token = h_token(TG_TOKEN_WS, NULL, NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try(NULL, token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_t *welcome;
    json_t *details = s_expect_welcome(s, &welcome);
    cr_assert_str_eq(json_string_value(json_object_get(details, "authrole")), "anonymous");
    cr_assert_eq(strncmp(json_string_value(json_object_get(details, "authid")), "anonymous-", 10),
                 0);
    cr_assert_not_null(json_object_get(json_object_get(details, "authextra"), "client_id"));
    cr_assert(s->anonymous);
    cr_assert_not(edge_session_may_see(s, "authenticated"));
    json_decref(welcome);
    free(token);

    h.cfg.allow_anonymous = false;
    token = h_token(TG_TOKEN_WS, NULL, NULL, 60, NULL, H_SECRET);
    s_expect_refused(s_try(NULL, token));
    free(token);
}

/* HELLO's authid must be the token's sub. */
Test(edge_auth, hello_authid_other_than_the_token_sub_is_refused)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    s_expect_refused(s_try("43", token));
    cr_assert_eq(h_count_sent(&h, TG_CMD_TOKEN_SPEND), 0);
    free(token);
}

/* Offering anonymous as well does not turn a refused token into an
   anonymous session: the client decides whether to come back anonymously. */
Test(edge_auth, failed_ticket_aborts_even_when_anonymous_was_offered)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {\"authmethods\": [\"ticket\", \"anonymous\"]}]");
    json_decref(h_expect(s, TG_WAMP_CHALLENGE));
    h_authenticate(&h, s, "v1.not-a-token.at-all");
    s_expect_refused(s);
}

/* Garbage of every kind in the token is refused, and the broker carries on. */
Test(edge_auth, malformed_tokens_are_refused)
{
    const char *bad[] = {"", "v1", "v1..", "v2.eyJ9.AAAA", "v1.%%%.%%%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        s_expect_refused(s_try(NULL, bad[i]));
    char *big = malloc(100 * 1024 + 1);
    memset(big, 'A', 100 * 1024);
    big[100 * 1024] = '\0';
    memcpy(big, "v1.", 3);
    s_expect_refused(s_try(NULL, big));
    free(big);
    cr_assert_eq(edge_broker_metrics(h.broker)->auth_failures, 6);
    h_ticket_session(&h, "42", NULL);
}

/* A NUL inside the AUTHENTICATE string does not cut a valid token out of
   it: the whole string is the token. */
Test(edge_auth, token_followed_by_nul_and_garbage_is_refused)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_hello_ticket(&h, s, "42");
    char text[1024];
    snprintf(text, sizeof(text), "[5, \"%s\\u0000junk\", {}]", token);
    h_input(&h, s, text);
    s_expect_refused(s);
    free(token);
}

/* After CHALLENGE only AUTHENTICATE (or ABORT) may come; a malformed
   AUTHENTICATE is a protocol violation. */
Test(edge_auth, other_messages_after_challenge_are_protocol_violations)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_hello_ticket(&h, s, NULL);
    h_input(&h, s, "[32, 1, {}, \"demo.hello\"]");
    json_t *abort_msg = h_expect(s, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.protocol_violation");
    json_decref(abort_msg);

    edge_session_t *t = h_open(&h, TG_WAMP_JSON);
    h_hello_ticket(&h, t, NULL);
    h_input(&h, t, "[5, {\"token\": \"x\"}, {}]");
    abort_msg = h_expect(t, TG_WAMP_ABORT);
    cr_assert_str_eq(json_string_value(json_array_get(abort_msg, 2)),
                     "wamp.error.protocol_violation");
    json_decref(abort_msg);
}

/* While the spend is pending the client may not talk; its session ends,
   and the late verdict is ignored. */
Test(edge_auth, messages_while_authenticating_are_protocol_violations)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    h_input(&h, s, "[32, 1, {}, \"demo.hello\"]");
    json_decref(h_expect(s, TG_WAMP_ABORT));
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    h_expect_nothing(s);
    cr_assert_eq(s->state, EDGE_SESSION_CLOSING);
    free(token);
}

/* A connection closed while its spend is pending leaves nothing behind
   (the sanitizer build would catch a use after free on the verdict). */
Test(edge_auth, session_closed_while_pending_is_forgotten)
{
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    edge_session_t *s = s_try("42", token);
    uint64_t req = h_last_sent(&h)->req;
    h_drop(&h, s);
    cr_assert_eq(edge_auth_pending_count(edge_broker_auth(h.broker)), 0);
    h_verdict(&h, req, NULL);
    edge_broker_tick(h.broker, h_at(&h, EDGE_AUTH_TIMEOUT_MS + 1));
    free(token);
}

/* When the router (re)welcomes the edge, every jti this edge spent is sent
   again, without req, with the exp it was spent with. */
Test(edge_auth, resync_resends_the_spent_jtis_without_req)
{
    h_ticket_session(&h, "42", NULL);
    h_ticket_session(&h, "43", NULL);
    h_sent_t first = h.sent[0];
    size_t before = h.sent_count;
    edge_broker_resync(h.broker, h.now);
    size_t resent = 0;
    for (size_t i = before; i < h.sent_count; i++) {
        if (h.sent[i].command != TG_CMD_TOKEN_SPEND)
            continue;
        cr_assert_eq(h.sent[i].req, 0);
        if (strcmp(h.sent[i].jti, first.jti) == 0)
            cr_assert_eq(h.sent[i].exp, first.exp);
        resent++;
    }
    cr_assert_eq(resent, 2);
    cr_assert_eq(edge_auth_spent_count(edge_broker_auth(h.broker)), 2);
}

/* Without a secret no token can be checked: a ticket-only HELLO is
   refused the same way, and ticket + anonymous gets an anonymous session. */
Test(edge_auth, without_a_secret_ticket_falls_back_to_anonymous_or_is_refused)
{
    h.cfg.secret[0] = '\0';
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    h_input(&h, s, "[1, \"telegraphy\", {\"authmethods\": [\"ticket\"]}]");
    s_expect_refused(s);
    edge_session_t *t = h_open(&h, TG_WAMP_JSON);
    h_input(&h, t, "[1, \"telegraphy\", {\"authmethods\": [\"ticket\", \"anonymous\"]}]");
    json_t *welcome;
    json_t *details = s_expect_welcome(t, &welcome);
    cr_assert_str_eq(json_string_value(json_object_get(details, "authmethod")), "anonymous");
    json_decref(welcome);
}

/* The whole exchange works on a msgpack session too. */
Test(edge_auth, ticket_authentication_works_over_msgpack)
{
    edge_session_t *s = h_open(&h, TG_WAMP_MSGPACK);
    h_hello_ticket(&h, s, "42");
    char *token = h_token(TG_TOKEN_WS, "42", NULL, 60, NULL, H_SECRET);
    h_authenticate(&h, s, token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_t *welcome;
    json_t *details = s_expect_welcome(s, &welcome);
    cr_assert_str_eq(json_string_value(json_object_get(details, "authmethod")), "ticket");
    json_decref(welcome);
    free(token);
}
