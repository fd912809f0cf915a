/*  tg_instance: instance ids. */
#include <criterion/criterion.h>
#include <string.h>

#include "tg_instance.h"

/* An id is the role, a dash and 16 hex digits. */
Test(tg_instance, id_is_role_dash_sixteen_hex_digits)
{
    char id[TG_INSTANCE_MAX];
    tg_instance_new("router", id, sizeof id);
    cr_assert_eq(strncmp(id, "router-", 7), 0, "%s", id);
    cr_assert_eq(strlen(id), 7 + 16, "%s", id);
    cr_assert_eq(strspn(id + 7, "0123456789abcdefABCDEF"), 16, "%s", id);
}

/* Two starts never share an id (it is the routing id at the router). */
Test(tg_instance, ids_differ)
{
    char a[TG_INSTANCE_MAX], b[TG_INSTANCE_MAX];
    tg_instance_new("edge", a, sizeof a);
    tg_instance_new("edge", b, sizeof b);
    cr_assert_str_neq(a, b);
}
