/*  edge_auth: see edge_auth.h. */
#include "edge_auth.h"

#include <assert.h>
#include <czmq.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_random.h"
#include "edge_wamp.h"
#include "tg_alloc.h"
#include "tg_base64.h"
#include "tg_log.h"
#include "tg_token.h"

/* How often a refused authentication may be logged. */
#define S_LOG_INTERVAL_MS 10000
/* Random bytes of a client id (base64url: 22 characters). */
#define S_CLIENT_ID_BYTES 16

/* A session waiting for the router's verdict on its ws token's jti. */
typedef struct {
    uint64_t req;             /* the TOKEN_SPEND's request id; 0 = free slot */
    edge_session_t *session;  /* borrowed: released by edge_auth_session_closed */
    int64_t deadline_ms;      /* monotonic time after which it is refused */
    int64_t keep_until;       /* the exp sent: the token's exp + skew */
    bool sent;                /* the TOKEN_SPEND is out; false: ask again at the next tick */
    tg_token_claims_t claims; /* owned: the verified token */
} s_pending_t;

/* A jti this edge spent, kept for resync and for local replays. */
typedef struct {
    char *jti;          /* owned */
    int64_t keep_until; /* unix seconds */
} s_spent_t;

struct _edge_auth_t {
    const tg_config_t *cfg;    /* borrowed */
    edge_router_port_t router; /* the way to the router */
    edge_metrics_t *metrics;   /* borrowed */
    s_pending_t *pending;      /* EDGE_AUTH_MAX_PENDING slots, allocated once */
    size_t pending_count;      /* slots in use */
    size_t max_pending;        /* bound on pending_count, EDGE_AUTH_MAX_PENDING */
    uint64_t next_req;         /* last TOKEN_SPEND request id */
    s_spent_t *spent;          /* ring of EDGE_AUTH_MAX_SPENT, oldest at spent_head */
    size_t spent_head;
    size_t spent_count;
    zhashx_t *spent_index;         /* jti -> s_spent_t * (borrowed from the ring) */
    tg_log_limiter_t fail_limiter; /* refused authentications */
};

edge_auth_t *edge_auth_new(const tg_config_t *cfg, const edge_router_port_t *router,
                           edge_metrics_t *metrics)
{
    assert(cfg);
    assert(router && router->send && router->ready);
    assert(metrics);
    edge_auth_t *self = tg_new(edge_auth_t);
    self->cfg = cfg;
    self->router = *router;
    self->metrics = metrics;
    self->max_pending = EDGE_AUTH_MAX_PENDING;
    self->pending = tg_calloc(EDGE_AUTH_MAX_PENDING, sizeof(*self->pending));
    self->spent = tg_calloc(EDGE_AUTH_MAX_SPENT, sizeof(*self->spent));
    self->spent_index = zhashx_new();
    return self;
}

void edge_auth_destroy(edge_auth_t **self_p)
{
    assert(self_p);
    edge_auth_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    for (size_t i = 0; i < EDGE_AUTH_MAX_PENDING; i++)
        tg_token_claims_release(&self->pending[i].claims);
    free(self->pending);
    for (size_t i = 0; i < self->spent_count; i++)
        free(self->spent[(self->spent_head + i) % EDGE_AUTH_MAX_SPENT].jti);
    free(self->spent);
    zhashx_destroy(&self->spent_index);
    free(self);
}

/* --- spent jtis ---------------------------------------------------------- */

static void s_spent_drop_oldest(edge_auth_t *self)
{
    s_spent_t *oldest = &self->spent[self->spent_head];
    zhashx_delete(self->spent_index, oldest->jti);
    free(oldest->jti);
    oldest->jti = NULL;
    self->spent_head = (self->spent_head + 1) % EDGE_AUTH_MAX_SPENT;
    self->spent_count--;
}

/* Remembers jti as spent until keep_until; at the bound the oldest goes
   (the router still has it; only our resync copy is lost). */
