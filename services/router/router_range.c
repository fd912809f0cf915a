/*  router_range: sorted bound arrays for range filters. The structure, its
    laziness and its costs are described in router_range.h.
*/
#include "router_range.h"
#include "tg_alloc.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One range filter. Equal bounds are ordered by `tie`, chosen per side so
   that the filters accepting a value v are exactly the elements whose
   (bound, tie) is below (v, 1) in the lower array, and not below it in the
   upper array:
     lower: `> b` has tie 1, `>= b` tie 0: at b == v only `>=` is below.
     upper: `< b` has tie 0, `<= b` tie 1: at b == v only `<=` is not.
*/
typedef struct {
    router_sub_t *sub;       /* NULL: a hole left by a removal from the sorted part */
    tg_query_number_t bound; /* finite */
    uint8_t tie;
} s_element_t;

/* One direction. elements[0, sorted) are in (bound, tie) order, holes
   included (a hole keeps its bound); elements[sorted, count) were appended
   since and are in no order. capacity >= count + (count - sorted) at all
   times: the room a flush merges the tail in. */
typedef struct {
    s_element_t *elements;
    uint32_t count;
    uint32_t sorted;
    uint32_t holes; /* holes in elements[0, sorted) */
    uint32_t capacity;
} s_side_t;

enum { S_LOWER, S_UPPER };

struct _router_range_t {
    s_side_t sides[2]; /* [S_LOWER]: `>` and `>=`; [S_UPPER]: `<` and `<=` */
    size_t subs;       /* subscriptions held, both sides */
    size_t *account;   /* borrowed: the index's byte counter */
};

router_range_t *router_range_new(size_t *account)
{
    assert(account);
    router_range_t *self = tg_new(router_range_t);
    *account += sizeof *self;
    self->account = account;
    return self;
}

void router_range_destroy(router_range_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    router_range_t *self = *self_p;
    /* The arrays go with their last subscription: an empty set owns none. */
    assert(self->subs == 0 && !self->sides[S_LOWER].elements && !self->sides[S_UPPER].elements);
    *self->account -= sizeof *self;
    free(self);
    *self_p = NULL;
}

size_t router_range_size(const router_range_t *self)
{
    return self->subs;
}

/* Orders element e against the key (bound, tie): <0, 0, >0. Bounds are
   finite and values not NaN, so the comparison is never unordered. */
static int s_order(const s_element_t *e, const tg_query_number_t *bound, uint8_t tie)
{
    int c = tg_query_number_compare(&e->bound, bound);
    if (c)
        return c;
    return (int)e->tie - (int)tie;
}

static void s_set_slot(s_element_t *e, uint32_t slot)
{
    if (e->sub)
        e->sub->nodes[0].slot = slot;
}

/* Reallocates side's array to capacity elements (>= what it must hold).
   0, or -1 (side unchanged). */
static int s_resize(router_range_t *self, s_side_t *side, uint32_t capacity)
{
    s_element_t *elements = tg_realloc(side->elements, capacity * sizeof *elements);
    *self->account -= side->capacity * sizeof *elements;
    *self->account += capacity * sizeof *elements;
    side->elements = elements;
    side->capacity = capacity;
    return 0;
}

int router_range_insert(router_range_t *self, router_sub_t *sub, tg_query_range_op_t op,
                        const tg_query_number_t *bound)
{
    bool lower = op == TG_QUERY_RANGE_GT || op == TG_QUERY_RANGE_GE;
    s_side_t *side = &self->sides[lower ? S_LOWER : S_UPPER];
    uint32_t tail = side->count - side->sorted;
    if (side->count >= UINT32_MAX / 4)
        return -1;
    /* Keep room for the new element and for a copy of the whole tail. */
    uint32_t needed = side->count + 1 + tail + 1;
    if (needed > side->capacity) {
        uint32_t capacity = side->capacity * 2 > needed ? side->capacity * 2 : needed;
        if (capacity < 8)
            capacity = 8;
        if (s_resize(self, side, capacity) != 0)
            return -1;
    }
    s_element_t *e = &side->elements[side->count];
    e->sub = sub;
    e->bound = *bound;
    e->tie = lower ? op == TG_QUERY_RANGE_GT : op == TG_QUERY_RANGE_LE;
    sub->nodes[0].slot = side->count++;
    self->subs++;
    return 0;
}

