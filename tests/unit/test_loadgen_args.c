/*  Unit tests for loadgen_args and loadgen_url: the command line. */
#include "loadgen_args.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int parse(loadgen_args_t *args, char *error, int argc, const char **argv)
{
    FILE *sink = fopen("/dev/null", "w");
    int rc = loadgen_args_parse(argc, (char **)argv, args, sink, error, 256);
    fclose(sink);
    return rc;
}

/* A full subscribe line sets every field; both flag forms work. */
Test(loadgen_args, subscribe_line_sets_every_field)
{
    const char *argv[] = {"lg",           "subscribe",    "--url=ws://127.0.0.1:8765/ws?x=1",
                          "--proto",      "wamp-msgpack", "--conns",
                          "1000",         "--expect",     "2000",
                          "--timeout-s",  "2.5",          "--connect-concurrency=64",
                          "--ready-file", "/tmp/r",       "--topic",
                          "t.x",          "--realm",      "r1",
                          "--out",        "/tmp/o"};
    loadgen_args_t args;
    char error[256] = "";
    cr_assert_eq(parse(&args, error, sizeof(argv) / sizeof(argv[0]), argv), 0, "%s", error);
    cr_assert_eq(args.mode, LOADGEN_MODE_SUBSCRIBE);
    cr_assert_eq(args.proto, LOADGEN_PROTO_WAMP_MSGPACK);
    cr_assert_eq(args.conns, 1000);
    cr_assert_eq(args.expect, 2000);
    cr_assert_float_eq(args.timeout_s, 2.5, 1e-9);
    cr_assert_eq(args.connect_concurrency, 64);
    cr_assert_str_eq(args.ready_file, "/tmp/r");
    cr_assert_str_eq(args.topic, "t.x");
    cr_assert_str_eq(args.realm, "r1");
    cr_assert_str_eq(args.out, "/tmp/o");
    cr_assert_str_eq(args.url.host, "127.0.0.1");
    cr_assert_eq(args.url.port, 8765);
    cr_assert_str_eq(args.url.path, "/ws?x=1");
    cr_assert_str_eq(args.url.host_header, "127.0.0.1:8765");
}

/* Defaults: topic bench.tick, realm telegraphy, 60 s, 256 handshakes. */
Test(loadgen_args, subscribe_defaults_follow_the_interface)
{
    const char *argv[] = {"lg",      "subscribe", "--url",   "ws://localhost/",
                          "--proto", "raw",       "--conns", "1"};
    loadgen_args_t args;
    char error[256] = "";
    cr_assert_eq(parse(&args, error, 8, argv), 0, "%s", error);
    cr_assert_str_eq(args.topic, "bench.tick");
    cr_assert_str_eq(args.realm, "telegraphy");
    cr_assert_float_eq(args.timeout_s, 60.0, 1e-9);
    cr_assert_eq(args.connect_concurrency, 256);
    cr_assert_eq(args.expect, 0);
    cr_assert_eq(args.url.port, 80);
    cr_assert_null(args.out);
}

/* publish-http reads count, rate and pad. */
Test(loadgen_args, publish_http_line_sets_its_fields)
{
    const char *argv[] = {"lg",      "publish-http",
                          "--url",   "http://127.0.0.1:9000/pub?id=b",
                          "--count", "2000",
                          "--rate",  "1000",
                          "--pad",   "64"};
    loadgen_args_t args;
    char error[256] = "";
    cr_assert_eq(parse(&args, error, 10, argv), 0, "%s", error);
    cr_assert_eq(args.mode, LOADGEN_MODE_PUBLISH_HTTP);
    cr_assert_eq(args.count, 2000);
    cr_assert_float_eq(args.rate, 1000.0, 1e-9);
    cr_assert_eq(args.pad, 64);
    cr_assert_str_eq(args.url.path, "/pub?id=b");
}

/* --help prints and asks to exit 0. */
Test(loadgen_args, help_returns_one)
{
    const char *argv[] = {"lg", "publish-http", "--help"};
    loadgen_args_t args;
    char error[256];
    cr_assert_eq(parse(&args, error, 3, argv), 1);
}

/* Usage errors say what is wrong. */
Test(loadgen_args, usage_errors_are_explained)
{
    struct {
        int argc;
        const char *argv[8];
        const char *says;
    } cases[] = {
        {1, {"lg"}, "mode"},
        {2, {"lg", "fly"}, "unknown mode"},
        {6, {"lg", "subscribe", "--url", "ws://h/", "--proto", "raw"}, "--conns"},
        {8, {"lg", "subscribe", "--url", "ws://h/", "--proto", "stomp", "--conns", "1"}, "--proto"},
        {8, {"lg", "subscribe", "--url", "wss://h/", "--proto", "raw", "--conns", "1"}, "ws://"},
        {8, {"lg", "subscribe", "--url", "ws://h:0/", "--proto", "raw", "--conns", "1"}, "port"},
        {8, {"lg", "subscribe", "--url", "ws://h/", "--proto", "raw", "--conns", "-3"}, "--conns"},
        {6, {"lg", "publish-http", "--url", "http://h/", "--conns", "3"}, "unknown option"},
        {4, {"lg", "publish-http", "--url", "http://h/"}, "--count"},
        {3, {"lg", "subscribe", "--url"}, "needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        loadgen_args_t args;
        char error[256] = "";
        cr_assert_eq(parse(&args, error, cases[i].argc, cases[i].argv), -1, "case %zu", i);
        cr_assert_not_null(strstr(error, cases[i].says), "case %zu: %s", i, error);
    }
}

/* IPv6 literals keep their brackets in the Host header only. */
Test(loadgen_args, ipv6_url_host_is_unbracketed)
{
    loadgen_url_t url;
    const char *error;
    cr_assert_eq(loadgen_url_parse("ws://[::1]:81/x", true, &url, &error), 0);
    cr_assert_str_eq(url.host, "::1");
    cr_assert_eq(url.port, 81);
    cr_assert_str_eq(url.host_header, "[::1]:81");
    cr_assert_eq(loadgen_url_resolve(&url, &error), 0);
}

/* --token TOKEN and the --persistent switch (no value) for wamp; both are
   refused for raw WebSockets. */
Test(loadgen_args, token_and_persistent_switch)
{
    const char *argv[] = {
        "lg",        "subscribe", "--url", "ws://localhost/", "--persistent", "--proto",
        "wamp-json", "--conns",   "1",     "--token=abc.def"};
    loadgen_args_t args;
    char error[256] = "";
    cr_assert_eq(parse(&args, error, sizeof(argv) / sizeof(argv[0]), argv), 0, "%s", error);
    cr_assert(args.persistent);
    cr_assert_str_eq(args.token, "abc.def");
    const char *plain[] = {"lg",      "subscribe", "--url",   "ws://localhost/",
                           "--proto", "wamp-json", "--conns", "1"};
    cr_assert_eq(parse(&args, error, sizeof(plain) / sizeof(plain[0]), plain), 0, "%s", error);
    cr_assert_not(args.persistent);
    cr_assert_null(args.token);
    const char *raw[] = {"lg",  "subscribe", "--url", "ws://localhost/", "--proto",
                         "raw", "--conns",   "1",     "--persistent"};
    cr_assert_eq(parse(&args, error, sizeof(raw) / sizeof(raw[0]), raw), -1);
    cr_assert_not_null(strstr(error, "WAMP"));
}
