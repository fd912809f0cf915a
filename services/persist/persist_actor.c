/*  persist_actor: the persist actor, see persist_actor.h.

    One thread, one tg_loop. This file owns the sockets, the database
    connection, the loop and the actor's life; what each router message
    does is persist_broker's, the router conversation persist_link's.
*/
#include "persist_actor.h"

#include <signal.h>
#include <unistd.h>

#include "persist_link.h"
#include "persist_store.h"
#include "tg_alloc.h"
#include "tg_envelope.h"
#include "tg_instance.h"
#include "tg_log.h"
#include "tg_loop.h"
#include "tg_monitor.h"
#include "tg_socket.h"

typedef struct {
    tg_config_t cfg;                /* our copy */
    char instance[TG_INSTANCE_MAX]; /* our id, the routing id at the router */
    zsock_t *router;                /* DEALER connected to cfg.router */
    tg_monitor_t *monitor;          /* the DEALER's socket events */
    persist_db_t *db;               /* the database connection */
    persist_store_t *store;         /* the batched store on db */
    persist_link_t *link;           /* the router conversation, on router */
    persist_broker_t *broker;       /* what each message does */
    tg_loop_t *loop;                /* the one loop of the thread */
    int db_fd;                      /* the fd registered with the loop, -1 = none */
    short db_events;                /* what it is registered for */
    int db_deadline;                /* the loop deadline that runs persist_db_tick */
    uint64_t monitor_drops;         /* MONITOR events the router link refused */
} persist_actor_t;

/* --- keeping the loop in step with the database socket ------------------ */

static void s_on_db(void *arg, int fd, short revents, tg_now_t now);

//  The fd changes at every reconnect, and POLLOUT is wanted only while
//  libpq has bytes to flush: bring the loop's registration up to date.
static void s_watch_db(persist_actor_t *self)
{
    int fd = persist_db_fd(self->db);
    short events = ZMQ_POLLIN | (persist_db_wants_write(self->db) ? ZMQ_POLLOUT : 0);
    if (fd != self->db_fd) {
        if (self->db_fd >= 0)
            tg_loop_remove_fd(self->loop, self->db_fd);
        self->db_fd = fd;
        if (fd >= 0)
            tg_loop_add_fd(self->loop, fd, events, s_on_db, self);
        self->db_events = events;
    } else if (fd >= 0 && events != self->db_events) {
        tg_loop_set_fd_events(self->loop, fd, events);
        self->db_events = events;
    }
}

//  After every handler: the next batch goes out (when none is in flight),
//  and the loop watches what the database needs.
static void s_after(persist_actor_t *self, tg_now_t now)
{
    persist_store_flush(self->store, now.mono_ms);
    s_watch_db(self);
    //  persist_db says when it next needs a tick (a reconnect's backoff, a
    //  connect timeout): the loop sleeps until then, not polling.
    int64_t due = persist_db_deadline(self->db);
    if (due == INT64_MAX)
        tg_loop_disarm(self->loop, self->db_deadline);
    else
        tg_loop_arm(self->loop, self->db_deadline, due);
}

/* --- the loop's handlers ------------------------------------------------ */

static void s_on_db(void *arg, int fd, short revents, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_turn(self->broker, now);
    if (revents & (ZMQ_POLLIN | ZMQ_POLLERR))
        persist_db_on_readable(self->db, now.mono_ms);
    if ((revents & ZMQ_POLLOUT) && persist_db_fd(self->db) == fd)
        persist_db_on_writable(self->db, now.mono_ms);
    s_after(self, now);
}

