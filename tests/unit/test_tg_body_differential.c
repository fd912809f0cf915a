/*  Differential test of tg_body_to_json() (issue 13): the direct writer
    against the jansson rendering it replaced (fuzz_body_json_reference.h).
    On every input, valid or not, both must give the same return code and,
    on success, the same bytes: every file of the fuzz corpora (and each of
    its prefixes and suffixes, which cut bodies short or start inside
    envelopes), a table of hand-made edge cases, every Unicode scalar value,
    random floats and random bodies from a fixed seed. Runs from the
    repository root, where the corpora are tests/fuzz/seeds/<target>/. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz_body_json_reference.h"

#define SEEDS_DIR "tests/fuzz/seeds"

/* Asserts that the writer and the reference agree on data[0..size) and
   returns their return code. */
static int s_agree(const void *data, size_t size, const char *what)
{
    char why[1024];
    int rc = -2;
    cr_assert_eq(s_body_json_compare(data, size, &rc, why, sizeof why), 0, "%s: %s", what, why);
    return rc;
}

/* A msgpack body under construction (msgpack-c's packer). */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} s_body_t;

static void s_body_init(s_body_t *b)
{
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

static void s_body_str(s_body_t *b, const char *s, size_t len)
{
    msgpack_pack_str_with_body(&b->pk, s, len);
}

/* {"k": <value>}: the map header and key, the caller packs the value. */
static void s_body_one(s_body_t *b)
{
    s_body_init(b);
    msgpack_pack_map(&b->pk, 1);
    s_body_str(b, "k", 1);
}

/* Checks the body built in b, expects rc, and frees it. */
static void s_body_check(s_body_t *b, int expected_rc, const char *what)
{
    char why[1024];
    int rc = -2;
    int verdict = s_body_json_compare(b->sbuf.data, b->sbuf.size, &rc, why, sizeof why);
    msgpack_sbuffer_destroy(&b->sbuf);
    cr_assert_eq(verdict, 0, "%s: %s", what, why);
    cr_assert_eq(rc, expected_rc, "%s: return code %d", what, rc);
}

/* Reads a whole file into a malloc'd buffer; caller frees. */
static uint8_t *s_read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    cr_assert_not_null(file, "cannot open %s", path);
    uint8_t *data = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            data = realloc(data, cap);
            cr_assert_not_null(data);
        }
        n = fread(data + len, 1, cap - len, file);
        len += n;
    } while (n > 0);
    fclose(file);
    *size = len;
    return data;
}

/* Every corpus file, each of its prefixes and each of its suffixes gives
   the same verdict and text; at least the fuzz_body seeds render. */
Test(tg_body_differential, agrees_on_every_fuzz_corpus_file_and_its_cuts)
{
    DIR *seeds = opendir(SEEDS_DIR);
    cr_assert_not_null(seeds, "run from the repository root: %s not found", SEEDS_DIR);
    size_t files = 0, rendered = 0;
    struct dirent *target;
    while ((target = readdir(seeds))) {
        if (target->d_name[0] == '.')
            continue;
        char folder[512];
        snprintf(folder, sizeof folder, "%s/%s", SEEDS_DIR, target->d_name);
        DIR *dir = opendir(folder);
        if (!dir)
            continue;
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
            size_t size = 0;
            uint8_t *data = s_read_file(path, &size);
            files++;
            if (s_agree(data, size, path) == 0)
                rendered++;
            for (size_t cut = 0; cut < size; cut++) {
                char what[1100];
                snprintf(what, sizeof what, "%s first %zu bytes", path, cut);
                s_agree(data, cut, what);
                snprintf(what, sizeof what, "%s from byte %zu", path, cut + 1);
                if (s_agree(data + cut + 1, size - cut - 1, what) == 0)
                    rendered++;
            }
            free(data);
        }
        closedir(dir);
    }
    closedir(seeds);
    cr_assert_geq(files, 50, "only %zu corpus files under %s", files, SEEDS_DIR);
    cr_assert_geq(rendered, 10, "only %zu inputs rendered", rendered);
}

/* One hand-made body: raw msgpack bytes and the return code both must
   give. */