static void s_spent_add(edge_auth_t *self, const char *jti, int64_t keep_until)
{
    if (zhashx_lookup(self->spent_index, jti))
        return;
    if (self->spent_count == EDGE_AUTH_MAX_SPENT)
        s_spent_drop_oldest(self);
    s_spent_t *slot = &self->spent[(self->spent_head + self->spent_count) % EDGE_AUTH_MAX_SPENT];
    slot->jti = tg_strdup(jti);
    slot->keep_until = keep_until;
    zhashx_insert(self->spent_index, slot->jti, slot);
    self->spent_count++;
}

static bool s_spent_here(const edge_auth_t *self, const char *jti, int64_t now_s)
{
    const s_spent_t *slot = zhashx_lookup(self->spent_index, jti);
    return slot && slot->keep_until >= now_s;
}

/* --- outcomes ------------------------------------------------------------- */

/* Refuses the session: the client learns "authentication failed", the log
   and the counters learn why. */
static void s_fail(edge_auth_t *self, edge_session_t *session, const char *reason)
{
    self->metrics->auth_failures++;
    self->metrics->bad_input[EDGE_BAD_AUTH_FAILED]++;
    tg_log_ratelimited(&self->fail_limiter, S_LOG_INTERVAL_MS,
                       "edge: authentication failed session=%llu reason=\"%s\"",
                       (unsigned long long)session->id, reason);
    edge_session_forget_claim(session);
    edge_session_abort(session, EDGE_AUTH_FAILED, EDGE_AUTH_FAILED_MESSAGE, EDGE_CLOSE_NORMAL);
}

/* Caller owns the result: a new random client id. */
static char *s_new_client_id(void)
{
    uint8_t bytes[S_CLIENT_ID_BYTES];
    edge_random_bytes(bytes, sizeof(bytes));
    return tg_base64url_encode(bytes, sizeof(bytes));
}

static bool s_is_staff(const tg_token_claims_t *claims)
{
    return tg_token_claims_in_group(claims, "staff") ||
           tg_token_claims_in_group(claims, "superuser");
}

/* Caller owns the result: the client id of user sub in the browser whose
   cookie id is browser_cid: stable for that pair, different for another
   user of the same browser (whose persistent subscriptions must not mix),
   and revealing neither. */
static char *s_user_client_id(const edge_auth_t *self, const char *browser_cid, const char *sub)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t len = strlen(browser_cid) + strlen(sub) + 16;
    char *data = tg_malloc(len);
    int n = snprintf(data, len, "client:%s\n%s", browser_cid, sub);
    const char *secret = self->cfg->secret;
    tg_check(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)data, (size_t)n, mac,
                  &mac_len) != NULL);
    free(data);
    return tg_base64url_encode(mac, S_CLIENT_ID_BYTES);
}

/* Opens the session with the identity of claims: client_id is the resume
   token's cid; for a ws token, the browser's (its identity cookie: the
   cid itself when anonymous, one derived from it and the user otherwise),
   or new. Mints the next resume token, valid resume_ttl from now. */
static void s_welcome(edge_auth_t *self, edge_session_t *session, const tg_token_claims_t *claims,
                      tg_now_t now)
{
    char *client_id = claims->cid             ? tg_strdup(claims->cid)
                      : !session->browser_cid ? s_new_client_id()
                      : claims->sub ? s_user_client_id(self, session->browser_cid, claims->sub)
                                    : tg_strdup(session->browser_cid);
    int64_t resume_expires = tg_now_wall_s(now) + (int64_t)self->cfg->resume_ttl;
    tg_token_claims_t resume = *claims;
    resume.typ = TG_TOKEN_RESUME;
    resume.exp = resume_expires;
    resume.jti = NULL; /* a fresh one */
    resume.cid = client_id;
    char *resume_token = tg_token_mint(&resume, self->cfg->secret);
    if (!resume_token) {
        free(client_id);
        s_fail(self, session, "cannot mint a resume token");
        return;
    }
    bool anonymous = claims->sub == NULL;
    char authid[64];
    if (anonymous)
        snprintf(authid, sizeof(authid), "anonymous-%llu", (unsigned long long)session->id);
    const char *authrole = anonymous ? "anonymous" : s_is_staff(claims) ? "staff" : "user";
    edge_session_set_identity(session, session->id, anonymous, anonymous ? authid : claims->sub,
                              authrole);
    if (!anonymous)
        for (size_t i = 0; i < claims->groups_count; i++)
            edge_session_add_group(session, claims->groups[i]);
    json_t *extra = json_pack("{s:s,s:s,s:I}", "client_id", client_id, "resume_token", resume_token,
                              "resume_expires", (json_int_t)resume_expires);
    edge_session_set_client_id(session, &client_id);
    edge_session_forget_claim(session);
    free(resume_token);
    if (!extra) {
        /* json_pack refuses a string that is not UTF-8 (a cid of ours
           always is; this is the guard if one ever is not). */
        s_fail(self, session, "authextra not encodable");
        return;
    }
    self->metrics->auth_successes++;
    edge_wamp_welcome(session, "ticket", extra);
    tg_log_debug("edge: session authenticated session=%llu authrole=%s typ=%s",
                 (unsigned long long)session->id, authrole,
                 claims->typ == TG_TOKEN_RESUME ? "resume" : "ws");
}

