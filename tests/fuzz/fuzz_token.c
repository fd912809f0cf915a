/*  libFuzzer target: tg_token_verify on hostile input.
    The first byte picks what the rest is:
      0: a whole token, verified as is (shape, base64url, MAC checks);
      1: payload JSON bytes, which the target encodes and signs, so the
         fuzzer reaches the JSON and claim checks behind the MAC;
      2: a payload part (text), signed as is, for base64url behind the MAC.
    Properties: no crash, leak or sanitizer report; a refusal always gives
    a reason and leaves the claims empty; accepted claims minted again (same
    jti) give a token that verifies to the same claims. */
#include "tg_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The fixture secret, so the vector seeds (tests/fixtures/token_vectors.json) verify. */
#define FUZZ_SECRET   "telegraphy-test-vector-secret-0123456789"
#define FUZZ_PREVIOUS "previous-secret"
#define FUZZ_NOW      1600000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "v1." + part + "." + MAC (*len bytes, part may hold NULs), or NULL when
   too big to matter. Caller frees. */
static char *s_sign(const char *part, size_t part_len, size_t *len)
{
    if (part_len > 2 * TG_TOKEN_MAX_LEN)
        return NULL;
    size_t signed_len = 3 + part_len;
    char *token = malloc(signed_len + 1 + 43 + 1);
    if (!token)
        return NULL;
    memcpy(token, "v1.", 3);
    memcpy(token + 3, part, part_len);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    char *mac_text = NULL;
    if (!HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), (unsigned char *)token,
              signed_len, mac, &mac_len) ||
        !(mac_text = tg_base64url_encode(mac, mac_len))) {
        free(token);
        return NULL;
    }
    token[signed_len] = '.';
    memcpy(token + signed_len + 1, mac_text, 44);
    free(mac_text);
    *len = signed_len + 1 + 43;
    return token;
}

static bool s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void s_check(const char *token, size_t len)
{
    for (int type = TG_TOKEN_WS; type <= TG_TOKEN_RESUME; type++) {
        tg_token_claims_t claims;
        const char *reason = NULL;
        int rc = tg_token_verify(token, len, FUZZ_SECRET, FUZZ_PREVIOUS, FUZZ_NOW, 30,
                                 (tg_token_type_t)type, &claims, &reason);
        if (rc != 0) {
            if (!reason || claims.jti || claims.sub || claims.groups)
                abort();
            continue;
        }
        if (claims.typ != (tg_token_type_t)type || !claims.jti)
            abort();
        char *again = tg_token_mint(&claims, FUZZ_SECRET);
        if (!again)
            abort(); /* verify accepted it, so mint must accept it too */
        tg_token_claims_t copy;
        if (tg_token_verify(again, strlen(again), FUZZ_SECRET, NULL, FUZZ_NOW, 30,
                            (tg_token_type_t)type, &copy, &reason) != 0)
            abort();
        if (!s_same(copy.sub, claims.sub) || !s_same(copy.name, claims.name) ||
            !s_same(copy.jti, claims.jti) || !s_same(copy.cid, claims.cid) ||
            copy.exp != claims.exp || copy.groups_count != claims.groups_count)
            abort();
        for (size_t i = 0; i < copy.groups_count; i++)
            if (!s_same(copy.groups[i], claims.groups[i]))
                abort();
        tg_token_claims_release(&copy);
        tg_token_claims_release(&claims);
        free(again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 3;
    const char *rest = (const char *)data + 1;
    size_t rest_len = size - 1;
    if (mode == 0) {
        s_check(rest, rest_len);
        return 0;
    }
    char *token = NULL;
    size_t len = 0;
    if (mode == 1) {
        char *part = tg_base64url_encode(rest, rest_len);
        if (part)
            token = s_sign(part, strlen(part), &len);
        free(part);
    } else
        token = s_sign(rest, rest_len, &len);
    if (token)
        s_check(token, len);
    free(token);
    return 0;
}