typedef struct {
    const char *name;
    const char *bytes;
    size_t len;
    int rc;
} s_case_t;

#define CASE(name, bytes, rc)                                                                      \
    {                                                                                              \
        name, bytes, sizeof bytes - 1, rc                                                          \
    }
#define K "\x81\xa1k" /* {"k": the value follows */

static const s_case_t s_cases[] = {
    CASE("empty map", "\x80", 0),
    CASE("empty map16", "\xde\x00\x00", 0),
    CASE("empty map32", "\xdf\x00\x00\x00\x00", 0),
    CASE("empty array value", K "\x90", 0),
    CASE("empty array16 and 32",
         "\x82\xa1"
         "a\xdc\x00\x00\xa1"
         "b\xdd\x00\x00\x00\x00",
         0),
    CASE("empty input", "", -1),
    CASE("top-level array", "\x90", -1),
    CASE("top-level nil", "\xc0", -1),
    CASE("top-level string", "\xa1k", -1),
    CASE("trailing byte", "\x80\xc0", -1),
    CASE("truncated map", "\x81\xa1k", -1),
    CASE("truncated string",
         K "\xa3"
           "ab",
         -1),
    CASE("reserved byte c1", K "\xc1", -1),
    CASE("huge array count", K "\xdd\xff\xff\xff\xff\xc0", -1),
    CASE("huge map count", "\xdf\xff\xff\xff\xff", -1),
    CASE("huge str length", K "\xdb\xff\xff\xff\xff\x41", -1),
    CASE("huge bin length", K "\xc6\xff\xff\xff\xff\x41", -1),
    CASE("nil true false",
         "\x83\xa1n\xc0\xa1t\xc3\xa1"
         "f\xc2",
         0),
    CASE("positive fixint", K "\x7f", 0),
    CASE("negative fixint", K "\xe0", 0),
    CASE("uint8", K "\xcc\xff", 0),
    CASE("uint16", K "\xcd\xff\xff", 0),
    CASE("uint32", K "\xce\xff\xff\xff\xff", 0),
    CASE("uint64 INT64_MAX", K "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 0),
    CASE("uint64 INT64_MAX + 1", K "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", -1),
    CASE("uint64 max", K "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", -1),
    CASE("int8 min", K "\xd0\x80", 0),
    CASE("int16 min", K "\xd1\x80\x00", 0),
    CASE("int32 min", K "\xd2\x80\x00\x00\x00", 0),
    CASE("int64 min", K "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 0),
    CASE("int64 max", K "\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", 0),
    CASE("int8 positive", K "\xd0\x05", 0),
    CASE("int64 positive", K "\xd3\x00\x00\x00\x00\x00\x00\x00\x01", 0),
    CASE("float64 0.1", K "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a", 0),
    CASE("float64 -0.0", K "\xcb\x80\x00\x00\x00\x00\x00\x00\x00", 0),
    CASE("float64 NaN", K "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", -1),
    CASE("float64 -NaN", K "\xcb\xff\xf8\x00\x00\x00\x00\x00\x01", -1),
    CASE("float64 +inf", K "\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", -1),
    CASE("float64 -inf", K "\xcb\xff\xf0\x00\x00\x00\x00\x00\x00", -1),
    CASE("float32 0.1", K "\xca\x3d\xcc\xcc\xcd", 0),
    CASE("float32 -0.0", K "\xca\x80\x00\x00\x00", 0),
    CASE("float32 NaN", K "\xca\x7f\xc0\x00\x00", -1),
    CASE("float32 signalling NaN", K "\xca\x7f\x80\x00\x01", -1),
    CASE("float32 -inf", K "\xca\xff\x80\x00\x00", -1),
    CASE("float32 denormal", K "\xca\x00\x00\x00\x01", 0),
    CASE("truncated float64", K "\xcb\x3f\xb9", -1),
    CASE("str empty", K "\xa0", 0),
    CASE("str NUL",
         K "\xa3"
           "a\x00"
           "b",
         0),
    CASE("str controls", K "\xa8\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", 0),
    CASE("str quote backslash slash", K "\xa3\"\\/", 0),
    CASE("str U+2028 U+2029", K "\xa6\xe2\x80\xa8\xe2\x80\xa9", 0),
    CASE("str emoji", K "\xa4\xf0\x9f\x98\x80", 0),
    CASE("str U+FEFF U+FFFF", K "\xa6\xef\xbb\xbf\xef\xbf\xbf", 0),
    CASE("str U+10FFFF", K "\xa4\xf4\x8f\xbf\xbf", 0),
    CASE("str8",
         K "\xd9\x03"
           "abc",
         0),
    CASE("str16",
         K "\xda\x00\x03"
           "abc",
         0),
    CASE("str32",
         K "\xdb\x00\x00\x00\x03"
           "abc",
         0),
    CASE("str stray continuation", K "\xa1\x80", -1),
    CASE("str overlong slash", K "\xa2\xc0\xaf", -1),
    CASE("str overlong 3-byte", K "\xa3\xe0\x80\xaf", -1),
    CASE("str surrogate", K "\xa3\xed\xa0\x80", -1),
    CASE("str above U+10FFFF", K "\xa4\xf4\x90\x80\x80", -1),
    CASE("str truncated sequence", K "\xa2\xe2\x82", -1),
    CASE("str byte ff", K "\xa1\xff", -1),
    CASE("str byte f5", K "\xa4\xf5\x80\x80\x80", -1),
    CASE("bin empty", K "\xc4\x00", 0),
    CASE("bin 1", K "\xc4\x01\x00", 0),
    CASE("bin 2", K "\xc4\x02\xff\xfe", 0),
    CASE("bin 3", K "\xc4\x03\x01\x02\x03", 0),
    CASE("bin16", K "\xc5\x00\x04\xfb\xff\xbf\x00", 0),
    CASE("bin32", K "\xc6\x00\x00\x00\x01\x3f", 0),
    CASE("fixext1", K "\xd4\x01\x00", -1),
    CASE("msgpackr undefined", K "\xd4\x00\x00", -1),
    CASE("fixext16",
         K "\xd8\x01"
           "0123456789abcdef",
         -1),
    CASE("ext8", K "\xc7\x01\x05\x00", -1),
    CASE("ext8 empty", K "\xc7\x00\x05", -1),
    CASE("key empty", "\x81\xa0\x01", 0),
    CASE("key controls and unicode", "\x81\xa6\x0a\"\xc3\xa9\\/\x01", 0),
    CASE("key str8", "\x81\xd9\x01k\x01", 0),
    CASE("key with NUL",
         "\x81\xa2"
         "a\x00\x01",
         -1),
    CASE("key invalid UTF-8", "\x81\xa1\xff\x01", -1),
    CASE("key integer", "\x81\x01\x02", -1),
    CASE("key nil", "\x81\xc0\x02", -1),
    CASE("key bin", "\x81\xc4\x01k\x02", -1),
    CASE("key float", "\x81\xca\x00\x00\x00\x00\x02", -1),
    CASE("key array", "\x81\x91\xa1k\x02", -1),
    CASE("key map", "\x81\x80\x02", -1),
    CASE("nested key integer", K "\x81\x01\x02", -1),
    CASE("duplicate key",
         "\x82\xa1"
         "a\x01\xa1"
         "a\x02",
         -1),
    CASE("duplicate key, two encodings",
         "\x82\xa1"
         "a\x01\xd9\x01"
         "a\x02",
         -1),
    CASE("keys that are prefixes",
         "\x83\xa1"
         "a\x01\xa2"
         "ab\x02\xa0\x03",
         0),
    CASE("nested duplicate key",
         K "\x82\xa1"
           "a\x01\xa1"
           "a\x02",
         -1),
    CASE("same key in two maps",
         "\x82\xa1"
         "a\x81\xa1"
         "a\x01\xa1"
         "b\x81\xa1"
         "a\x02",
         0),
    CASE("nesting",
         "\x81\xa1"
         "a\x82\xa1"
         "b\x92\x01\x91\x02\xa1"
         "c\x80",
         0),
};

/* Each hand-made edge case gives the expected return code, the same from
   both, and the same text. */
Test(tg_body_differential, agrees_on_hand_made_edge_cases)
{
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        int rc = s_agree(s_cases[i].bytes, s_cases[i].len, s_cases[i].name);
        cr_assert_eq(rc, s_cases[i].rc, "%s: return code %d", s_cases[i].name, rc);
    }
    int rc = s_agree(NULL, 0, "NULL data");
    cr_assert_eq(rc, -1);
}

/* Floats, 64- and 32-bit, at the values whose texts differ in form
   (integral, exponent, denormal, longest) and non-finite ones. */
Test(tg_body_differential, agrees_on_float_edge_cases)
{
    static const double doubles[] = {
        0.1,
        1.0,
        -0.0,
        0.0,
        1e300,
        -1e300,
        1e-5,
        1e16,
        1e17,
        1e22,
        1e23,
        5e-324,
        -5e-324,
        DBL_MIN,
        -DBL_MIN,
        DBL_MAX,
        -DBL_MAX,
        DBL_EPSILON,
        0.3,
        100.0,
        123456789.0,
        9007199254740993.0,
        -2.2250738585072014e-308,
        -1.2345678901234567e-100,
        1e-7,
        2.5,
    };
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        s_body_t b;
        s_body_one(&b);
        msgpack_pack_double(&b.pk, doubles[i]);
        s_body_check(&b, 0, "double");
        s_body_one(&b);
        float narrow = (float)doubles[i]; /* DBL_MAX and 1e300 become infinite */
        msgpack_pack_float(&b.pk, narrow);
        s_body_check(&b, isfinite(narrow) ? 0 : -1, "float");
    }
    static const double non_finite[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        s_body_t b;
        s_body_one(&b);
        msgpack_pack_double(&b.pk, non_finite[i]);
        s_body_check(&b, -1, "non-finite double");
        s_body_one(&b);
        msgpack_pack_float(&b.pk, (float)non_finite[i]);
        s_body_check(&b, -1, "non-finite float");
    }
}