/* --- pending spends -------------------------------------------------------- */

static s_pending_t *s_pending_find_req(edge_auth_t *self, uint64_t req)
{
    if (req == 0)
        return NULL;
    for (size_t i = 0; i < EDGE_AUTH_MAX_PENDING; i++)
        if (self->pending[i].req == req)
            return &self->pending[i];
    return NULL;
}

static bool s_pending_has_jti(const edge_auth_t *self, const char *jti)
{
    for (size_t i = 0; i < EDGE_AUTH_MAX_PENDING; i++)
        if (self->pending[i].req && strcmp(self->pending[i].claims.jti, jti) == 0)
            return true;
    return false;
}

/* Frees a slot. spent: the router may have recorded the jti (accepted, or
   no answer yet), so remember it for resync. */
static void s_pending_release(edge_auth_t *self, s_pending_t *slot, bool spent)
{
    if (spent)
        s_spent_add(self, slot->claims.jti, slot->keep_until);
    tg_token_claims_release(&slot->claims);
    slot->req = 0;
    slot->session = NULL;
    self->pending_count--;
}

/* A TOKEN_SPEND request id: never 0, within the protocol's range. */
static uint64_t s_next_req(edge_auth_t *self)
{
    uint64_t req = ++self->next_req;
    if (req > TG_MAX_ID)
        req = self->next_req = 1;
    return req;
}

/* Sends the slot's TOKEN_SPEND when the router is there; slot->sent says
   whether it went (a slot not sent is tried again at the next tick). */
static void s_send_spend(edge_auth_t *self, s_pending_t *slot)
{
    slot->sent = false;
    if (!self->router.ready(self->router.arg))
        return;
    tg_envelope_t *envelope = tg_envelope_new(TG_CMD_TOKEN_SPEND);
    envelope->req = slot->req;
    envelope->jti = tg_strdup(slot->claims.jti);
    envelope->exp = (uint64_t)slot->keep_until;
    slot->sent = self->router.send(self->router.arg, envelope) == 0;
    tg_envelope_destroy(&envelope);
}

/* Sends TOKEN_SPEND for a verified ws token and parks the session. */
static void s_spend(edge_auth_t *self, edge_session_t *session, tg_token_claims_t *claims,
                    tg_now_t now)
{
    if (s_spent_here(self, claims->jti, tg_now_wall_s(now)) ||
        s_pending_has_jti(self, claims->jti)) {
        s_fail(self, session, "token replayed (on this edge)");
        return;
    }
    if (self->pending_count >= self->max_pending) {
        s_fail(self, session, "too many authentications waiting for the router");
        return;
    }
    s_pending_t *slot = NULL;
    for (size_t i = 0; !slot && i < EDGE_AUTH_MAX_PENDING; i++)
        if (self->pending[i].req == 0)
            slot = &self->pending[i];
    tg_check(slot); /* pending_count < max_pending <= EDGE_AUTH_MAX_PENDING */
    /* The router must keep the jti as long as any edge would accept the
       token: until exp plus the clock skew the edges allow. */
    int64_t keep_until = claims->exp + (int64_t)self->cfg->token_skew;
    if (keep_until < 0 || (uint64_t)keep_until > TG_MAX_ID)
        keep_until = (int64_t)TG_MAX_ID;
    slot->req = s_next_req(self);
    slot->session = session;
    slot->deadline_ms = now.mono_ms + EDGE_AUTH_TIMEOUT_MS;
    slot->keep_until = keep_until;
    slot->claims = *claims;
    memset(claims, 0, sizeof(*claims)); /* moved into the slot */
    self->pending_count++;
    edge_session_authenticating(session);
    /* Not sent (router away, link full): asked again at the next tick. */
    s_send_spend(self, slot);
}

