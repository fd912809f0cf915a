/*  Unit tests for tg_token: the shared vectors of the Python side
    (tests/fixtures/token_vectors.json), signatures, rotation, expiry, typ,
    and every kind of malformed input, signed so that the check under test
    (not the MAC) is what refuses it.

    Code review note: the MAC comparison is CRYPTO_memcmp (s_mac_matches in
    lib/tg_token.c); timing is not observable from a unit test.
*/
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_token.h"

#define SECRET "unit-test-secret"
#define NOW    1800000000
#define JTI    "AAECAwQFBgcICQoLDA0ODw" /* 22 chars, 128 bits */

/* The fixture file: the tests run from the repo root (scripts/test.sh),
   but also work from build dirs or next to this source file. */
static json_t *vectors_load(void)
{
    static const char *relative = "tests/fixtures/token_vectors.json";
    const char *prefixes[] = {"", "../", "../../", "../../../"};
    char path[1024];
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", prefixes[i], relative);
        json_t *root = json_load_file(path, 0, NULL);
        if (root)
            return root;
    }
    /* __FILE__ is tests/unit/test_tg_token.c (or absolute): its repo root. */
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/");
    if (tail) {
        snprintf(path, sizeof path, "%.*s%s", (int)(tail - self), self, relative);
        json_t *root = json_load_file(path, 0, NULL);
        if (root)
            return root;
    }
    /* The binary is <root>/build/tests/test_tg_token (or build-asan). */
    char exe[900];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = '\0';
        }
        snprintf(path, sizeof path, "%s/%s", exe, relative);
        json_t *root = json_load_file(path, 0, NULL);
        if (root)
            return root;
    }
    cr_assert_fail("cannot find %s (run from the repo root)", relative);
    return NULL;
}

/* A token whose payload part is `part` verbatim, correctly signed: lets a
   test reach the checks that come after the MAC. Caller frees. */
static char *sign_part(const char *part, const char *secret)
{
    size_t part_len = strlen(part);
    size_t signed_len = 3 + part_len;
    char *token = malloc(signed_len + 1 + 43 + 1);
    cr_assert_not_null(token);
    memcpy(token, "v1.", 3);
    memcpy(token + 3, part, part_len);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    cr_assert_not_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)token,
                            signed_len, mac, &mac_len));
    char *mac_text = tg_base64url_encode(mac, mac_len);
    token[signed_len] = '.';
    memcpy(token + signed_len + 1, mac_text, 44);
    free(mac_text);
    return token;
}

/* A correctly signed token carrying `json` as its payload. Caller frees. */
static char *sign_json(const char *json, const char *secret)
{
    char *part = tg_base64url_encode(json, strlen(json));
    char *token = sign_part(part, secret);
    free(part);
    return token;
}

/* Verifies with SECRET at NOW, skew 30, expecting a ws token. */
static int verify_ws(const char *token, const char **reason)
{
    tg_token_claims_t claims;
    int rc =
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 30, TG_TOKEN_WS, &claims, reason);
    tg_token_claims_release(&claims);
    return rc;
}

/* Asserts the signed payload `json` is refused with reason `expected`. */
static void assert_json_refused(const char *json, const char *expected)
{
    char *token = sign_json(json, SECRET);
    const char *reason = NULL;
    cr_assert_eq(verify_ws(token, &reason), -1, "accepted: %s", json);
    cr_assert_str_eq(reason, expected, "%s", json);
    free(token);
}

/* Every shared vector verifies with the fixture's secret before its exp,
   and its claims are the payload's. */
