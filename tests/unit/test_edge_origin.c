/*  The identity cookie (DESIGN 2.4): which Origins may use it
    (edge_origin), the cookie's parsing and Set-Cookie value, its token
    (edge_auth_cookie_*), and the client_id a session gets from it: the
    cid itself for an anonymous session, one derived from the cid and the
    user for a ws token (stable per browser and user, different per user).
*/
#include "edge_auth.h"
#include "edge_origin.h"
#include "test_edge_harness.h"
#include "tg_log.h"

static harness_t h;

static void setup(void)
{
    tg_log_init("test_edge_origin", "error");
    h_init(&h);
    h_enable_tickets(&h);
}

static void teardown(void)
{
    h_fini(&h);
}

TestSuite(edge_origin, .init = setup, .fini = teardown);

/* Default rule: a page from the gateway's own host name, any scheme and
   port, is allowed; another host name is not. */
Test(edge_origin, default_allows_the_same_host_name_on_any_port)
{
    cr_assert(edge_origin_allowed(NULL, "http://example.com:8000", "example.com:8765"));
    cr_assert(edge_origin_allowed("", "https://EXAMPLE.com", "example.com"));
    cr_assert(edge_origin_allowed(NULL, "http://[::1]:8000", "[::1]:8765"));
    cr_assert_not(edge_origin_allowed(NULL, "http://evil.example", "example.com:8765"));
    cr_assert_not(edge_origin_allowed(NULL, "http://example.com.evil.example", "example.com"));
    cr_assert_not(edge_origin_allowed(NULL, "http://example.com", NULL));
}

/* A configured list replaces the default: exact origins (case and a
   trailing slash aside), nothing else. */
Test(edge_origin, configured_list_allows_only_its_origins)
{
    const char *list = "https://app.example.com, http://localhost:8000/";
    cr_assert(edge_origin_allowed(list, "https://app.example.com", "gw.example.com"));
    cr_assert(edge_origin_allowed(list, "http://LOCALHOST:8000", "gw.example.com"));
    cr_assert_not(edge_origin_allowed(list, "http://localhost:8001", "localhost:8765"));
    cr_assert_not(edge_origin_allowed(list, "https://app.example.co", "gw.example.com"));
}

/* Without an Origin (not a browser) the cookie is honoured. */
Test(edge_origin, no_origin_is_allowed)
{
    cr_assert(edge_origin_allowed("https://app.example.com", NULL, NULL));
}

/* The cookie's value is found among others; absent or oversized is -1. */
Test(edge_origin, cookie_value_is_found_among_others)
{
    char out[32];
    const char *header = "a=1; telegraphy_resume=v1.x.y; b=2; telegraphy_resume=v1.z";
    cr_assert_eq(edge_origin_cookie(header, EDGE_RESUME_COOKIE, 0, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "v1.x.y");
    cr_assert_eq(edge_origin_cookie(header, EDGE_RESUME_COOKIE, 1, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "v1.z");
    cr_assert_eq(edge_origin_cookie(header, EDGE_RESUME_COOKIE, 2, out, sizeof(out)), -1);
    cr_assert_eq(
        edge_origin_cookie("xtelegraphy_resume=1", EDGE_RESUME_COOKIE, 0, out, sizeof(out)), -1);
    cr_assert_eq(edge_origin_cookie("telegraphy_resume=", EDGE_RESUME_COOKIE, 0, out, sizeof(out)),
                 -1);
    cr_assert_eq(edge_origin_cookie("telegraphy_resume=0123456789012345678901234567890123456789",
                                    EDGE_RESUME_COOKIE, 0, out, sizeof(out)),
                 -1);
}

/* Set-Cookie carries HttpOnly, Path=/, SameSite=Lax, Max-Age, and Secure
   only behind TLS. */
Test(edge_origin, set_cookie_has_the_contract_attributes)
{
    char out[256];
    cr_assert_gt(edge_origin_set_cookie(out, sizeof(out), "TOKEN", 86400, false), 0);
    cr_assert_str_eq(out, "telegraphy_resume=TOKEN; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax");
    cr_assert_gt(edge_origin_set_cookie(out, sizeof(out), "TOKEN", 60, true), 0);
    cr_assert(strstr(out, "; Secure"));
}

/* A cookie token gives its cid back; a token with a user (a resume
   token from WELCOME), a forged or an expired one gives nothing. */
Test(edge_origin, cookie_token_round_trips_its_cid_only)
{
    edge_auth_t *auth = edge_broker_auth(h.broker);
    char *token = edge_auth_cookie_token(auth, "browser-1", h.now);
    char *cid = edge_auth_cookie_cid(auth, token, h.now);
    cr_assert_str_eq(cid, "browser-1");
    free(cid);
    cr_assert_null(edge_auth_cookie_cid(auth, token, h_at(&h, (86400 + 3600) * 1000LL)));
    free(token);
    char *user = h_token(TG_TOKEN_RESUME, "42", NULL, 3600, "cid-of-42", H_SECRET);
    cr_assert_null(edge_auth_cookie_cid(auth, user, h.now));
    free(user);
    char *forged = h_token(TG_TOKEN_RESUME, NULL, NULL, 3600, "browser-1", "another-secret-xyz");
    cr_assert_null(edge_auth_cookie_cid(auth, forged, h.now));
    free(forged);
}

/* An anonymous session of a browser with the cookie gets the cookie's cid
   as client_id (WELCOME authextra says so): it may subscribe
   persistently. */
Test(edge_origin, anonymous_session_keeps_the_browser_client_id)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    s->browser_cid = strdup("browser-1");
    h_input(&h, s, "[1, \"telegraphy\", {}]");
    json_t *welcome = h_expect(s, TG_WAMP_WELCOME);
    json_t *extra = json_object_get(json_array_get(welcome, 2), "authextra");
    cr_assert_str_eq(json_string_value(json_object_get(extra, "client_id")), "browser-1");
    json_decref(welcome);
    cr_assert_str_eq(s->client_id, "browser-1");
}

/* The client_id of an authenticated session of that browser: same user,
   same id across page loads (each with a new ws token); another user of
   the browser, another id. */
static char *s_user_client_id(const char *browser_cid, const char *user)
{
    edge_session_t *s = h_open(&h, TG_WAMP_JSON);
    s->browser_cid = strdup(browser_cid);
    h_hello_ticket(&h, s, user);
    char *token = h_token(TG_TOKEN_WS, user, NULL, 60, NULL, H_SECRET);
    h_authenticate(&h, s, token);
    free(token);
    h_verdict(&h, h_last_sent(&h)->req, NULL);
    json_decref(h_expect(s, TG_WAMP_WELCOME));
    cr_assert_not_null(s->client_id);
    return strdup(s->client_id);
}

Test(edge_origin, user_client_id_is_stable_per_browser_and_user)
{
    char *a1 = s_user_client_id("browser-1", "42");
    char *a2 = s_user_client_id("browser-1", "42");
    char *b = s_user_client_id("browser-1", "43");
    char *c = s_user_client_id("browser-2", "42");
    cr_assert_str_eq(a1, a2);
    cr_assert_str_neq(a1, b);
    cr_assert_str_neq(a1, c);
    cr_assert_str_neq(a1, "browser-1");
    free(a1);
    free(a2);
    free(b);
    free(c);
}
