/*  router_tap: see router_tap.h. */
#include "router_tap.h"

#include <assert.h>
#include <string.h>

#include "tg_alloc.h"
#include "tg_socket.h"

zsock_t *router_tap_bind(const char *endpoint, char *resolved, size_t resolved_size, char *error,
                         size_t error_size)
{
    tg_socket_options_t options = {.hwm = ROUTER_TAP_HWM};
    zsock_t *sock =
        tg_socket_bind(ZMQ_XPUB, endpoint, &options, resolved, resolved_size, error, error_size);
    if (!sock)
        return NULL;
    /* PUB semantics drop silently at the high-water mark; NODROP turns
       that into EAGAIN, which we count. An XPUB rather than a PUB so that
       the router hears subscriptions and builds TAPs only for a viewer. */
    int nodrop = 1;
    if (zmq_setsockopt(zsock_resolve(sock), ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop) != 0) {
        snprintf(error, error_size, "cannot set xpub_nodrop on %s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

int router_tap_event(zsock_t *pub, const tg_envelope_t *event, uint64_t matched, uint64_t edges)
{
    assert(pub && event && event->topic);
    tg_envelope_t *tap = tg_envelope_new(TG_CMD_TAP);
    tap->topic = tg_strdup(event->topic); /* a TAP is built only while someone watches */
    tap->pub_id = event->pub_id;
    tap->ts = event->ts;
    tap->size = event->body ? zframe_size(event->body) : 0;
    tap->matched = matched;
    tap->edges = edges;
    tap->body = event->body ? zframe_dup(event->body) : zframe_new(NULL, 0);
    int rc = tg_envelope_send(tap, pub);
    tg_envelope_destroy(&tap);
    return rc;
}

int router_tap_monitor(zsock_t *pub, tg_envelope_t **env_p)
{
    assert(pub && env_p && *env_p);
    int rc = tg_envelope_send(*env_p, pub);
    tg_envelope_destroy(env_p);
    return rc;
}

int router_tap_viewers(zsock_t *xpub, int *viewers)
{
    assert(xpub && viewers);
    /* Without ZMQ_XPUB_VERBOSE libzmq passes up the first subscription to a
       prefix and the last unsubscription from it, so counting them counts
       the distinct prefixes that select TAP messages ("TAP", "TA", "T", ""). */
    int read = 0;
    zframe_t *frame;
    while ((frame = zframe_recv_nowait(xpub))) {
        size_t size = zframe_size(frame);
        const char *data = (const char *)zframe_data(frame);
        if (size >= 1 && size - 1 <= 3 && memcmp(data + 1, "TAP", size - 1) == 0) {
            if (data[0] == 1)
                (*viewers)++;
            else if (data[0] == 0 && *viewers > 0)
                (*viewers)--;
        }
        zframe_destroy(&frame);
        read++;
    }
    return read;
}
