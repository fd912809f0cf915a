/*  edge_origin: see edge_origin.h. */
#include "edge_origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The host name of an origin "scheme://host[:port]" or of a Host header
   "host[:port]" ("[v6]" kept with its brackets): start and length. */
static void s_host_name(const char *text, const char **start, size_t *len)
{
    const char *p = strstr(text, "://");
    p = p ? p + 3 : text;
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        end = end ? end + 1 : p + strlen(p);
    } else {
        end = p + strcspn(p, ":/");
    }
    *start = p;
    *len = (size_t)(end - p);
}

bool edge_origin_allowed(const char *allowed, const char *origin, const char *host)
{
    if (!origin || !*origin)
        return true;
    if (allowed && *allowed) {
        size_t origin_len = strlen(origin);
        while (origin_len > 0 && origin[origin_len - 1] == '/')
            origin_len--;
        const char *p = allowed;
        while (*p) {
            p += strspn(p, " ,");
            size_t n = strcspn(p, ",");
            size_t trimmed = n;
            while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '/'))
                trimmed--;
            if (trimmed > 0 && trimmed == origin_len && strncasecmp(p, origin, trimmed) == 0)
                return true;
            p += n;
        }
        return false;
    }
    if (!host || !*host)
        return false;
    const char *a, *b;
    size_t alen, blen;
    s_host_name(origin, &a, &alen);
    s_host_name(host, &b, &blen);
    return alen > 0 && alen == blen && strncasecmp(a, b, alen) == 0;
}

int edge_origin_cookie(const char *header, const char *name, size_t nth, char *out, size_t outlen)
{
    if (!header || !name || outlen == 0)
        return -1;
    size_t name_len = strlen(name);
    const char *p = header;
    while (*p) {
        p += strspn(p, " ;");
        size_t n = strcspn(p, ";");
        if (n > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=' && nth-- == 0) {
            const char *value = p + name_len + 1;
            size_t value_len = n - name_len - 1;
            while (value_len > 0 && value[value_len - 1] == ' ')
                value_len--;
            if (value_len == 0 || value_len >= outlen)
                return -1;
            memcpy(out, value, value_len);
            out[value_len] = '\0';
            return 0;
        }
        p += n;
    }
    return -1;
}

int edge_origin_set_cookie(char *out, size_t outlen, const char *token, unsigned max_age,
                           bool secure)
{
    int n = snprintf(out, outlen, "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Lax%s",
                     EDGE_RESUME_COOKIE, token, max_age, secure ? "; Secure" : "");
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}
