/*  tg_token: verify and mint the signed tokens of DESIGN §2.4. See tg_token.h.

    Verification order matters: length, then shape, then the MAC (constant
    time, CRYPTO_memcmp), and only then is the payload decoded and parsed, so
    bytes nobody signed never reach the JSON parser. Both the current and the
    previous secret (rotation) are tried.
*/
#include "tg_token.h"

#include <assert.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define S_PREFIX           "v1."
#define S_PREFIX_LEN       3
#define S_MAC_LEN          32 /* HMAC-SHA256 */
#define S_MAC_TEXT_LEN     43 /* base64url of 32 bytes, no padding */
#define S_JTI_MIN_LEN      22 /* base64url chars of 128 bits */
#define S_JTI_RANDOM_BYTES 16

void tg_token_claims_release(tg_token_claims_t *claims)
{
    if (!claims)
        return;
    free(claims->sub);
    free(claims->name);
    for (size_t i = 0; i < claims->groups_count; i++)
        free(claims->groups[i]);
    free(claims->groups);
    free(claims->jti);
    free(claims->cid);
    memset(claims, 0, sizeof *claims);
}

bool tg_token_claims_in_group(const tg_token_claims_t *claims, const char *group)
{
    assert(claims);
    assert(group);
    for (size_t i = 0; i < claims->groups_count; i++)
        if (claims->groups[i] && strcmp(claims->groups[i], group) == 0)
            return true;
    return false;
}

/* HMAC-SHA256(secret, data) into mac (S_MAC_LEN bytes). HMAC() is the
   one-shot API that OpenSSL 3 keeps undeprecated. */
static int s_mac(const char *secret, const void *data, size_t len, uint8_t *mac)
{
    unsigned int mac_len = 0;
    size_t secret_len = strlen(secret);
    if (secret_len > INT32_MAX)
        return -1;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, data, len, mac, &mac_len) ||
        mac_len != S_MAC_LEN)
        return -1;
    return 0;
}

/* True when `mac` is the MAC of data under secret; constant time in the
   MAC's bytes so a forger learns nothing from how fast we say no. */
static bool s_mac_matches(const char *secret, const void *data, size_t len, const uint8_t *mac)
{
    uint8_t expected[S_MAC_LEN];
    if (s_mac(secret, data, len, expected))
        return false;
    bool match = CRYPTO_memcmp(expected, mac, S_MAC_LEN) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    return match;
}

/* A string claim: absent is fine when !required; present must be a string
   of 1..TG_TOKEN_MAX_FIELD bytes (jansson already refused invalid UTF-8 and
   NUL). Copies it into *out. Returns 0, or -1. */
static int s_string_claim(json_t *payload, const char *key, bool required, char **out)
{
    json_t *value = json_object_get(payload, key);
    if (!value)
        return required ? -1 : 0;
    if (!json_is_string(value))
        return -1;
    size_t len = json_string_length(value);
    if (len == 0 || len > TG_TOKEN_MAX_FIELD)
        return -1;
    *out = strdup(json_string_value(value));
    return *out ? 0 : -1;
}

static int s_groups_claim(json_t *payload, tg_token_claims_t *claims)
{
    json_t *groups = json_object_get(payload, "grp");
    if (!groups)
        return 0; /* the Python side always writes it; absent means none */
    if (!json_is_array(groups) || json_array_size(groups) > TG_TOKEN_MAX_GROUPS)
        return -1;
    size_t count = json_array_size(groups);
    if (count == 0)
        return 0;
    claims->groups = calloc(count, sizeof(char *));
    if (!claims->groups)
        return -1;
    for (size_t i = 0; i < count; i++) {
        json_t *group = json_array_get(groups, i);
        if (!json_is_string(group) || json_string_length(group) == 0 ||
            json_string_length(group) > TG_TOKEN_MAX_FIELD)
            return -1;
        claims->groups[i] = strdup(json_string_value(group));
        if (!claims->groups[i])
            return -1;
        claims->groups_count = i + 1;
    }
    return 0;
}

static bool s_jti_valid(const char *jti)
{
    size_t len = strlen(jti);
    return len >= S_JTI_MIN_LEN && len <= TG_TOKEN_MAX_FIELD && tg_base64url_text_valid(jti, len);
}

/* Fills claims from the (signed, decoded) payload. Returns 0, or -1 with
 *reason naming the first bad field. */
