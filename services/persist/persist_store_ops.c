/*  persist_store_ops: the public operations of persist_store, each made
    into a queued persist_op_t with its parameters rendered (copied) at once,
    so the caller's buffers are free when the call returns. The queue, the
    batches and the answers are in persist_store.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist_statements.h"
#include "persist_store.h"
#include "persist_store_op.h"
#include "tg_alloc.h"

/* --- parameters --- */

void persist_param_take(persist_params_t *params, char *value, int length, int format)
{
    tg_check(params->count < PERSIST_PARAMS_MAX);
    params->values[params->count] = value;
    params->lengths[params->count] = length;
    params->formats[params->count] = format;
    params->count++;
}

void persist_param_text(persist_params_t *params, const char *text)
{
    persist_param_take(params, tg_strdup(text ? text : ""), 0, 0);
}

void persist_param_int(persist_params_t *params, int64_t value)
{
    char *text = tg_malloc(24);
    snprintf(text, 24, "%" PRId64, value);
    persist_param_take(params, text, 0, 0);
}

void persist_param_bool(persist_params_t *params, bool value)
{
    persist_param_text(params, value ? "true" : "false");
}

void persist_param_bytes(persist_params_t *params, const uint8_t *data, size_t size)
{
    tg_check(size <= INT32_MAX);
    persist_param_take(params, tg_memdup(size ? (const void *)data : "", size), (int)size, 1);
}

//  A bigint[] literal: {1,2,3}.
char *persist_param_array(const uint64_t *ids, size_t count)
{
    size_t size = 3 + count * 21;
    char *text = tg_malloc(size);
    size_t used = 0;
    text[used++] = '{';
    for (size_t i = 0; i < count; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%" PRIu64, i ? "," : "", ids[i]);
    text[used++] = '}';
    text[used] = '\0';
    return text;
}

void persist_params_clear(persist_params_t *params)
{
    for (int i = 0; i < params->count; i++)
        free(params->values[i]);
    params->count = 0;
}

/* --- operations --- */

persist_op_t *persist_op_new(persist_op_kind_t kind, int statement, persist_store_done_fn *fn,
                             void *arg)
{
    persist_op_t *op = tg_new(persist_op_t);
    op->kind = kind;
    op->statement = statement;
    op->fn = fn;
    op->arg = arg;
    return op;
}

void persist_op_destroy(persist_op_t *op)
{
    persist_params_clear(&op->params);
    free(op->sub_ids);
    free(op);
}

/* --- operations --- */

int persist_store_event(persist_store_t *self, const persist_store_event_t *event,
                        persist_store_done_fn *fn, void *arg)
{
    tg_check(self && event && event->topic);
    if (event->sub_id_count > PERSIST_STORE_EVENT_SUBS_MAX || event->pub_id == 0)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_EVENT, PERSIST_ST_EVENT, fn, arg);
    op->pub_id = event->pub_id;
    op->guaranteed = event->guaranteed;
    if (event->guaranteed && event->sub_id_count) {
        op->sub_ids = tg_memdup(event->sub_ids, event->sub_id_count * sizeof(uint64_t));
        op->sub_id_count = event->sub_id_count;
    }
    persist_param_int(&op->params, (int64_t)event->pub_id);
    persist_param_text(&op->params, event->topic);
    persist_param_int(&op->params, event->ts_us);
    persist_param_int(&op->params, event->expires_at_us > 0 ? event->expires_at_us : 0);
    persist_param_bool(&op->params, event->guaranteed);
    persist_param_bytes(&op->params, event->header, event->header_size);
    persist_param_bytes(&op->params, event->body, event->body_size);
    return persist_store_enqueue(self, op);
}

int persist_store_ack(persist_store_t *self, const char *client_id, uint64_t sub_id,
                      const uint64_t *pub_ids, size_t count, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id && (pub_ids || count == 0));
    if (count > PERSIST_STORE_ACK_IDS_MAX)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_ACK, PERSIST_ST_ACK, fn, arg);
    op->asked = count;
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_take(&op->params, persist_param_array(pub_ids, count), 0, 0);
    return persist_store_enqueue(self, op);
}

int persist_store_ack_upto(persist_store_t *self, const char *client_id, uint64_t sub_id,
                           uint64_t upto, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id);
    persist_op_t *op = persist_op_new(PERSIST_OP_ACK_UPTO, PERSIST_ST_ACK_UPTO, fn, arg);
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_int(&op->params, (int64_t)upto);
    return persist_store_enqueue(self, op);
}

