/*  bench_query: the router's filter index against a linear scan (issue 5).

    `make bench-query` builds this with -O2 from the plain build and runs it:

      equality  100,000 subscriptions on one topic, `user_id == N` for
                N = 0..99,999;
      mixed     90,000 `user_id == N` and 10,000 `score > N` (no equality
                path: indexed by bound in the range arrays).

    Every event is {"user_id": N, "score": -1, "text": "hello"} with N drawn
    from the subscribed ids, so it matches exactly one subscription (score
    -1 passes no `score > N`, N >= 0). Measured in one run, on one core:

      indexed   router_index_match() over pre-built events, matches/s over a
                timed loop; then p50/p99 of single calls timed one by one
                (clock_gettime on both sides: its ~20 ns are included);
      linear    the same compiled filters (the index's own tg_query_t
                pointers), every one evaluated per event, the body's framing
                checked once per event as the index does (a fair baseline:
                tg_query_match would re-check it per filter);
      memory    router_index_memory() per subscription: every byte the index
                asks malloc for (structs, nodes, tables, topic and path
                copies) plus tg_query_memory() of each filter; the heap's
                own growth (mallinfo2, allocator overhead included) is
                printed beside it as a cross-check.

    Prints a table and writes the JSON given as argv[1] (default
    bench/results/query.json). Bounded: every loop stops on a clock (about
    15 s in all on this machine).
*/
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router_index.h"
#include "tg_msgpack_frame.h"
#include "tg_query.h"

/* Overridable (-D) only to smoke-test the program itself quickly. */
#ifndef SUBSCRIPTIONS
#define SUBSCRIPTIONS 100000
#endif
#ifndef SECONDS
#define SECONDS 2.0 /* each timed loop: indexed throughput, linear scan */
#endif
#define EVENTS            65536 /* distinct pre-built bodies, reused in a cycle */
#define BODY_MAX          64    /* bytes of one body */
#define INDEXED_SECONDS   SECONDS
#define LATENCY_SAMPLES   200000        /* single calls timed one by one, at most... */
#define LATENCY_SECONDS   (SECONDS / 2) /* ...and for at most this long */
#define LINEAR_SECONDS    SECONDS
#define CLOCK_EVERY       256 /* events between two clock reads in a timed loop */
#define LINEAR_MAX_EVENTS 5000
#define TOPIC             "bench.event"

typedef struct {
    const char *name;
    size_t ranges; /* `score > N` subscriptions among SUBSCRIPTIONS */
    double indexed_per_s, linear_per_s, speedup, p50_us, p99_us, bytes_per_sub, heap_per_sub;
    size_t linear_events, latency_samples;
} result_t;

static int s_edge; /* the one edge holding every subscription */