/* {"k": [[...]]}: the top map and `arrays` nested arrays, the innermost
   holding `inner` (an empty array when NULL). */
static void s_nested(s_body_t *b, int arrays, const char *inner, size_t inner_len)
{
    s_body_one(b);
    for (int i = 0; i < arrays; i++)
        msgpack_pack_array(&b->pk, i + 1 < arrays || inner ? 1 : 0);
    if (inner)
        msgpack_sbuffer_write(&b->sbuf, inner, inner_len);
}

/* Nesting at the limit (32 containers, the top map included) renders,
   with an empty or a non-empty innermost container; one more is refused,
   also as a map. */
Test(tg_body_differential, agrees_on_nesting_at_and_over_the_limit)
{
    s_body_t b;
    s_nested(&b, TG_BODY_MAX_DEPTH - 1, NULL, 0);
    s_body_check(&b, 0, "31 arrays, innermost empty");
    s_nested(&b, TG_BODY_MAX_DEPTH - 2, "\x92\x01\xa1x", 4);
    s_body_check(&b, 0, "31 arrays, innermost holding scalars");
    s_nested(&b, TG_BODY_MAX_DEPTH - 2, "\x81\xa1x\x01", 4);
    s_body_check(&b, 0, "30 arrays and a map");
    s_nested(&b, TG_BODY_MAX_DEPTH, NULL, 0);
    s_body_check(&b, -1, "32 arrays");
    s_nested(&b, TG_BODY_MAX_DEPTH - 1, "\x80", 1);
    s_body_check(&b, -1, "31 arrays and an empty map");
    s_nested(&b, 1000, NULL, 0);
    s_body_check(&b, -1, "1000 arrays");
    s_body_init(&b);
    for (int i = 0; i < TG_BODY_MAX_DEPTH; i++) {
        msgpack_pack_map(&b.pk, 1);
        s_body_str(&b, "m", 1);
    }
    msgpack_pack_nil(&b.pk);
    s_body_check(&b, 0, "32 maps");
    s_body_init(&b);
    for (int i = 0; i <= TG_BODY_MAX_DEPTH; i++) {
        msgpack_pack_map(&b.pk, 1);
        s_body_str(&b, "m", 1);
    }
    msgpack_pack_nil(&b.pk);
    s_body_check(&b, -1, "33 maps");
}