int persist_store_subscription_upsert(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      const char *topic, const char *match, const char *filter,
                                      int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id && topic && match);
    persist_op_t *op = persist_op_new(PERSIST_OP_SUB_UPSERT, PERSIST_ST_SUB_UPSERT, fn, arg);
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_text(&op->params, topic);
    persist_param_text(&op->params, match);
    persist_param_text(&op->params, filter);
    persist_param_int(&op->params, now_us);
    return persist_store_enqueue(self, op);
}

int persist_store_subscription_delete(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                      persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id);
    persist_op_t *op = persist_op_new(PERSIST_OP_SUB_DELETE, PERSIST_ST_SUB_DELETE, fn, arg);
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    return persist_store_enqueue(self, op);
}

int persist_store_subscription_touch(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                     int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id);
    persist_op_t *op = persist_op_new(PERSIST_OP_SUB_TOUCH, PERSIST_ST_SUB_TOUCH, fn, arg);
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_int(&op->params, now_us);
    return persist_store_enqueue(self, op);
}

int persist_store_register_type(persist_store_t *self, const char *name, const uint8_t *definition,
                                size_t size, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && name && (definition || size == 0));
    persist_op_t *op = persist_op_new(PERSIST_OP_TYPE, PERSIST_ST_TYPE, fn, arg);
    persist_param_text(&op->params, name);
    persist_param_bytes(&op->params, definition, size);
    return persist_store_enqueue(self, op);
}

int persist_store_spend_token(persist_store_t *self, const char *jti, int64_t exp,
                              persist_store_done_fn *fn, void *arg)
{
    tg_check(self && jti);
    persist_op_t *op = persist_op_new(PERSIST_OP_TOKEN, PERSIST_ST_TOKEN, fn, arg);
    persist_param_text(&op->params, jti);
    persist_param_int(&op->params, exp);
    return persist_store_enqueue(self, op);
}

int persist_store_mark_dropped(persist_store_t *self, const char *topic, uint64_t upto,
                               persist_store_done_fn *fn, void *arg)
{
    tg_check(self && topic);
    persist_op_t *op = persist_op_new(PERSIST_OP_MARK, PERSIST_ST_MARK, fn, arg);
    persist_param_text(&op->params, topic);
    persist_param_int(&op->params, (int64_t)upto);
    return persist_store_enqueue(self, op);
}

int persist_store_expire(persist_store_t *self, int64_t now_us, int64_t limit,
                         persist_store_done_fn *fn, void *arg)
{
    tg_check(self);
    if (limit <= 0)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_EXPIRE, -1, fn, arg);
    persist_param_int(&op->params, now_us); //  the rest is derived when sent
    persist_param_int(&op->params, limit);
    return persist_store_enqueue(self, op);
}

int persist_store_totals(persist_store_t *self, persist_store_done_fn *fn, void *arg)
{
    tg_check(self);
    return persist_store_enqueue(self,
                                 persist_op_new(PERSIST_OP_TOTALS, PERSIST_ST_TOTALS, fn, arg));
}

int persist_store_load_types(persist_store_t *self, persist_store_done_fn *fn, void *arg)
{
    tg_check(self);
    return persist_store_enqueue(
        self, persist_op_new(PERSIST_OP_LOAD_TYPES, PERSIST_ST_LOAD_TYPES, fn, arg));
}

int persist_store_load_spent_tokens(persist_store_t *self, int64_t now_us,
                                    persist_store_done_fn *fn, void *arg)
{
    tg_check(self);
    persist_op_t *op = persist_op_new(PERSIST_OP_LOAD_TOKENS, PERSIST_ST_LOAD_TOKENS, fn, arg);
    persist_param_int(&op->params, now_us / 1000000);
    return persist_store_enqueue(self, op);
}

int persist_store_load_subscriptions(persist_store_t *self, int64_t after_key, size_t limit,
                                     persist_store_done_fn *fn, void *arg)
{
    tg_check(self);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_LOAD_SUBS, PERSIST_ST_LOAD_SUBS, fn, arg);
    op->count = limit; //  a read's count is its page size (for `more`)
    persist_param_int(&op->params, after_key);
    persist_param_int(&op->params, (int64_t)limit);
    return persist_store_enqueue(self, op);
}

