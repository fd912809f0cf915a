/*  loadgen_url: see loadgen_url.h. */
#include "loadgen_url.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int loadgen_url_parse(const char *text, bool want_websocket, loadgen_url_t *url, const char **error)
{
    memset(url, 0, sizeof(*url));
    const char *scheme = want_websocket ? "ws://" : "http://";
    size_t scheme_len = strlen(scheme);
    if (strncmp(text, scheme, scheme_len) != 0) {
        *error = want_websocket ? "the URL must start with ws:// (no TLS)"
                                : "the URL must start with http:// (no TLS)";
        return -1;
    }
    url->websocket = want_websocket;
    const char *authority = text + scheme_len;
    const char *slash = strchr(authority, '/');
    size_t authority_len = slash ? (size_t)(slash - authority) : strlen(authority);
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof(url->path)) {
        *error = "the URL's path is too long";
        return -1;
    }
    strcpy(url->path, path);
    const char *host = authority;
    size_t host_len;
    const char *rest;
    if (authority_len > 0 && authority[0] == '[') {
        const char *close = memchr(authority, ']', authority_len);
        if (!close) {
            *error = "unbalanced [ in the URL's host";
            return -1;
        }
        host = authority + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(authority, ':', authority_len);
        host_len = colon ? (size_t)(colon - authority) : authority_len;
        rest = authority + host_len;
    }
    if (host_len == 0 || host_len >= sizeof(url->host)) {
        *error = "the URL has no host (or a too long one)";
        return -1;
    }
    memcpy(url->host, host, host_len);
    url->host[host_len] = '\0';
    url->port = 80;
    const char *authority_end = authority + authority_len;
    if (rest < authority_end) {
        if (*rest != ':' || rest + 1 == authority_end) {
            *error = "bad port in the URL";
            return -1;
        }
        char *end;
        long port = strtol(rest + 1, &end, 10);
        if (end != authority_end || port < 1 || port > 65535) {
            *error = "bad port in the URL";
            return -1;
        }
        url->port = (int)port;
    }
    snprintf(url->host_header, sizeof(url->host_header), "%.*s", (int)authority_len, authority);
    return 0;
}

int loadgen_url_resolve(loadgen_url_t *url, const char **error)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", url->port);
    if (getaddrinfo(url->host, port, &hints, &found) != 0 || !found) {
        *error = "cannot resolve the URL's host";
        return -1;
    }
    memcpy(&url->addr, found->ai_addr, found->ai_addrlen);
    url->addr_len = found->ai_addrlen;
    freeaddrinfo(found);
    return 0;
}