Test(tg_token, every_vector_verifies_with_its_secret)
{
    json_t *root = vectors_load();
    const char *secret = json_string_value(json_object_get(root, "secret"));
    size_t index;
    json_t *vector;
    json_array_foreach(json_object_get(root, "vectors"), index, vector)
    {
        json_t *payload = json_object_get(vector, "payload");
        const char *token = json_string_value(json_object_get(vector, "token"));
        const char *typ = json_string_value(json_object_get(payload, "typ"));
        int64_t exp = json_integer_value(json_object_get(payload, "exp"));
        tg_token_type_t type = strcmp(typ, "resume") == 0 ? TG_TOKEN_RESUME : TG_TOKEN_WS;
        tg_token_claims_t claims;
        const char *reason = NULL;
        cr_assert_eq(tg_token_verify(token, strlen(token), secret, NULL, exp - 60, 0, type, &claims,
                                     &reason),
                     0, "vector %zu refused: %s", index, reason);
        cr_assert_eq(claims.typ, type);
        cr_assert_eq(claims.exp, exp);
        json_t *sub = json_object_get(payload, "sub");
        if (sub)
            cr_assert_str_eq(claims.sub, json_string_value(sub));
        else
            cr_assert_null(claims.sub);
        json_t *name = json_object_get(payload, "name");
        if (name)
            cr_assert_str_eq(claims.name, json_string_value(name));
        else
            cr_assert_null(claims.name);
        json_t *groups = json_object_get(payload, "grp");
        cr_assert_eq(claims.groups_count, json_array_size(groups));
        for (size_t g = 0; g < claims.groups_count; g++)
            cr_assert_str_eq(claims.groups[g], json_string_value(json_array_get(groups, g)));
        cr_assert_str_eq(claims.jti, json_string_value(json_object_get(payload, "jti")));
        json_t *cid = json_object_get(payload, "cid");
        if (cid)
            cr_assert_str_eq(claims.cid, json_string_value(cid));
        else
            cr_assert_null(claims.cid);
        tg_token_claims_release(&claims);
    }
    cr_assert_gt(index, 0, "no vectors");
    json_decref(root);
}

/* Minting each vector's payload (its jti given) gives the vector's exact
   token: the C and Python sides write the same bytes. */
Test(tg_token, mint_reproduces_every_vector_token)
{
    json_t *root = vectors_load();
    const char *secret = json_string_value(json_object_get(root, "secret"));
    size_t index;
    json_t *vector;
    json_array_foreach(json_object_get(root, "vectors"), index, vector)
    {
        json_t *payload = json_object_get(vector, "payload");
        json_t *groups = json_object_get(payload, "grp");
        char *group_names[TG_TOKEN_MAX_GROUPS];
        tg_token_claims_t claims = {
            .typ = strcmp(json_string_value(json_object_get(payload, "typ")), "resume") == 0
                       ? TG_TOKEN_RESUME
                       : TG_TOKEN_WS,
            .sub = (char *)json_string_value(json_object_get(payload, "sub")),
            .name = (char *)json_string_value(json_object_get(payload, "name")),
            .groups = group_names,
            .groups_count = json_array_size(groups),
            .exp = json_integer_value(json_object_get(payload, "exp")),
            .jti = (char *)json_string_value(json_object_get(payload, "jti")),
            .cid = (char *)json_string_value(json_object_get(payload, "cid")),
        };
        for (size_t g = 0; g < claims.groups_count; g++)
            group_names[g] = (char *)json_string_value(json_array_get(groups, g));
        char *token = tg_token_mint(&claims, secret);
        cr_assert_not_null(token, "vector %zu", index);
        cr_assert_str_eq(token, json_string_value(json_object_get(vector, "token")), "vector %zu",
                         index);
        free(token);
    }
    json_decref(root);
}

/* Every "bad" vector is refused, whatever the time and typ. */
Test(tg_token, every_bad_vector_is_refused)
{
    json_t *root = vectors_load();
    const char *secret = json_string_value(json_object_get(root, "secret"));
    size_t index;
    json_t *vector;
    json_array_foreach(json_object_get(root, "bad"), index, vector)
    {
        const char *token = json_string_value(json_object_get(vector, "token"));
        for (int type = TG_TOKEN_WS; type <= TG_TOKEN_RESUME; type++) {
            tg_token_claims_t claims;
            const char *reason = NULL;
            cr_assert_eq(tg_token_verify(token, strlen(token), secret, NULL, 1000, 0,
                                         (tg_token_type_t)type, &claims, &reason),
                         -1, "bad vector %zu accepted", index);
            cr_assert_not_null(reason);
            cr_assert_null(claims.jti);
        }
    }
    cr_assert_gt(index, 0, "no bad vectors");
    json_decref(root);
}

