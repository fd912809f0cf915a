/*  Shared by the wamp.2.json and wamp.2.msgpack fuzz targets: every message
    parser on a decoded tree. Property: none crashes, and a message a parser
    accepts holds the invariants that parser promises (ids in 1..2^53, a
    non-empty topic). */
#ifndef FUZZ_WAMP_PARSE_H
#define FUZZ_WAMP_PARSE_H

#include <stdlib.h>

#include "tg_wamp.h"

static void s_parse_all(const json_t *msg)
{
    char err[256];
    tg_wamp_hello_t hello;
    tg_wamp_authenticate_t auth;
    tg_wamp_goodbye_t bye;
    tg_wamp_subscribe_t sub;
    tg_wamp_unsubscribe_t unsub;
    tg_wamp_publish_t pub;
    tg_wamp_call_t call;
    tg_wamp_parse_hello(msg, &hello, err, sizeof err);
    tg_wamp_parse_authenticate(msg, &auth, err, sizeof err);
    tg_wamp_parse_goodbye(msg, &bye, err, sizeof err);
    if (tg_wamp_parse_subscribe(msg, &sub, err, sizeof err) == 0 &&
        (sub.request < 1 || sub.request > TG_WAMP_MAX_ID || !sub.topic[0]))
        abort();
    if (tg_wamp_parse_unsubscribe(msg, &unsub, err, sizeof err) == 0 &&
        (unsub.subscription < 1 || unsub.subscription > TG_WAMP_MAX_ID))
        abort();
    tg_wamp_parse_publish(msg, &pub, err, sizeof err);
    tg_wamp_parse_call(msg, &call, err, sizeof err);
}

#endif