static void s_on_router(void *arg, zsock_t *sock, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_turn(self->broker, now);
    for (int i = 0; i < PERSIST_READ_BUDGET; i++) {
        if (!(zsock_events(sock) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        persist_link_on_message(self->link, &msg, now);
    }
    s_after(self, now);
}

//  Our socket's events go to the router as MONITOR (it publishes them for
//  telegraphy-ctl monitor). Dropped while the router is away (the DEALER
//  is immediate): counted.
static void s_on_monitor(void *arg, zsock_t *sock, tg_now_t now)
{
    (void)sock;
    persist_actor_t *self = arg;
    for (int i = 0; i < PERSIST_READ_BUDGET; i++) {
        tg_envelope_t *envelope = tg_monitor_recv(self->monitor, now.wall_us);
        if (!envelope)
            break;
        if (persist_link_send(self->link, envelope) != 0)
            self->monitor_drops++;
        tg_envelope_destroy(&envelope);
    }
}

static void s_on_heartbeat(void *arg, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_turn(self->broker, now);
    persist_link_heartbeat(self->link, now);
    persist_broker_tick(self->broker, now);
    s_after(self, now);
}

static void s_on_db_tick(void *arg, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_turn(self->broker, now);
    persist_db_tick(self->db, now.mono_ms);
    s_after(self, now);
}

static void s_on_expiry(void *arg, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_turn(self->broker, now);
    persist_broker_expire(self->broker, now);
    s_after(self, now);
}

//  A FAILED database (a newer schema, an unpreparable statement; persist_db
//  logged why) ends the process: SIGTERM to the process (kill, not raise:
//  main's sigwait takes only signals sent to the process or to its own
//  thread), and main asks persist_actor_db for the exit status. The other
//  states are logged by persist_db.
static void s_on_db_state(persist_db_state_t state, int64_t now_ms, void *arg)
{
    (void)now_ms;
    (void)arg;
    if (state == PERSIST_DB_FAILED)
        kill(getpid(), SIGTERM);
}

/* --- the link's callbacks ----------------------------------------------- */

static void s_link_message(void *arg, tg_envelope_t *envelope, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_on_message(self->broker, envelope, now);
}

static void s_link_welcome(void *arg, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_resync(self->broker, now);
}

static void s_link_stats(void *arg, tg_envelope_t *heartbeat, tg_now_t now)
{
    persist_actor_t *self = arg;
    persist_broker_add_stats(self->broker, heartbeat, persist_link_bad_input(self->link), now);
    persist_db_stats_t db;
    persist_db_stats(self->db, &db);
    tg_envelope_add_stat(heartbeat, "db_state", (int64_t)db.state);
    tg_envelope_add_stat(heartbeat, "db_ready", db.state == PERSIST_DB_READY);
    tg_envelope_add_stat(heartbeat, "db_reconnects", (int64_t)db.reconnects);
    tg_envelope_add_stat(heartbeat, "db_pending", (int64_t)db.pending);
    tg_envelope_add_stat(heartbeat, "commit_p50_ms", db.latency_p50_ms);
    tg_envelope_add_stat(heartbeat, "commit_p99_ms", db.latency_p99_ms);
    tg_envelope_add_stat(heartbeat, "commit_max_ms", db.latency_max_ms);
    tg_envelope_add_stat(heartbeat, "monitor_drops", (int64_t)self->monitor_drops);
}

/* --- commands from the owning thread ------------------------------------ */

//  The owner's questions (tg_actor_ask, answered by tg_loop): STATS is one
//  frame holding a persist_broker_stats_t; DB one frame
//  holding {state, backend pid}.
static size_t s_answer_stats(void *state, void *out, size_t out_size)
{
    persist_actor_t *self = state;
    tg_check(out_size >= sizeof(persist_broker_stats_t));
    persist_broker_stats_t stats;
    persist_broker_stats(self->broker, &stats);
    stats.bad_input += persist_link_bad_input(self->link);
    memcpy(out, &stats, sizeof stats);
    return sizeof stats;
}

static size_t s_answer_db(void *state, void *out, size_t out_size)
{
    persist_actor_t *self = state;
    int answer[2] = {(int)persist_db_state(self->db), persist_db_backend_pid(self->db)};
    tg_check(out_size >= sizeof answer);
    memcpy(out, answer, sizeof answer);
    return sizeof answer;
}

static const tg_actor_command_t s_commands[] = {{"STATS", s_answer_stats}, {"DB", s_answer_db}};

/* --- the actor class ---------------------------------------------------- */

static void s_destroy(void **state_p)
{
    persist_actor_t *self = *state_p;
    if (!self)
        return;
    //  The store's callbacks still reach the broker: it stops sending, the
    //  store answers everything it holds, then the rest goes.
    if (self->broker)
        persist_broker_stop(self->broker);
    persist_store_destroy(&self->store);
    persist_broker_destroy(&self->broker);
    persist_link_destroy(&self->link);
    if (self->db)
        persist_db_unwatch(self->db, s_on_db_state, self);
    persist_db_destroy(&self->db);
    tg_loop_destroy(&self->loop);
    tg_monitor_destroy(&self->monitor); //  before the socket it watches
    zsock_destroy(&self->router);
    free(self);
    *state_p = NULL;
}

//  Builds the socket, the database connection, store, link, broker and
//  loop; `args` is the caller's const tg_config_t * (copied). Returns the
//  state (the actor owns it), or NULL with the reason in error.
static void *s_create(zsock_t *pipe, const void *args, tg_actor_ready_t *ready, char *error,
                      size_t error_size)
{
    persist_actor_t *self = tg_new(persist_actor_t);
    self->cfg = *(const tg_config_t *)args;
    self->db_fd = -1;
    tg_instance_new("persist", self->instance, sizeof self->instance);
    const tg_config_t *cfg = &self->cfg;
    tg_now_t now = tg_clock_read(); //  the loop's first reading

    char reason[512];
    tg_socket_options_t link_options = {
        .hwm = cfg->hwm,
        .routing_id = self->instance,
        .immediate = true,
        .monitor = &self->monitor,
        .monitor_role = "persist",
        .monitor_instance = self->instance,
    };
    self->router = tg_socket_connect(ZMQ_DEALER, cfg->router, &link_options, reason, sizeof reason);
    if (!self->router) {
        snprintf(error, error_size, "persist: start_failed socket=router reason=\"%s\"", reason);
        goto err;
    }
    persist_db_config_t db_config = {.jitter_seed = (uint64_t)now.wall_us};
    self->db = persist_db_new(cfg->database_url, &db_config, reason, sizeof reason);
    if (!self->db) {
        snprintf(error, error_size, "persist: start_failed database reason=\"%s\"", reason);
        goto err;
    }
    persist_db_watch(self->db, s_on_db_state, self);
    persist_store_config_t store_config = {
        .backlog_max = cfg->backlog_max,
        .persistent_ttl_s = cfg->persistent_ttl,
    };
    self->store = persist_store_new(self->db, &store_config);
    persist_link_ops_t ops = {s_link_message, s_link_welcome, s_link_stats, self};
    self->link = persist_link_new(cfg, self->instance, self->router, &ops, now);
    self->broker = persist_broker_new(cfg, self->store, self->link, now);

    self->loop = tg_loop_new(pipe);
    tg_loop_set_commands(self->loop, s_commands, sizeof s_commands / sizeof s_commands[0], self,
                         "persist");
    tg_loop_add_socket(self->loop, self->router, s_on_router, self);
    tg_loop_add_socket(self->loop, tg_monitor_socket(self->monitor), s_on_monitor, self);
    tg_loop_add_timer(self->loop, cfg->heartbeat_ms, s_on_heartbeat, self);
    self->db_deadline = tg_loop_add_deadline(self->loop, s_on_db_tick, self);
    tg_loop_add_timer(self->loop, PERSIST_EXPIRE_INTERVAL_MS, s_on_expiry, self);

    tg_actor_ready_add(ready, "instance", self->instance);
    tg_actor_ready_add(ready, "router", cfg->router);
    return self;

err:;
    void *state = self;
    s_destroy(&state);
    return NULL;
}

//  Introduces us to the router, starts the first connection to the
//  database, then serves until $TERM.
static void s_run(void *state)
{
    persist_actor_t *self = state;
    tg_now_t now = tg_clock_read();
    persist_link_start(self->link);
    persist_broker_turn(self->broker, now);
    persist_db_tick(self->db, now.mono_ms);
    s_after(self, now);
    tg_loop_run(self->loop);
}

const tg_actor_class_t persist_actor_class = {"persist", s_create, s_run, s_destroy};

int persist_actor_stats(tg_actor_t *actor, persist_broker_stats_t *stats)
{
    assert(actor && stats);
    return tg_actor_ask(actor, "STATS", stats, sizeof *stats);
}

int persist_actor_db(tg_actor_t *actor, persist_db_state_t *state, int *backend_pid)
{
    assert(actor && state && backend_pid);
    int answer[2];
    if (tg_actor_ask(actor, "DB", answer, sizeof answer) != 0)
        return -1;
    *state = (persist_db_state_t)answer[0];
    *backend_pid = answer[1];
    return 0;
}
