/*  edge_random: the edge's random numbers (WAMP session ids, client ids),
    from the kernel. Without entropy the edge cannot hand out ids that must
    not repeat, so a failure aborts loudly (tg_alloc_fatal), like an
    allocation failure: no caller pretends to handle it.
*/
#ifndef EDGE_RANDOM_H
#define EDGE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills out with size (<= 256) random bytes. */
void edge_random_bytes(void *out, size_t size);

/* A random WAMP id in [1, 2^53]. */
uint64_t edge_random_id(void);

#endif
