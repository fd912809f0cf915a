/*  Shared frames (edge_frame) and the per-session bounded queue
    (edge_queue): reference counting, bounds, order. Leaks show under
    make SAN=1. */
#include <criterion/criterion.h>
#include <libwebsockets.h>
#include <string.h>

#include "edge_frame.h"
#include "edge_queue.h"

static edge_frame_t *s_frame(const char *text)
{
    tg_buf_t buf;
    tg_buf_init(&buf, edge_frame_headroom());
    tg_buf_append(&buf, text, strlen(text));
    edge_frame_t *frame = edge_frame_new(&buf, false, true);
    cr_assert_eq(buf.len, 0); /* the memory moved into the frame */
    tg_buf_release(&buf);
    return frame;
}

/* The payload keeps LWS_PRE writable bytes in front of it and the bytes
   given. */
Test(edge_frame, payload_has_lws_headroom_and_the_bytes)
{
    cr_assert_geq(edge_frame_headroom(), (size_t)LWS_PRE);
    edge_frame_t *frame = s_frame("[36,1]");
    cr_assert_eq(edge_frame_len(frame), 6);
    cr_assert_eq(memcmp(edge_frame_payload(frame), "[36,1]", 6), 0);
    cr_assert_geq((size_t)(edge_frame_payload(frame) - (uint8_t *)frame), (size_t)LWS_PRE);
    cr_assert(edge_frame_is_event(frame));
    cr_assert_not(edge_frame_binary(frame));
    edge_frame_unref(&frame);
    cr_assert_null(frame);
    edge_frame_unref(&frame); /* safe twice */
}

/* Each ref needs an unref; the last one frees (ASan checks the rest). */
Test(edge_frame, frame_lives_until_its_last_reference)
{
    edge_frame_t *frame = s_frame("x");
    edge_frame_t *other = edge_frame_ref(frame);
    cr_assert_eq(edge_frame_refs(frame), 2);
    edge_frame_unref(&other);
    cr_assert_eq(edge_frame_refs(frame), 1);
    edge_frame_unref(&frame);
}

/* Pushing takes a reference; popping hands that reference over. */
Test(edge_queue, push_takes_a_reference_and_pop_hands_it_over)
{
    edge_queue_t *queue = edge_queue_new(4);
    edge_frame_t *frame = s_frame("a");
    cr_assert_eq(edge_queue_push(queue, frame), 0);
    cr_assert_eq(edge_frame_refs(frame), 2);
    edge_frame_t *popped = edge_queue_pop(queue);
    cr_assert_eq(popped, frame);
    cr_assert_eq(edge_frame_refs(frame), 2);
    edge_frame_unref(&popped);
    edge_frame_unref(&frame);
    cr_assert_null(edge_queue_pop(queue));
    edge_queue_destroy(&queue);
}

/* The bound is the bound: the push after `limit` fails and changes
   nothing. */
Test(edge_queue, push_beyond_the_limit_fails)
{
    edge_queue_t *queue = edge_queue_new(3);
    edge_frame_t *frame = s_frame("a");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(edge_queue_push(queue, frame), 0);
    cr_assert_eq(edge_queue_push(queue, frame), -1);
    cr_assert_eq(edge_queue_size(queue), 3);
    cr_assert_eq(edge_frame_refs(frame), 4);
    edge_queue_destroy(&queue);
    cr_assert_eq(edge_frame_refs(frame), 1);
    edge_frame_unref(&frame);
}

/* First in, first out, across ring growth and wrap-around. */
Test(edge_queue, order_survives_growth_and_wraparound)
{
    edge_queue_t *queue = edge_queue_new(100);
    edge_frame_t *frames[40];
    for (int i = 0; i < 40; i++)
        frames[i] = s_frame("f");
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < 3 && next_in < 40; k++)
            cr_assert_eq(edge_queue_push(queue, frames[next_in++]), 0);
        edge_frame_t *out = edge_queue_pop(queue);
        cr_assert_eq(out, frames[next_out++]);
        cr_assert_eq(edge_queue_peek(queue), next_out < next_in ? frames[next_out] : NULL);
        edge_frame_unref(&out);
    }
    while (next_in < 40)
        cr_assert_eq(edge_queue_push(queue, frames[next_in++]), 0);
    while (edge_queue_size(queue) > 0) {
        edge_frame_t *out = edge_queue_pop(queue);
        cr_assert_eq(out, frames[next_out++]);
        edge_frame_unref(&out);
    }
    cr_assert_eq(next_out, 40);
    for (int i = 0; i < 40; i++)
        edge_frame_unref(&frames[i]);
    edge_queue_destroy(&queue);
}

/* Destroying a queue drops the references it held. */
Test(edge_queue, destroy_releases_queued_frames)
{
    edge_queue_t *queue = edge_queue_new(8);
    edge_frame_t *frame = s_frame("a");
    edge_queue_push(queue, frame);
    edge_queue_push(queue, frame);
    edge_queue_destroy(&queue);
    cr_assert_null(queue);
    edge_queue_destroy(&queue);
    cr_assert_eq(edge_frame_refs(frame), 1);
    edge_frame_unref(&frame);
}