int persist_store_backlog_page(persist_store_t *self, const char *client_id, uint64_t sub_id,
                               uint64_t after, size_t limit, int64_t now_us,
                               persist_store_done_fn *fn, void *arg)
{
    tg_check(self && client_id);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_BACKLOG, PERSIST_ST_BACKLOG, fn, arg);
    op->count = limit;
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_int(&op->params, (int64_t)after);
    persist_param_int(&op->params, (int64_t)limit);
    persist_param_int(&op->params, now_us);
    return persist_store_enqueue(self, op);
}

//  WAMP's wildcard match as a regular expression: components split on '.',
//  an empty one matches any one component. Caller owns the result.
static char *s_wildcard_regex(const char *pattern)
{
    size_t size = 3 + strlen(pattern) * 8;
    char *regex = tg_malloc(size);
    size_t used = 0;
    regex[used++] = '^';
    const char *component = pattern;
    for (;;) {
        const char *end = strchr(component, '.');
        size_t length = end ? (size_t)(end - component) : strlen(component);
        if (length == 0) {
            memcpy(regex + used, "[^.]+", 5);
            used += 5;
        }
        for (size_t i = 0; i < length; i++) {
            char c = component[i];
            if (strchr("\\^$.|?*+()[]{}", c))
                regex[used++] = '\\';
            regex[used++] = c;
        }
        if (!end)
            break;
        memcpy(regex + used, "\\.", 2);
        used += 2;
        component = end + 1;
    }
    regex[used++] = '$';
    regex[used] = '\0';
    return regex;
}

//  The topic parameter and the statement for a match, or -1.
static int s_match(const char *topic, const char *match, int exact, persist_params_t *params)
{
    if (!match || strcmp(match, "exact") == 0) {
        persist_param_text(params, topic);
        return exact;
    }
    if (strcmp(match, "prefix") == 0) {
        persist_param_text(params, topic);
        return exact + 1;
    }
    if (strcmp(match, "wildcard") == 0) {
        persist_param_take(params, s_wildcard_regex(topic), 0, 0);
        return exact + 2;
    }
    return -1;
}

int persist_store_retained_page(persist_store_t *self, const char *topic, const char *match,
                                uint64_t since, size_t limit, int64_t now_us,
                                persist_store_done_fn *fn, void *arg)
{
    tg_check(self && topic);
    if (limit == 0 || limit > PERSIST_STORE_PAGE_MAX)
        return -1;
    persist_op_t *op = persist_op_new(PERSIST_OP_RETAINED, -1, fn, arg);
    op->statement = s_match(topic, match, PERSIST_ST_RETAINED_EXACT, &op->params);
    if (op->statement < 0) {
        persist_op_destroy(op);
        return -1;
    }
    op->count = limit;
    persist_param_int(&op->params, (int64_t)since);
    persist_param_int(&op->params, now_us);
    persist_param_int(&op->params, (int64_t)limit);
    return persist_store_enqueue(self, op);
}

int persist_store_gap_subscription(persist_store_t *self, const char *client_id, uint64_t sub_id,
                                   uint64_t after, int64_t now_us, persist_store_done_fn *fn,
                                   void *arg)
{
    tg_check(self && client_id);
    persist_op_t *op = persist_op_new(PERSIST_OP_GAP_SUB, PERSIST_ST_GAP_SUB, fn, arg);
    persist_param_text(&op->params, client_id);
    persist_param_int(&op->params, (int64_t)sub_id);
    persist_param_int(&op->params, (int64_t)after);
    persist_param_int(&op->params, now_us);
    return persist_store_enqueue(self, op);
}

int persist_store_gap_topic(persist_store_t *self, const char *topic, const char *match,
                            uint64_t since, int64_t now_us, persist_store_done_fn *fn, void *arg)
{
    tg_check(self && topic);
    persist_op_t *op = persist_op_new(PERSIST_OP_GAP_TOPIC, -1, fn, arg);
    op->statement = s_match(topic, match, PERSIST_ST_GAP_TOPIC_EXACT, &op->params);
    if (op->statement < 0) {
        persist_op_destroy(op);
        return -1;
    }
    persist_param_int(&op->params, (int64_t)since);
    persist_param_int(&op->params, now_us);
    return persist_store_enqueue(self, op);
}
