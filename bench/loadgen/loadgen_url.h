/*  loadgen_url: ws:// and http:// URLs of the systems under test.

    Only plain TCP (no wss/https): every benchmark runs on loopback. The
    host is resolved once (getaddrinfo) into the address every connection
    uses.
*/
#ifndef LOADGEN_URL_H
#define LOADGEN_URL_H

#include <stdbool.h>
#include <sys/socket.h>

#define LOADGEN_URL_MAX 1024

typedef struct {
    bool websocket;               /* ws:// (else http://) */
    char host[256];               /* host name or address, no brackets */
    int port;                     /* explicit or 80 */
    char path[LOADGEN_URL_MAX];   /* "/..." with the query, "/" if none */
    char host_header[300];        /* Host header value: host[:port] */
    struct sockaddr_storage addr; /* resolved address */
    socklen_t addr_len;           /* its length */
} loadgen_url_t;

/* Parses scheme://host[:port][/path]; scheme "ws" or "http" (as
   `want_websocket` says). 0, or -1 with *error a static explanation. Does
   not resolve. */
int loadgen_url_parse(const char *text, bool want_websocket, loadgen_url_t *url,
                      const char **error);

/* Resolves host:port into url->addr (first TCP address). 0 or -1. */
int loadgen_url_resolve(loadgen_url_t *url, const char **error);

#endif