/* --- the API ----------------------------------------------------------------- */

void edge_auth_challenge(edge_auth_t *self, edge_session_t *session, const char *authid)
{
    assert(self);
    assert(session);
    edge_session_challenge(session, edge_random_id(), authid);
    json_t *challenge = json_pack("[i,s,{}]", TG_WAMP_CHALLENGE, "ticket");
    if (challenge) {
        edge_session_send(session, challenge);
        json_decref(challenge);
    }
}

/* Verifies the token as a ws token, or a resume token. Returns 0 and
   fills claims, or -1 with *reason. */
static int s_verify(edge_auth_t *self, const char *token, size_t len, int64_t now,
                    tg_token_claims_t *claims, const char **reason)
{
    const tg_config_t *cfg = self->cfg;
    int rc = tg_token_verify(token, len, cfg->secret, cfg->secret_previous, now,
                             (int64_t)cfg->token_skew, TG_TOKEN_WS, claims, reason);
    /* "wrong typ" comes after the MAC check: the token is ours, maybe a
       resume token. */
    if (rc != 0 && *reason && strcmp(*reason, "wrong typ") == 0)
        rc = tg_token_verify(token, len, cfg->secret, cfg->secret_previous, now,
                             (int64_t)cfg->token_skew, TG_TOKEN_RESUME, claims, reason);
    return rc;
}

void edge_auth_authenticate(edge_auth_t *self, edge_session_t *session, const char *token,
                            size_t len, tg_now_t now)
{
    assert(self);
    assert(session);
    assert(session->state == EDGE_SESSION_CHALLENGED);
    tg_token_claims_t claims;
    const char *reason = NULL;
    if (s_verify(self, token, len, tg_now_wall_s(now), &claims, &reason) != 0) {
        s_fail(self, session, reason ? reason : "invalid token");
        return;
    }
    if (!claims.sub && !self->cfg->allow_anonymous)
        s_fail(self, session, "anonymous token, and anonymous sessions are disabled");
    else if (session->claimed_authid &&
             (!claims.sub || strcmp(claims.sub, session->claimed_authid)))
        s_fail(self, session, "HELLO authid is not the token's sub");
    else if (claims.typ == TG_TOKEN_RESUME)
        s_welcome(self, session, &claims, now);
    else
        s_spend(self, session, &claims, now);
    tg_token_claims_release(&claims);
}

void edge_auth_router_reply(edge_auth_t *self, const tg_envelope_t *envelope, tg_now_t now)
{
    assert(self);
    assert(envelope);
    s_pending_t *slot = s_pending_find_req(self, envelope->req);
    if (!slot) {
        tg_log_debug("edge: late or unknown token verdict command=%s req=%llu",
                     tg_command_name(envelope->command), (unsigned long long)envelope->req);
        return;
    }
    edge_session_t *session = slot->session;
    bool accepted = envelope->command == TG_CMD_ACCEPTED;
    if (accepted && session->state == EDGE_SESSION_AUTHENTICATING) {
        /* Welcome from the slot's claims, then release it. */
        s_welcome(self, session, &slot->claims, now);
        s_pending_release(self, slot, true);
        return;
    }
    /* A router in its start-up window (or short of room): ask again at
       the next tick, under a new request id, until the slot's deadline. */
    if (!accepted && session->state == EDGE_SESSION_AUTHENTICATING && envelope->error &&
        streq(envelope->error, "telegraphy.error.unavailable") && now.mono_ms < slot->deadline_ms) {
        slot->req = s_next_req(self);
        slot->sent = false;
        return;
    }
    s_pending_release(self, slot, accepted);
    if (!accepted && session->state == EDGE_SESSION_AUTHENTICATING) {
        char reason[TG_MAX_TOPIC + 32];
        snprintf(reason, sizeof(reason), "router refused the token: %s",
                 envelope->error ? envelope->error : "?");
        s_fail(self, session, reason);
    }
}