/* Maps around the size where duplicate detection changes method (16
   pairs): distinct keys render in order, a repeated key anywhere (first
   and last, neighbours, in a nested map) is refused. */
Test(tg_body_differential, agrees_on_large_maps_with_and_without_duplicates)
{
    static const uint32_t sizes[] = {15, 16, 17, 40, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        for (int dup = 0; dup < 4; dup++) {
            s_body_t b;
            s_body_init(&b);
            if (dup == 3) { /* the map is a value of the top map */
                msgpack_pack_map(&b.pk, 1);
                s_body_str(&b, "outer", 5);
            }
            msgpack_pack_map(&b.pk, n);
            for (uint32_t i = 0; i < n; i++) {
                uint32_t k = i;
                if (dup == 1 && i == n - 1)
                    k = 0; /* last repeats first */
                if ((dup == 2 || dup == 3) && i == n / 2)
                    k = i - 1; /* neighbours */
                char key[16];
                int len = snprintf(key, sizeof key, "k%u", (unsigned)(k * 7919 % 100003));
                s_body_str(&b, key, (size_t)len);
                msgpack_pack_uint32(&b.pk, i);
            }
            char what[64];
            snprintf(what, sizeof what, "%u pairs, case %d", (unsigned)n, dup);
            s_body_check(&b, dup ? -1 : 0, what);
        }
    }
}

