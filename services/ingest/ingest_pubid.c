/*  ingest_pubid: publication ids, see ingest_pubid.h. */
#include "ingest_pubid.h"

#include <assert.h>
#include <stdlib.h>

#include "tg_alloc.h"
#include "tg_envelope.h"

struct _ingest_pubid_t {
    uint64_t last; /* last id issued, 0 before the first */
};

ingest_pubid_t *ingest_pubid_new(void)
{
    return tg_new(ingest_pubid_t);
}

void ingest_pubid_destroy(ingest_pubid_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

uint64_t ingest_pubid_next(ingest_pubid_t *self, int64_t now_us)
{
    assert(self);
    if (self->last >= TG_MAX_ID)
        return 0;
    uint64_t now = now_us > 0 ? (uint64_t)now_us : 0;
    uint64_t next = self->last + 1;
    //  A clock far in the future would otherwise jump us to the end of the
    //  id space in one go; ids only need to be increasing, so clamp.
    if (now > next)
        next = now < TG_MAX_ID ? now : TG_MAX_ID;
    self->last = next;
    return next;
}

uint64_t ingest_pubid_last(const ingest_pubid_t *self)
{
    assert(self);
    return self->last;
}
