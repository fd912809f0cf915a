/*  tg_subkey: see tg_subkey.h. */
#include "tg_subkey.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "tg_alloc.h"

void tg_subkey_make(tg_subkey_t *key, tg_match_t match, const char *topic, const char *filter)
{
    const char *match_name = tg_match_name(match);
    size_t name_len = strlen(match_name), topic_len = strlen(topic);
    size_t filter_len = filter ? strlen(filter) : 0;
    key->len = name_len + 1 + topic_len + 1 + filter_len;
    key->bytes = tg_malloc(key->len);
    memcpy(key->bytes, match_name, name_len + 1);
    memcpy(key->bytes + name_len + 1, topic, topic_len + 1);
    if (filter_len)
        memcpy(key->bytes + name_len + 1 + topic_len + 1, filter, filter_len);
}

void tg_subkey_clear(tg_subkey_t *key)
{
    free(key->bytes);
    key->bytes = NULL;
    key->len = 0;
}

bool tg_subkey_equal(const tg_subkey_t *a, const tg_subkey_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

uint64_t tg_subkey_digest(const void *bytes, size_t len, uint32_t counter)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char suffix[16];
    int suffix_len = counter ? snprintf(suffix, sizeof suffix, "%c%u", 0, counter) : 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, bytes, len) == 1 &&
              EVP_DigestUpdate(ctx, suffix, (size_t)suffix_len) == 1 &&
              EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1 && digest_len >= 8;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return 0;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | digest[i];
    /* A raw 0 is made impossible so that 0 only ever means "digest failed". */
    return id ? id : 1;
}

uint64_t tg_subkey_id(const tg_subkey_t *key, uint32_t counter)
{
    uint64_t raw = tg_subkey_digest(key->bytes, key->len, counter);
    if (raw == 0)
        return 0;
    uint64_t id = raw & TG_SUBKEY_ID_MASK;
    return id ? id : 1;
}
