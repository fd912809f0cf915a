/*  tg_alloc: see tg_alloc.h. */
#include "tg_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void tg_alloc_fatal(const char *what, const char *file, int line)
{
    /* stdio may need memory itself: write one short line, then abort so a
       core dump (and the sanitizers) show the stack. */
    fprintf(stderr, "telegraphy: fatal: %s at %s:%d\n", what, file, line);
    fflush(stderr);
    abort();
}

static void s_out_of_memory(size_t size, const char *file, int line)
{
    char what[96];
    snprintf(what, sizeof what, "out of memory allocating %zu bytes", size);
    tg_alloc_fatal(what, file, line);
}

void *tg_alloc_malloc(size_t size, const char *file, int line)
{
    void *ptr = malloc(size ? size : 1);
    if (!ptr)
        s_out_of_memory(size, file, line);
    return ptr;
}

void *tg_alloc_calloc(size_t count, size_t size, const char *file, int line)
{
    void *ptr = calloc(count ? count : 1, size ? size : 1);
    if (!ptr)
        s_out_of_memory(count * size, file, line);
    return ptr;
}

void *tg_alloc_realloc(void *ptr, size_t size, const char *file, int line)
{
    void *grown = realloc(ptr, size ? size : 1);
    if (!grown)
        s_out_of_memory(size, file, line);
    return grown;
}

char *tg_alloc_strdup(const char *text, const char *file, int line)
{
    return tg_alloc_strndup(text, strlen(text), file, line);
}

char *tg_alloc_strndup(const char *text, size_t size, const char *file, int line)
{
    size_t length = strnlen(text, size);
    char *copy = tg_alloc_malloc(length + 1, file, line);
    memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

void *tg_alloc_memdup(const void *data, size_t size, const char *file, int line)
{
    void *copy = tg_alloc_malloc(size, file, line);
    if (size)
        memcpy(copy, data, size);
    return copy;
}