static uint64_t s_state = 0x2545f4914f6cdd1dULL;
static uint64_t s_rand(void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545f4914f6cdd1dULL;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* {"user_id": id, "score": -1, "text": "hello"} in msgpack; returns its
   length. */
static size_t s_body(uint8_t *out, uint32_t id)
{
    size_t n = 0;
    out[n++] = 0x83;
    out[n++] = 0xa7;
    memcpy(out + n, "user_id", 7);
    n += 7;
    out[n++] = 0xce; /* uint32, big-endian */
    out[n++] = (uint8_t)(id >> 24);
    out[n++] = (uint8_t)(id >> 16);
    out[n++] = (uint8_t)(id >> 8);
    out[n++] = (uint8_t)id;
    out[n++] = 0xa5;
    memcpy(out + n, "score", 5);
    n += 5;
    out[n++] = 0xff; /* negative fixint -1 */
    out[n++] = 0xa4;
    memcpy(out + n, "text", 4);
    n += 4;
    out[n++] = 0xa5;
    memcpy(out + n, "hello", 5);
    n += 5;
    return n;
}

static void s_count(const router_sub_t *sub, void *arg)
{
    (void)sub;
    (*(size_t *)arg)++;
}

static int s_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void s_run(result_t *result)
{
    static uint8_t bodies[EVENTS][BODY_MAX];
    static size_t lens[EVENTS];
    static const tg_query_t *filters[SUBSCRIPTIONS];
    static double samples[LATENCY_SAMPLES];
    size_t equalities = SUBSCRIPTIONS - result->ranges;

    struct mallinfo2 heap_before = mallinfo2();
    router_index_t *index = router_index_new();
    size_t empty = router_index_memory(index);
    tg_query_limits_t limits = TG_QUERY_DEFAULT_LIMITS;
    for (size_t i = 0; i < SUBSCRIPTIONS; i++) {
        char text[64];
        if (i < equalities)
            snprintf(text, sizeof text, "user_id == %zu", i);
        else
            snprintf(text, sizeof text, "score > %zu", i - equalities);
        tg_query_error_t error;
        tg_query_t *query = tg_query_parse(text, strlen(text), &limits, &error);
        uint64_t id = 0;
        if (!query || router_index_add(index, TG_MATCH_EXACT, TOPIC, &query, &s_edge, &id) != 0) {
            fprintf(stderr, "bench_query: cannot subscribe %s\n", text);
            exit(1);
        }
        filters[i] = router_index_lookup(index, id)->query;
    }
    result->bytes_per_sub = (double)(router_index_memory(index) - empty) / SUBSCRIPTIONS;
    struct mallinfo2 heap_after = mallinfo2();
    result->heap_per_sub = (double)(heap_after.uordblks + heap_after.hblkhd - heap_before.uordblks -
                                    heap_before.hblkhd) /
                           SUBSCRIPTIONS;

    for (size_t e = 0; e < EVENTS; e++)
        lens[e] = s_body(bodies[e], (uint32_t)(s_rand() % equalities));

    /* Indexed throughput: CLOCK_EVERY events between clock reads. */
    size_t matches = 0, events = 0;
    double start = s_now(), elapsed = 0;
    while (elapsed < INDEXED_SECONDS) {
        for (size_t n = 0; n < CLOCK_EVERY; n++, events++) {
            size_t e = events % EVENTS;
            router_index_match(index, TOPIC, sizeof TOPIC - 1, bodies[e], lens[e], s_count,
                               &matches);
        }
        elapsed = s_now() - start;
    }
    if (matches != events) {
        fprintf(stderr, "bench_query: %zu matches for %zu events (expected one each)\n", matches,
                events);
        exit(1);
    }
    result->indexed_per_s = (double)matches / elapsed;

    /* Latency of single calls. */
    size_t taken = 0;
    double latency_end = s_now() + LATENCY_SECONDS;
    while (taken < LATENCY_SAMPLES) {
        size_t e = taken % EVENTS;
        double t0 = s_now();
        router_index_match(index, TOPIC, sizeof TOPIC - 1, bodies[e], lens[e], s_count, &matches);
        double t1 = s_now();
        samples[taken++] = (t1 - t0) * 1e6;
        if (t1 > latency_end)
            break;
    }
    qsort(samples, taken, sizeof *samples, s_compare_double);
    result->p50_us = samples[taken / 2];
    result->p99_us = samples[taken * 99 / 100];
    result->latency_samples = taken;

    /* Linear scan of the same compiled filters. */
    matches = 0;
    events = 0;
    start = s_now();
    elapsed = 0;
    while (elapsed < LINEAR_SECONDS && events < LINEAR_MAX_EVENTS) {
        size_t e = events % EVENTS;
        if (tg_msgpack_frame_check(bodies[e], lens[e], TG_MSGPACK_FRAME_MAX_DEPTH, false, NULL,
                                   0) == 0)
            for (size_t i = 0; i < SUBSCRIPTIONS; i++)
                matches += tg_query_match_trusted(filters[i], bodies[e], lens[e]);
        events++;
        elapsed = s_now() - start;
    }
    if (matches != events) {
        fprintf(stderr, "bench_query: linear scan found %zu matches for %zu events\n", matches,
                events);
        exit(1);
    }
    result->linear_per_s = (double)matches / elapsed;
    result->linear_events = events;
    result->speedup = result->indexed_per_s / result->linear_per_s;
    router_index_destroy(&index);
}

static void s_json_variant(FILE *out, const result_t *r, bool last)
{
    fprintf(out,
            "  \"%s\": {\"indexed_matches_per_s\": %.0f, \"linear_matches_per_s\": %.1f, "
            "\"speedup\": %.1f, \"p50_us\": %.3f, \"p99_us\": %.3f, "
            "\"index_bytes_per_sub\": %.1f}%s\n",
            r->name, r->indexed_per_s, r->linear_per_s, r->speedup, r->p50_us, r->p99_us,
            r->bytes_per_sub, last ? "" : ",");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "bench/results/query.json";
    result_t results[] = {{.name = "equality", .ranges = 0},
                          {.name = "mixed", .ranges = SUBSCRIPTIONS / 10}};
    size_t count = sizeof results / sizeof results[0];
    for (size_t i = 0; i < count; i++)
        s_run(&results[i]);

    printf("%d subscriptions on one topic; each event matches one of them\n\n", SUBSCRIPTIONS);
    printf("%-9s %15s %14s %9s %8s %8s %12s %11s\n", "variant", "indexed match/s", "linear match/s",
           "speedup", "p50 us", "p99 us", "index B/sub", "heap B/sub");
    for (size_t i = 0; i < count; i++) {
        const result_t *r = &results[i];
        printf("%-9s %15.0f %14.1f %8.0fx %8.3f %8.3f %12.1f %11.1f\n", r->name, r->indexed_per_s,
               r->linear_per_s, r->speedup, r->p50_us, r->p99_us, r->bytes_per_sub,
               r->heap_per_sub);
    }
    printf("\ntargets (equality): >= 100x linear, >= 1,000,000 matches/s, <= 200 index B/sub\n");
    printf("linear scan: %zu and %zu events timed; latency: %zu and %zu calls timed\n",
           results[0].linear_events, results[1].linear_events, results[0].latency_samples,
           results[1].latency_samples);

    FILE *out = fopen(path, "w");
    if (!out) {
        perror(path);
        return 1;
    }
    fprintf(out, "{\n");
    for (size_t i = 0; i < count; i++)
        s_json_variant(out, &results[i], i + 1 == count);
    fprintf(out, "}\n");
    fclose(out);
    printf("written to %s\n", path);
    return 0;
}
