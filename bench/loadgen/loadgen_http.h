/*  loadgen_http: the HTTP/1.1 response reader of the publish-http mode.

    nchan answers each POST with 201/202 and a small body, with a
    Content-Length or chunked; a response without either ends when the
    server closes. The parser looks at the whole buffer each time (the
    responses are a few hundred bytes) and says where the response ends so
    the next one can follow on the keep-alive connection.
*/
#ifndef LOADGEN_HTTP_H
#define LOADGEN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int status;      /* 100..999 */
    bool keep_alive; /* the connection may carry the next request */
    size_t length;   /* bytes of the whole response: header + body */
} loadgen_http_response_t;

/* Parses the response at the start of data. eof: the server closed after
   these bytes (ends a response delimited by the close).
   1: complete, *response filled. 0: more bytes needed. -1: malformed. */
int loadgen_http_response_parse(const uint8_t *data, size_t len, bool eof,
                                loadgen_http_response_t *response);

#endif