static int s_claims_parse(json_t *payload, tg_token_claims_t *claims, const char **reason)
{
    json_t *typ = json_object_get(payload, "typ");
    if (!json_is_string(typ)) {
        *reason = "malformed: field typ";
        return -1;
    }
    if (strcmp(json_string_value(typ), "ws") == 0 && json_string_length(typ) == 2)
        claims->typ = TG_TOKEN_WS;
    else if (strcmp(json_string_value(typ), "resume") == 0 && json_string_length(typ) == 6)
        claims->typ = TG_TOKEN_RESUME;
    else {
        *reason = "wrong typ";
        return -1;
    }
    if (s_string_claim(payload, "sub", false, &claims->sub)) {
        *reason = "malformed: field sub";
        return -1;
    }
    /* name: a username is never empty, but an empty one harms nobody. */
    json_t *name = json_object_get(payload, "name");
    if (name) {
        if (!json_is_string(name) || json_string_length(name) > TG_TOKEN_MAX_FIELD) {
            *reason = "malformed: field name";
            return -1;
        }
        claims->name = strdup(json_string_value(name));
        if (!claims->name) {
            *reason = "out of memory";
            return -1;
        }
    }
    if (s_groups_claim(payload, claims)) {
        *reason = "malformed: field grp";
        return -1;
    }
    json_t *exp = json_object_get(payload, "exp");
    if (!json_is_integer(exp) || json_integer_value(exp) <= 0) {
        *reason = "malformed: field exp";
        return -1;
    }
    claims->exp = (int64_t)json_integer_value(exp);
    if (s_string_claim(payload, "jti", true, &claims->jti) || !s_jti_valid(claims->jti)) {
        *reason = "malformed: field jti";
        return -1;
    }
    /* cid belongs to resume tokens only: a ws token carrying one was not
       made by us, and a resume token without one names no client. */
    json_t *cid = json_object_get(payload, "cid");
    if (claims->typ == TG_TOKEN_WS ? cid != NULL
                                   : s_string_claim(payload, "cid", true, &claims->cid) != 0) {
        *reason = "malformed: field cid";
        return -1;
    }
    return 0;
}

int tg_token_verify(const char *token, size_t len, const char *secret, const char *previous_secret,
                    int64_t now, int64_t skew_s, tg_token_type_t expected,
                    tg_token_claims_t *claims, const char **reason)
{
    assert(claims);
    const char *ignored;
    if (!reason)
        reason = &ignored;
    memset(claims, 0, sizeof *claims);
    if (!token) {
        *reason = "malformed: structure";
        return -1;
    }
    if (len > TG_TOKEN_MAX_LEN) {
        *reason = "too long";
        return -1;
    }
    if (!secret || !*secret) {
        *reason = "no secret";
        return -1;
    }
    if (len < S_PREFIX_LEN || memcmp(token, S_PREFIX, S_PREFIX_LEN) != 0) {
        *reason = "malformed: prefix";
        return -1;
    }
    /* Exactly three parts: the MAC part is the text after the last dot and
       must be 43 alphabet characters (so holds no dot itself). */
    const char *payload_part = token + S_PREFIX_LEN;
    const char *dot = memchr(payload_part, '.', len - S_PREFIX_LEN);
    if (!dot || dot == payload_part) {
        *reason = "malformed: structure";
        return -1;
    }
    size_t payload_len = (size_t)(dot - payload_part);
    const char *mac_part = dot + 1;
    size_t mac_text_len = len - (size_t)(mac_part - token);
    if (mac_text_len != S_MAC_TEXT_LEN) {
        *reason = "malformed: structure";
        return -1;
    }
    uint8_t mac[S_MAC_LEN];
    size_t mac_len = sizeof mac;
    if (tg_base64url_decode(mac_part, mac_text_len, mac, &mac_len) || mac_len != S_MAC_LEN) {
        *reason = "malformed: base64url";
        return -1;
    }
    /* The MAC covers "v1." + payload part: the token's own leading bytes. */
    size_t signed_len = S_PREFIX_LEN + payload_len;
    bool signed_ok = s_mac_matches(secret, token, signed_len, mac);
    if (!signed_ok && previous_secret && *previous_secret)
        signed_ok = s_mac_matches(previous_secret, token, signed_len, mac);
    if (!signed_ok) {
        *reason = "bad signature";
        return -1;
    }
    /* Signed by us from here on; still checked as if it were not. */
    uint8_t json_bytes[TG_TOKEN_MAX_LEN];
    size_t json_len = sizeof json_bytes;
    if (tg_base64url_decode(payload_part, payload_len, json_bytes, &json_len)) {
        *reason = "malformed: base64url";
        return -1;
    }
    json_error_t error;
    json_t *payload =
        json_loadb((const char *)json_bytes, json_len, JSON_REJECT_DUPLICATES, &error);
    if (!payload || !json_is_object(payload)) {
        json_decref(payload);
        *reason = "malformed: json";
        return -1;
    }
    int rc = s_claims_parse(payload, claims, reason);
    json_decref(payload);
    if (rc == 0 && claims->typ != expected) {
        *reason = "wrong typ";
        rc = -1;
    }
    /* Expired when exp + skew <= now (the Python verifier's exp <= now with
       the skew added); written to avoid overflow on any exp. */
    if (rc == 0) {
        if (skew_s < 0)
            skew_s = 0;
        if (claims->exp <= now && now - claims->exp >= skew_s) {
            *reason = "expired";
            rc = -1;
        }
    }
    if (rc)
        tg_token_claims_release(claims);
    return rc;
}