static char *mint_ws(const char *secret, int64_t exp)
{
    tg_token_claims_t claims = {.typ = TG_TOKEN_WS, .sub = "42", .name = "alice", .exp = exp};
    char *token = tg_token_mint(&claims, secret);
    cr_assert_not_null(token);
    return token;
}

/* A token signed with another secret is refused as "bad signature". */
Test(tg_token, token_of_another_secret_is_refused)
{
    char *token = mint_ws("another-secret", NOW + 60);
    const char *reason = NULL;
    cr_assert_eq(verify_ws(token, &reason), -1);
    cr_assert_str_eq(reason, "bad signature");
    free(token);
}

/* During a rotation a token of the previous secret is accepted, and the
   same token is refused once the previous secret is dropped. */
Test(tg_token, previous_secret_is_accepted_only_during_rotation)
{
    char *token = mint_ws("old-secret", NOW + 60);
    tg_token_claims_t claims;
    const char *reason = NULL;
    cr_assert_eq(tg_token_verify(token, strlen(token), SECRET, "old-secret", NOW, 0, TG_TOKEN_WS,
                                 &claims, &reason),
                 0, "%s", reason);
    cr_assert_str_eq(claims.sub, "42");
    tg_token_claims_release(&claims);
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, "", NOW, 0, TG_TOKEN_WS, &claims, &reason),
        -1);
    cr_assert_str_eq(reason, "bad signature");
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, &reason),
        -1);
    free(token);
}

/* The current secret still works while a previous one is configured. */
Test(tg_token, current_secret_works_during_rotation)
{
    char *token = mint_ws(SECRET, NOW + 60);
    tg_token_claims_t claims;
    cr_assert_eq(tg_token_verify(token, strlen(token), SECRET, "old-secret", NOW, 0, TG_TOKEN_WS,
                                 &claims, NULL),
                 0);
    tg_token_claims_release(&claims);
    free(token);
}

/* Expired means exp + skew <= now: past that it is refused as "expired",
   inside the skew it is accepted. */
Test(tg_token, expired_token_is_refused_outside_the_skew)
{
    char *token = mint_ws(SECRET, NOW - 10);
    tg_token_claims_t claims;
    const char *reason = NULL;
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, &reason),
        -1);
    cr_assert_str_eq(reason, "expired");
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 10, TG_TOKEN_WS, &claims, &reason),
        -1, "exp + skew == now is expired");
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 11, TG_TOKEN_WS, &claims, &reason),
        0, "within the skew: %s", reason);
    tg_token_claims_release(&claims);
    free(token);
}

/* A token is valid up to the second before its exp without any skew. */
Test(tg_token, token_is_valid_until_its_exp)
{
    char *token = mint_ws(SECRET, NOW + 1);
    tg_token_claims_t claims;
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, NULL), 0);
    tg_token_claims_release(&claims);
    free(token);
}

/* A ws token is not a resume token and vice versa ("wrong typ"), and an
   unknown typ is refused the same way. */
Test(tg_token, wrong_typ_is_refused)
{
    char *token = mint_ws(SECRET, NOW + 60);
    tg_token_claims_t claims;
    const char *reason = NULL;
    cr_assert_eq(tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_RESUME,
                                 &claims, &reason),
                 -1);
    cr_assert_str_eq(reason, "wrong typ");
    free(token);
    tg_token_claims_t resume = {
        .typ = TG_TOKEN_RESUME, .sub = "42", .exp = NOW + 60, .cid = "client-1"};
    token = tg_token_mint(&resume, SECRET);
    cr_assert_eq(verify_ws(token, &reason), -1);
    cr_assert_str_eq(reason, "wrong typ");
    free(token);
    assert_json_refused("{\"typ\":\"admin\",\"exp\":1800000060,\"jti\":\"" JTI "\"}", "wrong typ");
}

/* A resume token verifies as such and carries its cid. */
Test(tg_token, resume_token_round_trips_with_its_cid)
{
    tg_token_claims_t resume = {.typ = TG_TOKEN_RESUME, .exp = NOW + 60, .cid = "client-1"};
    char *token = tg_token_mint(&resume, SECRET);
    cr_assert_not_null(token);
    tg_token_claims_t claims;
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_RESUME, &claims, NULL),
        0);
    cr_assert_str_eq(claims.cid, "client-1");
    cr_assert_null(claims.sub, "anonymous resume tokens exist");
    tg_token_claims_release(&claims);
    free(token);
}

