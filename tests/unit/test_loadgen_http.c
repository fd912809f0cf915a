/*  Unit tests for loadgen_http: responses to the publisher's POSTs. */
#include "loadgen_http.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *text, bool eof, loadgen_http_response_t *r)
{
    return loadgen_http_response_parse((const uint8_t *)text, strlen(text), eof, r);
}

/* nchan's 202 with a Content-Length body ends after the body, keep-alive. */
Test(loadgen_http, content_length_response_ends_after_its_body)
{
    const char *text = "HTTP/1.1 202 Accepted\r\nServer: nginx\r\nContent-Length: 5\r\n\r\n"
                       "hello"
                       "HTTP/1.1 201";
    loadgen_http_response_t r;
    cr_assert_eq(parse(text, false, &r), 1);
    cr_assert_eq(r.status, 202);
    cr_assert(r.keep_alive);
    cr_assert_eq(r.length, strlen(text) - strlen("HTTP/1.1 201"));
}

/* Until the whole body is in, more bytes are needed. */
Test(loadgen_http, partial_body_needs_more)
{
    loadgen_http_response_t r;
    cr_assert_eq(parse("HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc", false, &r), 0);
    cr_assert_eq(parse("HTTP/1.1 201 Created\r\nContent-Le", false, &r), 0);
}

/* A chunked body (with an extension and a trailer) ends after the last
   chunk's empty line. */
Test(loadgen_http, chunked_response_ends_after_the_last_chunk)
{
    const char *text = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
    loadgen_http_response_t r;
    cr_assert_eq(parse(text, false, &r), 1);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.length, strlen(text));
    /* Cut anywhere before the end: more is needed. */
    for (size_t cut = 0; cut < strlen(text); cut++)
        cr_assert_eq(loadgen_http_response_parse((const uint8_t *)text, cut, false, &r), 0,
                     "cut=%zu", cut);
}

/* Connection: close and HTTP/1.0 end the keep-alive. */
Test(loadgen_http, close_and_http10_end_keep_alive)
{
    loadgen_http_response_t r;
    cr_assert_eq(
        parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, &r), 1);
    cr_assert_not(r.keep_alive);
    cr_assert_eq(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, &r), 1);
    cr_assert_not(r.keep_alive);
}

/* Without a length the body runs to the close; 204 has none. */
Test(loadgen_http, body_without_length_ends_at_close)
{
    loadgen_http_response_t r;
    const char *text = "HTTP/1.1 500 Oops\r\n\r\nsome text";
    cr_assert_eq(parse(text, false, &r), 0);
    cr_assert_eq(parse(text, true, &r), 1);
    cr_assert_eq(r.status, 500);
    cr_assert_eq(r.length, strlen(text));
    cr_assert_eq(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r), 1);
}

/* Garbage, a bad status or a bad length is malformed. */
Test(loadgen_http, malformed_responses_are_refused)
{
    loadgen_http_response_t r;
    cr_assert_eq(parse("SMTP ready\r\n\r\n", false, &r), -1);
    cr_assert_eq(parse("HTTP/1.1 2x0 OK\r\n\r\n", false, &r), -1);
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, &r), -1);
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, &r),
                 -1);
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true, &r), -1);
}