void edge_auth_session_closed(edge_auth_t *self, edge_session_t *session)
{
    assert(self);
    assert(session);
    if (self->pending_count == 0)
        return;
    for (size_t i = 0; i < EDGE_AUTH_MAX_PENDING; i++)
        if (self->pending[i].req && self->pending[i].session == session) {
            /* The verdict may still come and record the jti: keep it too. */
            s_pending_release(self, &self->pending[i], true);
            return;
        }
}

void edge_auth_tick(edge_auth_t *self, tg_now_t now)
{
    assert(self);
    for (size_t i = 0; i < EDGE_AUTH_MAX_PENDING && self->pending_count > 0; i++) {
        s_pending_t *slot = &self->pending[i];
        if (!slot->req)
            continue;
        if (slot->deadline_ms > now.mono_ms) {
            if (!slot->sent)
                s_send_spend(self, slot);
            continue;
        }
        edge_session_t *session = slot->session;
        /* Unknown outcome: the router may have recorded it. */
        s_pending_release(self, slot, true);
        if (session->state == EDGE_SESSION_AUTHENTICATING)
            s_fail(self, session, "router did not answer the token spend in time");
    }
    /* Oldest first is nearly exp order (tokens have similar lifetimes);
       an entry stuck behind a longer-lived one only waits a little. */
    int64_t now_s = tg_now_wall_s(now);
    while (self->spent_count > 0 && self->spent[self->spent_head].keep_until < now_s)
        s_spent_drop_oldest(self);
}

void edge_auth_resync(edge_auth_t *self, tg_now_t now)
{
    assert(self);
    int64_t now_s = tg_now_wall_s(now);
    size_t sent = 0;
    for (size_t i = 0; i < self->spent_count; i++) {
        const s_spent_t *slot = &self->spent[(self->spent_head + i) % EDGE_AUTH_MAX_SPENT];
        if (slot->keep_until < now_s)
            continue;
        tg_envelope_t *envelope = tg_envelope_new(TG_CMD_TOKEN_SPEND);
        envelope->jti = tg_strdup(slot->jti);
        envelope->exp = (uint64_t)slot->keep_until;
        if (self->router.send(self->router.arg, envelope) == 0)
            sent++;
        tg_envelope_destroy(&envelope);
    }
    if (sent > 0)
        tg_log_info("edge: resync spent_tokens=%zu", sent);
}

void edge_auth_set_max_pending(edge_auth_t *self, size_t max_pending)
{
    assert(self);
    assert(max_pending <= EDGE_AUTH_MAX_PENDING);
    self->max_pending = max_pending;
}

size_t edge_auth_pending_count(const edge_auth_t *self)
{
    assert(self);
    return self->pending_count;
}

size_t edge_auth_spent_count(const edge_auth_t *self)
{
    assert(self);
    return self->spent_count;
}

char *edge_auth_cookie_cid(edge_auth_t *self, const char *token, tg_now_t now)
{
    assert(self);
    if (!token || !self->cfg->secret[0])
        return NULL;
    const tg_config_t *cfg = self->cfg;
    tg_token_claims_t claims;
    const char *reason = NULL;
    if (tg_token_verify(token, strlen(token), cfg->secret, cfg->secret_previous, tg_now_wall_s(now),
                        (int64_t)cfg->token_skew, TG_TOKEN_RESUME, &claims, &reason) != 0)
        return NULL;
    /* Only the edge's own cookie tokens: no user in them. */
    char *cid = !claims.sub && claims.cid && *claims.cid ? tg_strdup(claims.cid) : NULL;
    tg_token_claims_release(&claims);
    return cid;
}

char *edge_auth_cookie_token(edge_auth_t *self, const char *cid, tg_now_t now)
{
    assert(self);
    assert(cid);
    if (!self->cfg->secret[0])
        return NULL;
    tg_token_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    claims.typ = TG_TOKEN_RESUME;
    claims.exp = tg_now_wall_s(now) + (int64_t)self->cfg->resume_ttl;
    claims.cid = (char *)cid;
    return tg_token_mint(&claims, self->cfg->secret);
}

char *edge_auth_new_browser_id(void)
{
    return s_new_client_id();
}