/* Every truncation of a good token is refused. */
Test(tg_token, truncated_tokens_are_refused)
{
    char *token = mint_ws(SECRET, NOW + 60);
    size_t len = strlen(token);
    for (size_t cut = 0; cut < len; cut++) {
        tg_token_claims_t claims;
        const char *reason = NULL;
        cr_assert_eq(
            tg_token_verify(token, cut, SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, &reason), -1,
            "accepted at %zu", cut);
        cr_assert_not_null(reason);
    }
    free(token);
}

/* Characters outside base64url, or padding, are refused, in the MAC part
   (before any MAC work) and in a signed payload part. */
Test(tg_token, bad_base64url_characters_are_refused)
{
    char *token = mint_ws(SECRET, NOW + 60);
    size_t len = strlen(token);
    const char *reason = NULL;
    char *mac = strrchr(token, '.') + 1;
    const char bad[] = {'+', '/', '=', ' ', '.', '\0', (char)0xc3};
    for (size_t i = 0; i < sizeof bad; i++) {
        char saved = mac[5];
        mac[5] = bad[i];
        tg_token_claims_t claims;
        cr_assert_eq(
            tg_token_verify(token, len, SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, &reason), -1,
            "char %02x", (unsigned char)bad[i]);
        mac[5] = saved;
    }
    free(token);
    /* signed, so only the base64url check can refuse them */
    const char *parts[] = {"eyJ0eXAiOiJ3cyJ9=", "eyJ0eXAi+iJ3cyJ9", "eyJ0eXAi/iJ3cyJ9",
                           "eyJ0eXAiOiJ3cyJ9A"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *signed_token = sign_part(parts[i], SECRET);
        cr_assert_eq(verify_ws(signed_token, &reason), -1, "%s", parts[i]);
        cr_assert_str_eq(reason, "malformed: base64url", "%s", parts[i]);
        free(signed_token);
    }
}

/* A signed payload that is not a JSON object is refused as json. */
Test(tg_token, bad_json_is_refused)
{
    assert_json_refused("{\"typ\":\"ws\",", "malformed: json");
    assert_json_refused("[\"ws\"]", "malformed: json");
    assert_json_refused("\"ws\"", "malformed: json");
    assert_json_refused("{\"typ\":\"ws\"} trailing", "malformed: json");
    assert_json_refused("{\"typ\":\"ws\",\"typ\":\"ws\",\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: json");
    assert_json_refused("{\"typ\":\"ws\",\"name\":\"\xc3\x28\",\"exp\":1800000060,\"jti\":\"" JTI
                        "\"}",
                        "malformed: json");
    assert_json_refused("{\"typ\":\"ws\",\"sub\":\"a\\u0000b\",\"exp\":1800000060,\"jti\":\"" JTI
                        "\"}",
                        "malformed: json");
}

/* Each key must have its type: strings, a list of strings, an integer. */
Test(tg_token, wrong_types_are_refused)
{
    assert_json_refused("{\"typ\":1,\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: field typ");
    assert_json_refused("{\"typ\":\"ws\",\"sub\":42,\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: field sub");
    assert_json_refused("{\"typ\":\"ws\",\"name\":null,\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: field name");
    assert_json_refused("{\"typ\":\"ws\",\"grp\":\"staff\",\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: field grp");
    assert_json_refused("{\"typ\":\"ws\",\"grp\":[1],\"exp\":1800000060,\"jti\":\"" JTI "\"}",
                        "malformed: field grp");
    assert_json_refused("{\"typ\":\"ws\",\"exp\":\"1800000060\",\"jti\":\"" JTI "\"}",
                        "malformed: field exp");
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060.5,\"jti\":\"" JTI "\"}",
                        "malformed: field exp");
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060,\"jti\":[\"" JTI "\"]}",
                        "malformed: field jti");
}

/* exp and jti are required; a jti under 22 characters (128 bits) or
   outside base64url is refused. */
