/*  persist_store_op: one operation of persist_store, as queued: private to
    the store (persist_store.c sends and answers them, persist_store_ops.c
    makes them from the public calls). Not for other modules.

    Lifetime: made by persist_op_new at enqueue, freed by persist_op_destroy
    in persist_store.c right after its one callback.
*/
#ifndef PERSIST_STORE_OP_H
#define PERSIST_STORE_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist_store.h"

#define PERSIST_PARAMS_MAX 8

typedef enum {
    PERSIST_OP_EVENT = 0,
    PERSIST_OP_ACK,
    PERSIST_OP_ACK_UPTO,
    PERSIST_OP_SUB_UPSERT,
    PERSIST_OP_SUB_DELETE,
    PERSIST_OP_SUB_TOUCH,
    PERSIST_OP_TYPE,
    PERSIST_OP_TOKEN,
    PERSIST_OP_MARK,
    PERSIST_OP_EXPIRE,
    /* reads from here on */
    PERSIST_OP_LOAD_TYPES,
    PERSIST_OP_LOAD_TOKENS,
    PERSIST_OP_LOAD_SUBS,
    PERSIST_OP_BACKLOG,
    PERSIST_OP_RETAINED,
    PERSIST_OP_GAP_SUB,
    PERSIST_OP_GAP_TOPIC,
    PERSIST_OP_TOTALS
} persist_op_kind_t;

#define PERSIST_OP_IS_READ(kind) ((kind) >= PERSIST_OP_LOAD_TYPES)

//  The parameters of one statement, rendered at enqueue (owned).
typedef struct {
    int count;
    char *values[PERSIST_PARAMS_MAX];
    int lengths[PERSIST_PARAMS_MAX];
    int formats[PERSIST_PARAMS_MAX]; /* 0 text, 1 binary (bytea) */
} persist_params_t;

typedef struct persist_op persist_op_t;
struct persist_op {
    persist_op_kind_t kind;    /* what it is */
    int statement;             /* its statement (PERSIST_ST_*), for all but PERSIST_OP_EXPIRE */
    persist_params_t params;   /* its parameters */
    persist_store_done_fn *fn; /* its one callback */
    void *arg;                 /* fn's argument */
    uint64_t pub_id;           /* PERSIST_OP_EVENT: for the delivery rows */
    bool guaranteed;           /* PERSIST_OP_EVENT */
    uint64_t *sub_ids;         /* PERSIST_OP_EVENT: owned copy */
    size_t sub_id_count;       /* PERSIST_OP_EVENT */
    size_t asked;              /* PERSIST_OP_ACK: ids asked */
    uint64_t count;            /* the statement's count, kept until COMMIT */
    uint64_t remaining;        /* subscription_delete: subscriptions left on the key */
    bool more;                 /* PERSIST_OP_EXPIRE: a limit was reached */
    bool done;                 /* its callback has run */
    persist_op_t *next;        /* in the queue or the batch */
};

/* Appends a parameter; the params take ownership of `value` (0 length =
   text, NUL-terminated). */
void persist_param_take(persist_params_t *params, char *value, int length, int format);
/* Copies text / renders an integer, a boolean, bytes (binary), in order. */
void persist_param_text(persist_params_t *params, const char *text);
void persist_param_int(persist_params_t *params, int64_t value);
void persist_param_bool(persist_params_t *params, bool value);
void persist_param_bytes(persist_params_t *params, const uint8_t *data, size_t size);
/* A bigint[] literal "{1,2,3}"; caller owns the result. */
char *persist_param_array(const uint64_t *ids, size_t count);
/* Frees every value; the params are empty again. */
void persist_params_clear(persist_params_t *params);

/* Caller owns the result (an op with no parameters yet). */
persist_op_t *persist_op_new(persist_op_kind_t kind, int statement, persist_store_done_fn *fn,
                             void *arg);
void persist_op_destroy(persist_op_t *op);

/* Takes ownership of op: queues it, or destroys it and returns -1 (queue
   full, database down): then its callback never runs. In persist_store.c. */
int persist_store_enqueue(persist_store_t *self, persist_op_t *op);

#endif
