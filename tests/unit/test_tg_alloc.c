/*  tg_alloc: the one allocation policy: abort loudly, never return NULL. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_alloc.h"

/* Under AddressSanitizer a refused allocation is reported and the process
   exits before malloc returns; let malloc return NULL, as libc's does, so
   the test sees tg_alloc's own policy. (Options from ASAN_OPTIONS are
   applied on top of these.) */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* Copies are whole and terminated. */
Test(tg_alloc, strndup_and_memdup_copy)
{
    char *text = tg_strndup("telegraphy", 5);
    cr_assert_str_eq(text, "teleg");
    char *data = tg_memdup("ab\0c", 4);
    cr_assert_eq(memcmp(data, "ab\0c", 4), 0);
    free(text);
    free(data);
}

/* An allocation the allocator refuses aborts the process instead of
   returning NULL to a caller that would not check. */
Test(tg_alloc, refused_allocation_aborts, .signal = SIGABRT)
{
    /* More than any allocator grants. */
    volatile size_t huge = SIZE_MAX / 2;
    void *ptr = tg_malloc(huge);
    free(ptr);
}

/* tg_check holds in every build, NDEBUG or not. */
Test(tg_alloc, failed_check_aborts, .signal = SIGABRT)
{
    volatile int zero = 0;
    tg_check(zero == 1);
}