Test(tg_token, missing_or_short_jti_is_refused)
{
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060}", "malformed: field jti");
    assert_json_refused("{\"typ\":\"ws\",\"jti\":\"" JTI "\"}", "malformed: field exp");
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060,\"jti\":\"AAECAwQFBgcICQoLDA0OD\"}",
                        "malformed: field jti");
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060,\"jti\":\"AAECAwQFBgcICQoLDA0OD+\"}",
                        "malformed: field jti");
}

/* cid belongs to resume tokens: a ws token with one and a resume token
   without one are refused. */
Test(tg_token, cid_must_match_the_typ)
{
    assert_json_refused("{\"typ\":\"ws\",\"exp\":1800000060,\"jti\":\"" JTI "\",\"cid\":\"c\"}",
                        "malformed: field cid");
    char *token = sign_json("{\"typ\":\"resume\",\"exp\":1800000060,\"jti\":\"" JTI "\"}", SECRET);
    tg_token_claims_t claims;
    const char *reason = NULL;
    cr_assert_eq(tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_RESUME,
                                 &claims, &reason),
                 -1);
    cr_assert_str_eq(reason, "malformed: field cid");
    free(token);
}

/* Strings over TG_TOKEN_MAX_FIELD bytes and more than TG_TOKEN_MAX_GROUPS
   groups are refused; exactly at the bounds they are accepted. */
Test(tg_token, field_bounds_are_enforced)
{
    char field[TG_TOKEN_MAX_FIELD + 2];
    memset(field, 'n', sizeof field - 1);
    field[sizeof field - 1] = '\0';
    char json[4096];
    snprintf(json, sizeof json,
             "{\"typ\":\"ws\",\"name\":\"%s\",\"exp\":1800000060,\"jti\":\"" JTI "\"}", field);
    assert_json_refused(json, "malformed: field name");
    field[TG_TOKEN_MAX_FIELD] = '\0';
    snprintf(json, sizeof json,
             "{\"typ\":\"ws\",\"sub\":\"%s\",\"exp\":1800000060,\"jti\":\"" JTI "\"}", field);
    char *token = sign_json(json, SECRET);
    cr_assert_eq(verify_ws(token, NULL), 0, "%d bytes is within the bound", TG_TOKEN_MAX_FIELD);
    free(token);
    int len = snprintf(json, sizeof json, "{\"typ\":\"ws\",\"grp\":[");
    for (int i = 0; i <= TG_TOKEN_MAX_GROUPS; i++)
        len += snprintf(json + len, sizeof json - (size_t)len, "%s\"g%d\"", i ? "," : "", i);
    snprintf(json + len, sizeof json - (size_t)len, "],\"exp\":1800000060,\"jti\":\"" JTI "\"}");
    assert_json_refused(json, "malformed: field grp");
}

/* A 100 KB token is refused as "too long" before any work. */
Test(tg_token, huge_token_is_refused_as_too_long)
{
    size_t len = 100 * 1024;
    char *token = malloc(len + 1);
    memcpy(token, "v1.", 3);
    memset(token + 3, 'A', len - 3);
    token[len] = '\0';
    const char *reason = NULL;
    cr_assert_eq(verify_ws(token, &reason), -1);
    cr_assert_str_eq(reason, "too long");
    free(token);
}

/* Without a secret nothing verifies and nothing is minted. */
Test(tg_token, empty_secret_refuses_everything)
{
    char *token = mint_ws(SECRET, NOW + 60);
    tg_token_claims_t claims;
    const char *reason = NULL;
    cr_assert_eq(
        tg_token_verify(token, strlen(token), "", NULL, NOW, 0, TG_TOKEN_WS, &claims, &reason), -1);
    cr_assert_str_eq(reason, "no secret");
    tg_token_claims_t mint = {.typ = TG_TOKEN_WS, .exp = NOW};
    cr_assert_null(tg_token_mint(&mint, ""));
    cr_assert_null(tg_token_mint(&mint, NULL));
    free(token);
}

/* Minted jtis are random: 22 base64url characters, different each time. */
Test(tg_token, minted_jti_is_random_and_verifies)
{
    char *first = mint_ws(SECRET, NOW + 60);
    char *second = mint_ws(SECRET, NOW + 60);
    cr_assert_str_neq(first, second);
    tg_token_claims_t claims;
    cr_assert_eq(
        tg_token_verify(first, strlen(first), SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, NULL), 0);
    cr_assert_eq(strlen(claims.jti), 22);
    tg_token_claims_release(&claims);
    free(first);
    free(second);
}