static int s_set_string(json_t *object, const char *key, const char *value)
{
    if (strlen(value) > TG_TOKEN_MAX_FIELD)
        return -1;
    return json_object_set_new(object, key, json_string(value));
}

/* The payload JSON object of claims, keys in the Python side's order. */
static json_t *s_payload_new(const tg_token_claims_t *claims, const char *jti)
{
    json_t *payload = json_object();
    json_t *groups = json_array();
    if (!payload || !groups)
        goto err;
    if (claims->groups_count > TG_TOKEN_MAX_GROUPS)
        goto err;
    for (size_t i = 0; i < claims->groups_count; i++) {
        const char *group = claims->groups[i];
        if (!group || !*group || strlen(group) > TG_TOKEN_MAX_FIELD ||
            json_array_append_new(groups, json_string(group)))
            goto err;
    }
    if (s_set_string(payload, "typ", claims->typ == TG_TOKEN_RESUME ? "resume" : "ws"))
        goto err;
    if (claims->sub && (!*claims->sub || s_set_string(payload, "sub", claims->sub)))
        goto err;
    if (claims->name && s_set_string(payload, "name", claims->name))
        goto err;
    if (json_object_set_new(payload, "grp", groups)) {
        groups = NULL; /* set_new consumed it even on failure */
        goto err;
    }
    groups = NULL;
    if (claims->exp <= 0 ||
        json_object_set_new(payload, "exp", json_integer((json_int_t)claims->exp)))
        goto err;
    if (!s_jti_valid(jti) || s_set_string(payload, "jti", jti))
        goto err;
    if (claims->typ == TG_TOKEN_RESUME) {
        if (!claims->cid || !*claims->cid || s_set_string(payload, "cid", claims->cid))
            goto err;
    } else if (claims->cid)
        goto err;
    return payload;
err:
    json_decref(groups);
    json_decref(payload);
    return NULL;
}

/* Refuses claims that tg_token_verify would refuse, so a minted token always
   verifies. */
char *tg_token_mint(const tg_token_claims_t *claims, const char *secret)
{
    assert(claims);
    if (!secret || !*secret)
        return NULL;
    if (claims->typ != TG_TOKEN_WS && claims->typ != TG_TOKEN_RESUME)
        return NULL;
    char *jti = NULL;
    if (claims->jti)
        jti = strdup(claims->jti);
    else {
        uint8_t random[S_JTI_RANDOM_BYTES];
        if (RAND_bytes(random, sizeof random) != 1)
            return NULL;
        jti = tg_base64url_encode(random, sizeof random);
    }
    if (!jti)
        return NULL;
    json_t *payload = s_payload_new(claims, jti);
    free(jti);
    if (!payload)
        return NULL;
    /* Compact, UTF-8 unescaped, insertion order: Python's
       json.dumps(separators=(",", ":"), ensure_ascii=False). */
    char *json = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(payload);
    if (!json)
        return NULL;
    char *payload_part = tg_base64url_encode(json, strlen(json));
    free(json);
    if (!payload_part)
        return NULL;
    size_t payload_len = strlen(payload_part);
    size_t signed_len = S_PREFIX_LEN + payload_len;
    char *token = NULL;
    if (signed_len + 1 + S_MAC_TEXT_LEN > TG_TOKEN_MAX_LEN)
        goto done; /* would be refused as too long */
    token = malloc(signed_len + 1 + S_MAC_TEXT_LEN + 1);
    if (!token)
        goto done;
    memcpy(token, S_PREFIX, S_PREFIX_LEN);
    memcpy(token + S_PREFIX_LEN, payload_part, payload_len);
    uint8_t mac[S_MAC_LEN];
    char *mac_text = NULL;
    if (s_mac(secret, token, signed_len, mac) ||
        !(mac_text = tg_base64url_encode(mac, sizeof mac))) {
        free(token);
        token = NULL;
        goto done;
    }
    token[signed_len] = '.';
    memcpy(token + signed_len + 1, mac_text, S_MAC_TEXT_LEN + 1);
    free(mac_text);
done:
    free(payload_part);
    return token;
}