/* Every Unicode scalar value, 256 to a string (surrogates apart, which
   UTF-8 cannot carry and both refuse), as a value and as a key. */
Test(tg_body_differential, agrees_on_every_unicode_scalar_value)
{
    char text[256 * 4];
    for (uint32_t block = 0; block < 0x110000; block += 256) {
        size_t len = 0;
        for (uint32_t cp = block; cp < block + 256; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            if (cp < 0x80) {
                text[len++] = (char)cp;
            } else if (cp < 0x800) {
                text[len++] = (char)(0xC0 | cp >> 6);
                text[len++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                text[len++] = (char)(0xE0 | cp >> 12);
                text[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
                text[len++] = (char)(0x80 | (cp & 0x3F));
            } else {
                text[len++] = (char)(0xF0 | cp >> 18);
                text[len++] = (char)(0x80 | (cp >> 12 & 0x3F));
                text[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
                text[len++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        s_body_t b;
        s_body_one(&b);
        s_body_str(&b, text, len);
        s_body_check(&b, 0, "string");
        if (block == 0)
            continue; /* U+0000 is refused in keys: the case table has it */
        s_body_init(&b);
        msgpack_pack_map(&b.pk, 1);
        s_body_str(&b, text, len);
        msgpack_pack_nil(&b.pk);
        s_body_check(&b, 0, "key");
    }
    for (uint32_t cp = 0xD800; cp <= 0xDFFF; cp += 0x7F) {
        char surrogate[3] = {(char)(0xE0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3F)),
                             (char)(0x80 | (cp & 0x3F))};
        s_body_t b;
        s_body_one(&b);
        s_body_str(&b, surrogate, 3);
        s_body_check(&b, -1, "surrogate");
    }
}

/* xorshift64*: the same sequence on every machine. */
static uint64_t s_state = 0x9e3779b97f4a7c15ULL;
static uint64_t s_rand(void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545f4914f6cdd1dULL;
}

/* 20000 random bit patterns as float64 and as float32: the texts agree
   (and the non-finite ones are refused by both). */
Test(tg_body_differential, agrees_on_random_floats)
{
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = s_rand();
        char raw[12] = "\x81\xa1k\xcb";
        for (int k = 0; k < 8; k++)
            raw[4 + k] = (char)(bits >> (56 - 8 * k));
        s_agree(raw, 12, "float64");
        raw[3] = (char)0xca;
        s_agree(raw, 8, "float32");
    }
}

/* Appends a random value (depth containers above it) to b: mostly valid
   values, with now and then a broken rule (a repeated or non-string key,
   invalid UTF-8, an integer above INT64_MAX, NaN, an ext, too deep). */
static void s_random_value(s_body_t *b, int depth)
{
    static const char *strings[] = {
        "",    "a", "caf\xc3\xa9", "\"q\"\\/", "\n\t\x01\x7f", "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
        "a\0b"};
    static const size_t lengths[] = {0, 1, 5, 6, 4, 3, 4, 3};
    uint64_t r = s_rand();
    int pick = (int)(r % (depth < 4 ? 16 : 12));
    bool rare = (r >> 8) % 200 == 0; /* break a rule */
    switch (pick) {
    case 0:
        msgpack_pack_nil(&b->pk);
        break;
    case 1:
        if ((r >> 16) & 1)
            msgpack_pack_true(&b->pk);
        else
            msgpack_pack_false(&b->pk);
        break;
    case 2:
        msgpack_pack_int64(&b->pk, (int64_t)(r >> (1 + (r >> 20) % 63)) * ((r >> 30) & 1 ? -1 : 1));
        break;
    case 3:
        if (rare)
            msgpack_pack_uint64(&b->pk, (uint64_t)INT64_MAX + 1 + (r >> 40));
        else
            msgpack_pack_uint64(&b->pk, r >> (1 + (r >> 20) % 63));
        break;
    case 4: {
        double value;
        uint64_t bits = s_rand();
        memcpy(&value, &bits, sizeof value);
        if (!isfinite(value) && !rare)
            value = (double)(int64_t)bits / 1e3;
        msgpack_pack_double(&b->pk, value);
        break;
    }
    case 5:
        msgpack_pack_float(&b->pk, (float)((double)(int32_t)r / 7.0));
        break;
    case 6:
    case 7: {
        size_t i = (r >> 16) % 8;
        if (rare)
            msgpack_pack_str_with_body(&b->pk, "\xc0\xaf", 2);
        else
            msgpack_pack_str_with_body(&b->pk, strings[i], lengths[i]);
        break;
    }
    case 8: {
        uint8_t bytes[7];
        size_t len = (r >> 16) % 8;
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)(r >> (8 * i));
        msgpack_pack_bin_with_body(&b->pk, bytes, len);
        break;
    }
    case 9:
        if (rare)
            msgpack_pack_ext_with_body(&b->pk, "\x00", 1, 0);
        else
            msgpack_pack_int8(&b->pk, (int8_t)r);
        break;
    case 10:
    case 11:
        msgpack_pack_str_with_body(&b->pk, "x", 1);
        break;
    default: { /* a container */
        uint32_t n = (uint32_t)((r >> 16) % (depth < 2 ? 20 : 5));
        if (pick % 2) {
            msgpack_pack_array(&b->pk, n);
            for (uint32_t i = 0; i < n; i++)
                s_random_value(b, depth + 1);
        } else {
            msgpack_pack_map(&b->pk, n);
            for (uint32_t i = 0; i < n; i++) {
                char key[16];
                int len = snprintf(key, sizeof key, "f%u", (unsigned)(rare ? 0 : i));
                if (rare && i == 1 && (r >> 50) % 2)
                    msgpack_pack_int(&b->pk, 1);
                else
                    s_body_str(b, key, (size_t)len);
                s_random_value(b, depth + 1);
            }
        }
    }
    }
}

/* 5000 random bodies from a fixed seed: the same verdict and the same
   text; most of them render. */
Test(tg_body_differential, agrees_on_random_bodies)
{
    int rendered = 0;
    for (int i = 0; i < 5000; i++) {
        s_body_t b;
        s_body_init(&b);
        uint32_t n = (uint32_t)(s_rand() % 24);
        msgpack_pack_map(&b.pk, n);
        for (uint32_t k = 0; k < n; k++) {
            char key[16];
            int len = snprintf(key, sizeof key, "field_%u", (unsigned)k);
            s_body_str(&b, key, (size_t)len);
            s_random_value(&b, 1);
        }
        if (s_agree(b.sbuf.data, b.sbuf.size, "random body") == 0)
            rendered++;
        msgpack_sbuffer_destroy(&b.sbuf);
    }
    cr_assert_gt(rendered, 3000, "only %d of 5000 rendered", rendered);
}