/* Mint refuses what verify would refuse: a short jti, a ws token with a
   cid, a resume token without one, an empty sub, no exp. */
Test(tg_token, mint_refuses_claims_that_would_not_verify)
{
    tg_token_claims_t short_jti = {.typ = TG_TOKEN_WS, .exp = NOW, .jti = "abc"};
    cr_assert_null(tg_token_mint(&short_jti, SECRET));
    tg_token_claims_t ws_cid = {.typ = TG_TOKEN_WS, .exp = NOW, .cid = "c"};
    cr_assert_null(tg_token_mint(&ws_cid, SECRET));
    tg_token_claims_t resume = {.typ = TG_TOKEN_RESUME, .exp = NOW};
    cr_assert_null(tg_token_mint(&resume, SECRET));
    tg_token_claims_t empty_sub = {.typ = TG_TOKEN_WS, .exp = NOW, .sub = ""};
    cr_assert_null(tg_token_mint(&empty_sub, SECRET));
    tg_token_claims_t no_exp = {.typ = TG_TOKEN_WS};
    cr_assert_null(tg_token_mint(&no_exp, SECRET));
}

/* Groups are found by exact name. */
Test(tg_token, claims_in_group_matches_exact_names)
{
    char *groups[] = {"staff", "editors"};
    tg_token_claims_t claims = {.groups = groups, .groups_count = 2};
    cr_assert(tg_token_claims_in_group(&claims, "staff"));
    cr_assert(tg_token_claims_in_group(&claims, "editors"));
    cr_assert_not(tg_token_claims_in_group(&claims, "staf"));
    cr_assert_not(tg_token_claims_in_group(&claims, "superuser"));
}

/* Releasing claims twice is safe and leaves them zeroed. */
Test(tg_token, claims_release_is_safe_twice)
{
    char *token = mint_ws(SECRET, NOW + 60);
    tg_token_claims_t claims;
    cr_assert_eq(verify_ws(token, NULL), 0);
    cr_assert_eq(
        tg_token_verify(token, strlen(token), SECRET, NULL, NOW, 0, TG_TOKEN_WS, &claims, NULL), 0);
    tg_token_claims_release(&claims);
    tg_token_claims_release(&claims);
    cr_assert_null(claims.sub);
    cr_assert_eq(claims.groups_count, 0);
    free(token);
}

/* base64url round-trips every length and matches known encodings. */
Test(tg_base64url, round_trips_every_length)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 251);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *text = tg_base64url_encode(data, len);
        cr_assert_not_null(text);
        cr_assert_null(strchr(text, '='));
        uint8_t out[64];
        size_t out_len = sizeof out;
        cr_assert_eq(tg_base64url_decode(text, strlen(text), out, &out_len), 0, "len %zu", len);
        cr_assert_eq(out_len, len);
        cr_assert_eq(memcmp(out, data, len), 0);
        free(text);
    }
    char *text = tg_base64url_encode("\xfb\xff", 2);
    cr_assert_str_eq(text, "-_8");
    free(text);
}

/* Decoding refuses padding, foreign characters, len % 4 == 1, non-zero
   unused bits, and output that would not fit. */
Test(tg_base64url, decode_is_strict)
{
    uint8_t out[16];
    const char *bad[] = {"QQ==", "QQ=", "Q", "QUJDR", "QU+D", "QU/D", "QU D", "QR", "QUJ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t out_len = sizeof out;
        cr_assert_eq(tg_base64url_decode(bad[i], strlen(bad[i]), out, &out_len), -1, "%s", bad[i]);
    }
    size_t out_len = sizeof out;
    cr_assert_eq(tg_base64url_decode("QUJ", 3, out, &out_len), -1, "unused bits set");
    out_len = sizeof out;
    cr_assert_eq(tg_base64url_decode("QUE", 3, out, &out_len), 0);
    cr_assert_eq(out_len, 2);
    out_len = 1;
    cr_assert_eq(tg_base64url_decode("QUE", 3, out, &out_len), -1, "does not fit");
}