void router_range_remove(router_range_t *self, router_sub_t *sub, tg_query_range_op_t op)
{
    bool lower = op == TG_QUERY_RANGE_GT || op == TG_QUERY_RANGE_GE;
    s_side_t *side = &self->sides[lower ? S_LOWER : S_UPPER];
    uint32_t slot = sub->nodes[0].slot;
    tg_check(slot < side->count && side->elements[slot].sub == sub);
    if (slot >= side->sorted) {
        /* In the tail: the last element (also in the tail) takes its place. */
        side->elements[slot] = side->elements[--side->count];
        s_set_slot(&side->elements[slot], slot);
    } else {
        side->elements[slot].sub = NULL;
        side->holes++;
    }
    self->subs--;
    if (side->count == side->holes) {
        /* Nothing live left on this side: back to no allocation at all. */
        free(side->elements);
        *self->account -= side->capacity * sizeof *side->elements;
        *side = (s_side_t){0};
        return;
    }
    uint32_t needed = side->count + (side->count - side->sorted);
    if (side->capacity > 64 && side->capacity / 4 > needed)
        s_resize(self, side, needed * 2); /* a failed shrink keeps the larger array */
}

/* Stable merge sort of a[0, n) using buf[0, n / 2 + 1) (the room past the
   array's elements): no allocation. Short runs by insertion. */
static void s_sort(s_element_t *a, uint32_t n, s_element_t *buf)
{
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++) {
            s_element_t e = a[i];
            uint32_t j = i;
            for (; j > 0 && s_order(&a[j - 1], &e.bound, e.tie) > 0; j--)
                a[j] = a[j - 1];
            a[j] = e;
        }
        return;
    }
    uint32_t half = n / 2;
    s_sort(a, half, buf);
    s_sort(a + half, n - half, buf);
    /* The left run moves to buf; merging forward into a never overtakes
       the unread part of the right run (d <= j). */
    memcpy(buf, a, half * sizeof *a);
    uint32_t i = 0, j = half, d = 0;
    while (i < half && j < n)
        a[d++] = s_order(&a[j], &buf[i].bound, buf[i].tie) < 0 ? a[j++] : buf[i++];
    while (i < half)
        a[d++] = buf[i++];
}

/* Squeezes the holes out, sorts the tail and merges it into the sorted
   part, then rewrites the slots of the elements that moved. */
static void s_flush(s_side_t *side)
{
    s_element_t *e = side->elements;
    uint32_t first_moved = side->count;
    if (side->holes) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < side->sorted; i++)
            if (e[i].sub) {
                if (w != i && first_moved == side->count)
                    first_moved = w;
                e[w++] = e[i];
            }
        uint32_t tail = side->count - side->sorted;
        if (w != side->sorted && tail) {
            memmove(e + w, e + side->sorted, tail * sizeof *e);
            if (first_moved > w)
                first_moved = w;
        }
        side->sorted = w;
        side->count = w + tail;
        side->holes = 0;
    }
    uint32_t tail = side->count - side->sorted;
    if (tail) {
        s_element_t *room = e + side->count; /* capacity >= count + tail */
        s_sort(e + side->sorted, tail, room);
        /* Merge backwards: the sorted tail goes to the room, the larger of
           the two runs' last elements fills the array from its end. */
        memcpy(room, e + side->sorted, tail * sizeof *e);
        int64_t i = (int64_t)side->sorted - 1, j = (int64_t)tail - 1, d = side->count;
        while (j >= 0) {
            if (i >= 0 && s_order(&e[i], &room[j].bound, room[j].tie) > 0)
                e[--d] = e[i--];
            else
                e[--d] = room[j--];
        }
        if ((uint32_t)d < first_moved)
            first_moved = (uint32_t)d;
        side->sorted = side->count;
    }
    for (uint32_t k = first_moved; k < side->count; k++)
        s_set_slot(&e[k], k);
}

/* The index of the first element of the sorted part not below (v, 1). */
static uint32_t s_boundary(const s_side_t *side, const tg_query_number_t *value)
{
    uint32_t lo = 0, hi = side->sorted;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s_order(&side->elements[mid], value, 1) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void router_range_match(router_range_t *self, const tg_query_number_t *value, router_range_fn *fn,
                        void *arg)
{
    for (int which = S_LOWER; which <= S_UPPER; which++) {
        s_side_t *side = &self->sides[which];
        if (side->count == 0)
            continue;
        if (side->count - side->sorted > ROUTER_RANGE_TAIL_SCAN || side->holes > side->count / 4)
            s_flush(side);
        const s_element_t *e = side->elements;
        uint32_t boundary = s_boundary(side, value);
        uint32_t begin = which == S_LOWER ? 0 : boundary;
        uint32_t end = which == S_LOWER ? boundary : side->sorted;
        for (uint32_t i = begin; i < end; i++)
            if (e[i].sub)
                fn(e[i].sub, arg);
        for (uint32_t i = side->sorted; i < side->count; i++)
            if ((s_order(&e[i], value, 1) < 0) == (which == S_LOWER))
                fn(e[i].sub, arg);
    }
}
