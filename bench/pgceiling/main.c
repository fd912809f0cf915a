/*  telegraphy-pgceiling: the ceiling of this machine's PostgreSQL for the
    rows a guaranteed event costs (W5 of bench/run.py).

    A minimal libpq client writes what telegraphy-persist writes for one
    guaranteed event matching one persistent subscription: one event row
    (pub_id, topic, ts, expiry, header bytes, body bytes) and one delivery
    row, `batch` events per transaction, synchronous_commit on (the
    server's default, as persist leaves it), pipelined: BEGIN, the inserts,
    COMMIT and one sync per batch, one batch in flight. What it reaches is
    the most persist could reach on the same server; the ratio of the two is
    what persist's own work costs.

    Usage: telegraphy-pgceiling URI SECONDS BATCH BODY_BYTES
    Prints one JSON object: events_per_s, batches, commit_p50_ms,
    commit_p99_ms. Uses its own tables (pgceiling_*), dropped at the end.
*/
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_SAMPLES 200000

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "pgceiling: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return ok ? 0 : -1;
}

static int s_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reads every result of one pipelined batch up to its sync. 0, or -1 on
   any failed statement. */
static int s_drain(PGconn *conn)
{
    int rc = 0;
    for (;;) {
        PGresult *res = PQgetResult(conn);
        if (!res)
            continue; /* end of one statement's results */
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            return rc;
        }
        if (status != PGRES_COMMAND_OK) {
            fprintf(stderr, "pgceiling: %s", PQresultErrorMessage(res));
            rc = -1;
        }
        PQclear(res);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: telegraphy-pgceiling URI SECONDS BATCH BODY_BYTES\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    int batch = atoi(argv[3]);
    int body_bytes = atoi(argv[4]);
    if (seconds <= 0 || batch < 1 || body_bytes < 1) {
        fprintf(stderr, "pgceiling: SECONDS, BATCH and BODY_BYTES must be positive\n");
        return 2;
    }
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pgceiling: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    if (s_exec(conn, "SET client_min_messages = warning") ||
        s_exec(conn, "DROP TABLE IF EXISTS pgceiling_deliveries, pgceiling_events") ||
        s_exec(conn, "CREATE TABLE pgceiling_events (pub_id bigint PRIMARY KEY, topic text NOT "
                     "NULL, ts_us bigint NOT NULL, expires_at_us bigint NOT NULL, guaranteed "
                     "boolean NOT NULL, header bytea NOT NULL, body bytea NOT NULL)") ||
        s_exec(conn, "CREATE TABLE pgceiling_deliveries (sub_key bigint NOT NULL, pub_id bigint "
                     "NOT NULL, PRIMARY KEY (sub_key, pub_id))") ||
        s_exec(conn, "CREATE INDEX ON pgceiling_deliveries (pub_id)")) {
        PQfinish(conn);
        return 1;
    }
    PGresult *prep = PQprepare(conn, "event",
                               "INSERT INTO pgceiling_events VALUES ($1::bigint, $2, $3::bigint, "
                               "0, true, $4::bytea, $5::bytea)",
                               0, NULL);
    PQclear(prep);
    prep = PQprepare(conn, "delivery", "INSERT INTO pgceiling_deliveries VALUES (1, $1::bigint)", 0,
                     NULL);
    PQclear(prep);

    char *body = calloc(1, (size_t)body_bytes);
    memset(body, 'x', (size_t)body_bytes);
    const char header[] = "header-bytes-of-an-event-envelope";
    int64_t *samples = calloc(S_MAX_SAMPLES, sizeof(int64_t));
    size_t sample_count = 0;
    PQenterPipelineMode(conn);
    uint64_t pub_id = 0;
    int64_t started = s_now_us();
    int64_t deadline = started + (int64_t)(seconds * 1e6);
    uint64_t batches = 0;
    int rc = 0;
    while (s_now_us() < deadline) {
        int64_t batch_start = s_now_us();
        PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
        for (int i = 0; i < batch; i++) {
            char id[24], ts[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)++pub_id);
            snprintf(ts, sizeof ts, "%lld", (long long)batch_start);
            const char *event_params[5] = {id, "bench.topic", ts, header, body};
            int lengths[5] = {0, 0, 0, (int)sizeof header - 1, body_bytes};
            int formats[5] = {0, 0, 0, 1, 1};
            PQsendQueryPrepared(conn, "event", 5, event_params, lengths, formats, 0);
            const char *delivery_params[1] = {id};
            PQsendQueryPrepared(conn, "delivery", 1, delivery_params, NULL, NULL, 0);
        }
        PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
        PQpipelineSync(conn);
        if (s_drain(conn) != 0) {
            rc = 1;
            break;
        }
        batches++;
        if (sample_count < S_MAX_SAMPLES)
            samples[sample_count++] = s_now_us() - batch_start;
    }
    double elapsed = (double)(s_now_us() - started) / 1e6;
    PQexitPipelineMode(conn);
    s_exec(conn, "DROP TABLE IF EXISTS pgceiling_deliveries, pgceiling_events");
    PQfinish(conn);
    qsort(samples, sample_count, sizeof(int64_t), s_compare);
    double p50 = sample_count ? (double)samples[sample_count / 2] / 1000 : 0;
    double p99 = sample_count ? (double)samples[(sample_count * 99) / 100] / 1000 : 0;
    printf("{\"events_per_s\": %.1f, \"batches\": %llu, \"batch\": %d, \"commit_p50_ms\": %.3f, "
           "\"commit_p99_ms\": %.3f, \"seconds\": %.2f}\n",
           (double)pub_id / elapsed, (unsigned long long)batches, batch, p50, p99, elapsed);
    free(samples);
    free(body);
    return rc;
}
