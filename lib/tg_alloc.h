/*  tg_alloc: the one allocation policy of the gateway.

    Running out of memory is not a condition a service can recover from
    half-way (a half-built session, a dropped subscription): like CZMQ's
    zmalloc and Redis's zmalloc, every allocation goes through these
    wrappers, which abort loudly with the size and the call site when the
    allocator fails. Callers therefore never test the result for NULL.

    Ownership: the caller owns what these return and frees it with free().
*/
#ifndef TG_ALLOC_H
#define TG_ALLOC_H

#include <stddef.h>

#define tg_malloc(size)        tg_alloc_malloc((size), __FILE__, __LINE__)
#define tg_calloc(count, size) tg_alloc_calloc((count), (size), __FILE__, __LINE__)
#define tg_realloc(ptr, size)  tg_alloc_realloc((ptr), (size), __FILE__, __LINE__)
#define tg_strdup(text)        tg_alloc_strdup((text), __FILE__, __LINE__)
#define tg_strndup(text, size) tg_alloc_strndup((text), (size), __FILE__, __LINE__)
#define tg_memdup(data, size)  tg_alloc_memdup((data), (size), __FILE__, __LINE__)

/* Allocates a zeroed `T`: `T *x = tg_new(T);` */
#define tg_new(type) ((type *)tg_calloc(1, sizeof(type)))

void *tg_alloc_malloc(size_t size, const char *file, int line);
void *tg_alloc_calloc(size_t count, size_t size, const char *file, int line);
void *tg_alloc_realloc(void *ptr, size_t size, const char *file, int line);
char *tg_alloc_strdup(const char *text, const char *file, int line);
char *tg_alloc_strndup(const char *text, size_t size, const char *file, int line);
void *tg_alloc_memdup(const void *data, size_t size, const char *file, int line);

/* Aborts the process after writing what failed to stderr. For a runtime
   condition that must never happen (an invariant broken by a bug), which
   `assert` would let pass under NDEBUG. */
_Noreturn void tg_alloc_fatal(const char *what, const char *file, int line);

/* Checks an invariant in every build (assert vanishes under NDEBUG). */
#define tg_check(condition)                                                                        \
    ((condition) ? (void)0 : tg_alloc_fatal("invariant failed: " #condition, __FILE__, __LINE__))

#endif
