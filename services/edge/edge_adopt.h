/*  edge_adopt: a ZeroMQ socket watched by the libwebsockets loop (the
    router DEALER in edge_link, the actor pipe in edge_actor).

    lws 4.1 has no external-poll hook, but it can watch a foreign
    descriptor: a dup() of the socket's ZMQ_FD is adopted as a RAW file on
    a vhost that listens on nothing (lws close()s what it adopted; the dup
    keeps ZeroMQ's own descriptor intact). ZMQ_FD is edge-triggered: a
    wake-up (LWS_CALLBACK_RAW_RX_FILE) means "check", and the reader must
    read until ZMQ_EVENTS lacks ZMQ_POLLIN, and look at ZMQ_EVENTS again
    after any send on the socket (a send may consume the signal).
*/
#ifndef EDGE_ADOPT_H
#define EDGE_ADOPT_H

#include <czmq.h>
#include <libwebsockets.h>

/* Adopts a dup() of sock's ZMQ_FD on vhost under `protocol` (one of the
   vhost's protocols), with opaque as the wsi's opaque user data. Returns
   the wsi (owned by lws: closed with the context, RAW_CLOSE_FILE then),
   or NULL with a sentence naming `what` in error. */
struct lws *edge_adopt_zsock(struct lws_vhost *vhost, const char *protocol, zsock_t *sock,
                             void *opaque, const char *what, char *error, size_t error_size);

#endif
