/*  Unit tests for tg_config: defaults, environment, flags, checks, --help.
    Criterion runs each test in its own process, so setenv() stays local.
*/
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>

#include "tg_config.h"

#define ALL_OPTIONS 0x3fffffffu

/* The caller's environment must not leak into the tests. */
static void clean_environment(void)
{
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "TELEGRAPHY_", 11) == 0) {
                char name[128];
                size_t len = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)len, *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

static void redirect_all(void)
{
    clean_environment();
    cr_redirect_stdout();
    cr_redirect_stderr();
}

/* Everything written to the redirected stderr so far. */
static char *captured_stderr(void)
{
    fflush(stderr);
    FILE *in = cr_get_redirected_stderr();
    static char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, in);
    text[len] = '\0';
    return text;
}

static int load(tg_config_t *cfg, unsigned options, int argc, char **argv, int *rest)
{
    return tg_config_load(cfg, options, argc, argv, "telegraphy-test", "a test", rest);
}

/* With no environment and no flags, every setting has its default. */
Test(tg_config, defaults_apply_without_environment_or_flags, .init = redirect_all)
{
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), 0);
    cr_assert_str_eq(cfg.ingest, TG_DEFAULT_INGEST);
    cr_assert_str_eq(cfg.ingest_ack, TG_DEFAULT_INGEST_ACK);
    cr_assert_str_eq(cfg.router, TG_DEFAULT_ROUTER);
    cr_assert_str_eq(cfg.control, TG_DEFAULT_CONTROL);
    cr_assert_str_eq(cfg.edge_host, "127.0.0.1");
    cr_assert_eq(cfg.edge_port, 8765);
    cr_assert_str_eq(cfg.realm, "telegraphy");
    cr_assert_eq(cfg.max_message, 1048576);
    cr_assert_eq(cfg.max_event, 65536);
    cr_assert_eq(cfg.session_queue, 1024);
    cr_assert_eq(cfg.max_sessions, 10000);
    cr_assert_eq(cfg.max_subscriptions, 256);
    cr_assert_eq(cfg.max_filter, 1024);
    cr_assert_eq(cfg.filter_max_depth, 32);
    cr_assert_eq(cfg.filter_max_list, 256);
    cr_assert_eq(cfg.heartbeat_ms, 1000);
    cr_assert_eq(cfg.hwm, 100000);
    cr_assert_str_eq(cfg.secret, "");
    cr_assert(cfg.allow_anonymous);
    cr_assert_str_eq(cfg.log_level, "info");
    cr_assert_eq(cfg.timeout_ms, 5000);
    cr_assert_str_eq(cfg.secret_previous, "");
    cr_assert_eq(cfg.resume_ttl, 86400);
    cr_assert_eq(cfg.token_skew, 30);
}

/* The environment overrides defaults. */
Test(tg_config, environment_overrides_defaults, .init = redirect_all)
{
    setenv("TELEGRAPHY_EDGE_PORT", "9001", 1);
    setenv("TELEGRAPHY_ROUTER", "ipc:///tmp/router.sock", 1);
    setenv("TELEGRAPHY_ALLOW_ANONYMOUS", "off", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), 0);
    cr_assert_eq(cfg.edge_port, 9001);
    cr_assert_str_eq(cfg.router, "ipc:///tmp/router.sock");
    cr_assert_not(cfg.allow_anonymous);
}

/* persist's settings: the database URI and the bounds of DESIGN 2.2, with
   their documented defaults. */
Test(tg_config, persistence_settings_have_design_defaults, .init = redirect_all)
{
    setenv("TELEGRAPHY_DATABASE_URL", "postgresql:///telegraphy?host=/tmp/pg", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", "--backlog-max", "50", NULL};
    unsigned options =
        TG_OPT_DATABASE_URL | TG_OPT_BACKLOG_MAX | TG_OPT_PERSISTENT_TTL | TG_OPT_STORE_TIMEOUT_MS;
    cr_assert_eq(load(&cfg, options, 3, argv, NULL), 0);
    cr_assert_str_eq(cfg.database_url, "postgresql:///telegraphy?host=/tmp/pg");
    cr_assert_eq(cfg.backlog_max, 50);
    cr_assert_eq(cfg.persistent_ttl, 7 * 24 * 3600);
    cr_assert_eq(cfg.store_timeout_ms, 5000);
}

/* The edge's allowed origins: empty by default (the same-host rule), a
   list from the environment. */
Test(tg_config, allowed_origins_default_to_the_same_host_rule, .init = redirect_all)
{
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, TG_OPT_ALLOWED_ORIGINS, 1, argv, NULL), 0);
    cr_assert_str_eq(cfg.allowed_origins, "");
    setenv("TELEGRAPHY_ALLOWED_ORIGINS", "https://shop.example,http://localhost:8000", 1);
    cr_assert_eq(load(&cfg, TG_OPT_ALLOWED_ORIGINS, 1, argv, NULL), 0);
    cr_assert_str_eq(cfg.allowed_origins, "https://shop.example,http://localhost:8000");
}

/* A flag wins over the environment, in both spellings. */
Test(tg_config, flag_wins_over_environment, .init = redirect_all)
{
    setenv("TELEGRAPHY_EDGE_PORT", "9001", 1);
    setenv("TELEGRAPHY_REALM", "from.env", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", "--port", "9002", "--realm=from.flag", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 4, argv, NULL), 0);
    cr_assert_eq(cfg.edge_port, 9002);
    cr_assert_str_eq(cfg.realm, "from.flag");
}

/* Environment variables of options the process does not use are ignored. */
Test(tg_config, environment_of_undeclared_options_is_ignored, .init = redirect_all)
{
    setenv("TELEGRAPHY_EDGE_PORT", "not a port", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, TG_OPT_ROUTER, 1, argv, NULL), 0);
    cr_assert_eq(cfg.edge_port, 8765);
}

/* A flag of an option the process does not use is an error. */
Test(tg_config, flag_of_undeclared_option_is_an_error, .init = redirect_all)
{
    tg_config_t cfg;
    char *argv[] = {"prog", "--port", "9000", NULL};
    cr_assert_eq(load(&cfg, TG_OPT_ROUTER, 3, argv, NULL), -1);
    cr_assert(strstr(captured_stderr(), "--port"));
}

/* Booleans accept 1/0, true/false, yes/no, on/off in any case; a bare
   boolean flag means true. */
Test(tg_config, booleans_accept_every_spelling, .init = redirect_all)
{
    const char *yes[] = {"1", "true", "yes", "on", "TRUE", "Yes"};
    const char *no[] = {"0", "false", "no", "off", "OFF"};
    tg_config_t cfg;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        char *argv[] = {"prog", "--allow-anonymous", (char *)yes[i], NULL};
        setenv("TELEGRAPHY_ALLOW_ANONYMOUS", "0", 1);
        cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), 0);
        cr_assert(cfg.allow_anonymous, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        char *argv[] = {"prog", "--allow-anonymous", (char *)no[i], NULL};
        unsetenv("TELEGRAPHY_ALLOW_ANONYMOUS");
        cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), 0);
        cr_assert_not(cfg.allow_anonymous, "%s", no[i]);
    }
    setenv("TELEGRAPHY_ALLOW_ANONYMOUS", "no", 1);
    char *bare[] = {"prog", "--allow-anonymous", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, bare, NULL), 0);
    cr_assert(cfg.allow_anonymous);
}

/* A bad boolean is an error naming the variable and the flag. */
Test(tg_config, bad_boolean_is_an_error, .init = redirect_all)
{
    setenv("TELEGRAPHY_ALLOW_ANONYMOUS", "maybe", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), -1);
    char *err = captured_stderr();
    cr_assert(strstr(err, "TELEGRAPHY_ALLOW_ANONYMOUS"), "%s", err);
    cr_assert(strstr(err, "--allow-anonymous"), "%s", err);
}

/* Ports are 1..65535, digits only. */
Test(tg_config, ports_out_of_range_are_errors, .init = redirect_all)
{
    const char *bad[] = {"0", "65536", "-1", "80x", "", " 80", "99999999999999999999"};
    tg_config_t cfg;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"prog", "--port", (char *)bad[i], NULL};
        cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), -1, "port \"%s\"", bad[i]);
    }
    char *argv[] = {"prog", "--port=65535", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, argv, NULL), 0);
    cr_assert_eq(cfg.edge_port, 65535);
}

/* A bad environment port names both TELEGRAPHY_EDGE_PORT and --port. */
Test(tg_config, bad_environment_value_names_variable_and_flag, .init = redirect_all)
{
    setenv("TELEGRAPHY_EDGE_PORT", "70000", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), -1);
    char *err = captured_stderr();
    cr_assert(strstr(err, "TELEGRAPHY_EDGE_PORT"), "%s", err);
    cr_assert(strstr(err, "--port"), "%s", err);
    cr_assert(strstr(err, "70000"), "%s", err);
}

/* Unsigned settings have ranges: max_message is at least 1024. */
Test(tg_config, unsigned_ranges_are_checked, .init = redirect_all)
{
    tg_config_t cfg;
    char *low[] = {"prog", "--max-message", "1023", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, low, NULL), -1);
    char *negative[] = {"prog", "--hwm", "-5", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, negative, NULL), -1);
    char *zero[] = {"prog", "--session-queue=0", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, zero, NULL), -1);
    char *huge[] = {"prog", "--max-filter", "65537", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, huge, NULL), -1);
    char *ok[] = {"prog", "--max-message", "1024", "--heartbeat-ms", "250", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 5, ok, NULL), 0);
    cr_assert_eq(cfg.max_message, 1024);
    cr_assert_eq(cfg.heartbeat_ms, 250);
}

/* The filter depth and list limits come from the environment or flags,
   within 1..256 and 1..65536 (the query parser's own ceilings). */
Test(tg_config, filter_depth_and_list_limits_are_settings, .init = redirect_all)
{
    setenv("TELEGRAPHY_FILTER_MAX_DEPTH", "8", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", "--filter-max-list=16", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, argv, NULL), 0);
    cr_assert_eq(cfg.filter_max_depth, 8);
    cr_assert_eq(cfg.filter_max_list, 16);
    char *deep[] = {"prog", "--filter-max-depth", "257", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, deep, NULL), -1);
    char *zero[] = {"prog", "--filter-max-list", "0", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, zero, NULL), -1);
    char *long_list[] = {"prog", "--filter-max-list", "65537", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, long_list, NULL), -1);
    cr_assert(strstr(captured_stderr(), "TELEGRAPHY_FILTER_MAX_LIST"));
}

/* Endpoints must look like tcp://host:port, ipc://path or inproc://name. */
Test(tg_config, endpoints_must_have_a_known_shape, .init = redirect_all)
{
    const char *good[] = {"tcp://127.0.0.1:5562", "tcp://localhost:1", "tcp://*:5562",
                          "tcp://127.0.0.1:*",    "tcp://[::1]:5562",  "ipc:///tmp/x.sock",
                          "inproc://router"};
    const char *bad[] = {
        "127.0.0.1:5562",        "tcp://127.0.0.1", "tcp://:5562", "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536", "udp://1.2.3.4:5", "ipc://",      "inproc://",
        "tcp://a b:1",           "tcp://h:12x"};
    tg_config_t cfg;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *argv[] = {"prog", "--router", (char *)good[i], NULL};
        cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), 0, "%s", good[i]);
        cr_assert_str_eq(cfg.router, good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"prog", "--router", (char *)bad[i], NULL};
        cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), -1, "%s", bad[i]);
    }
}

/* Log levels are the four names. */
Test(tg_config, log_level_must_be_known, .init = redirect_all)
{
    tg_config_t cfg;
    char *ok[] = {"prog", "--log-level", "debug", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, ok, NULL), 0);
    cr_assert_str_eq(cfg.log_level, "debug");
    char *bad[] = {"prog", "--log-level", "loud", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, bad, NULL), -1);
}

/* Too-long strings are refused rather than truncated. */
Test(tg_config, overlong_values_are_errors, .init = redirect_all)
{
    char secret[600];
    memset(secret, 's', sizeof secret - 1);
    secret[sizeof secret - 1] = '\0';
    tg_config_t cfg;
    char *argv[] = {"prog", "--secret", secret, NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, argv, NULL), -1);
    /* and the secret itself is never echoed */
    cr_assert_null(strstr(captured_stderr(), "ssssssss"));
}

/* An empty environment variable counts as unset. */
Test(tg_config, empty_environment_variable_is_unset, .init = redirect_all)
{
    setenv("TELEGRAPHY_EDGE_PORT", "", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), 0);
    cr_assert_eq(cfg.edge_port, 8765);
}

/* Unknown flags, a flag without its value and stray arguments are errors
   when the caller takes no rest. */
Test(tg_config, unknown_flags_and_arguments_are_errors, .init = redirect_all)
{
    tg_config_t cfg;
    char *unknown[] = {"prog", "--colour", "red", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, unknown, NULL), -1);
    char *novalue[] = {"prog", "--port", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, novalue, NULL), -1);
    char *stray[] = {"prog", "status", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, stray, NULL), -1);
    cr_assert(strstr(captured_stderr(), "status"));
}

/* With `rest`, parsing stops at the first non-flag (a ctl subcommand) and
   its index comes back; the subcommand's own flags are left alone. */
Test(tg_config, rest_points_at_the_first_non_flag, .init = redirect_all)
{
    tg_config_t cfg;
    int rest = -1;
    char *argv[] = {"ctl", "--timeout-ms", "100", "register", "a.b", "--ttl", "5", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 7, argv, &rest), 0);
    cr_assert_eq(rest, 3);
    cr_assert_eq(cfg.timeout_ms, 100);

    char *none[] = {"ctl", "--timeout-ms=7", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 2, none, &rest), 0);
    cr_assert_eq(rest, 2);

    char *dashdash[] = {"ctl", "--", "--weird", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, dashdash, &rest), 0);
    cr_assert_eq(rest, 2);
}

/* --help prints the usage on stdout and returns 1. */
Test(tg_config, help_prints_usage_and_returns_one, .init = redirect_all)
{
    tg_config_t cfg;
    char *argv[] = {"prog", "--port", "1", "--help", NULL};
    cr_assert_eq(load(&cfg, TG_OPT_EDGE_PORT, 4, argv, NULL), 1);
    char *h[] = {"prog", "-h", NULL};
    cr_assert_eq(load(&cfg, TG_OPT_EDGE_PORT, 2, h, NULL), 1);
}

/* The usage table lists flag, variable, default and meaning of exactly the
   declared options. */
Test(tg_config, usage_lists_declared_options_only)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    tg_config_usage(out, TG_OPT_ROUTER | TG_OPT_HEARTBEAT_MS, "telegraphy-router", "routes");
    fclose(out);
    cr_assert(strstr(text, "telegraphy-router"));
    cr_assert(strstr(text, "routes"));
    cr_assert(strstr(text, "--router ENDPOINT"));
    cr_assert(strstr(text, "TELEGRAPHY_ROUTER"));
    cr_assert(strstr(text, TG_DEFAULT_ROUTER));
    cr_assert(strstr(text, "--heartbeat-ms"));
    cr_assert(strstr(text, "1000"));
    cr_assert(strstr(text, "--help"));
    cr_assert_null(strstr(text, "--port"));
    cr_assert_null(strstr(text, "TELEGRAPHY_SECRET"));
    free(text);
}

/* The token settings (rotation secret, resume lifetime, clock skew) come
   from their TELEGRAPHY_* variables, and flags win over them. */
Test(tg_config, token_settings_come_from_environment_and_flags, .init = redirect_all)
{
    setenv("TELEGRAPHY_SECRET_PREVIOUS", "old-secret", 1);
    setenv("TELEGRAPHY_RESUME_TTL", "3600", 1);
    setenv("TELEGRAPHY_TOKEN_SKEW", "5", 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), 0);
    cr_assert_str_eq(cfg.secret_previous, "old-secret");
    cr_assert_eq(cfg.resume_ttl, 3600);
    cr_assert_eq(cfg.token_skew, 5);
    char *flags[] = {"prog", "--secret-previous=older", "--resume-ttl",
                     "120",  "--token-skew=0",          NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 5, flags, NULL), 0);
    cr_assert_str_eq(cfg.secret_previous, "older");
    cr_assert_eq(cfg.resume_ttl, 120);
    cr_assert_eq(cfg.token_skew, 0);
}

/* Resume lifetimes outside 60 s..30 days and skews over 600 s are errors
   naming the variable. */
Test(tg_config, token_settings_ranges_are_checked, .init = redirect_all)
{
    tg_config_t cfg;
    char *short_ttl[] = {"prog", "--resume-ttl", "59", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, short_ttl, NULL), -1);
    char *long_ttl[] = {"prog", "--resume-ttl", "2592001", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, long_ttl, NULL), -1);
    char *skew[] = {"prog", "--token-skew", "601", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 3, skew, NULL), -1);
    char *ok[] = {"prog", "--resume-ttl", "2592000", "--token-skew", "600", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 5, ok, NULL), 0);
    const char *text = captured_stderr();
    cr_assert(strstr(text, "TELEGRAPHY_RESUME_TTL"));
    cr_assert(strstr(text, "TELEGRAPHY_TOKEN_SKEW"));
}

/* A bad previous secret is never echoed either. */
Test(tg_config, previous_secret_is_never_echoed, .init = redirect_all)
{
    char secret[600];
    memset(secret, 'p', sizeof secret - 1);
    secret[sizeof secret - 1] = '\0';
    setenv("TELEGRAPHY_SECRET_PREVIOUS", secret, 1);
    tg_config_t cfg;
    char *argv[] = {"prog", NULL};
    cr_assert_eq(load(&cfg, ALL_OPTIONS, 1, argv, NULL), -1);
    const char *text = captured_stderr();
    cr_assert(strstr(text, "TELEGRAPHY_SECRET_PREVIOUS"));
    cr_assert_null(strstr(text, "pppppppp"));
}

/* The token settings are listed by --help only for processes that use them. */
Test(tg_config, usage_lists_token_settings_when_declared)
{
    char text[8192];
    FILE *out = fmemopen(text, sizeof text, "w");
    tg_config_usage(out, TG_OPT_SECRET_PREVIOUS | TG_OPT_RESUME_TTL | TG_OPT_TOKEN_SKEW, "p", NULL);
    fclose(out);
    cr_assert(strstr(text, "--secret-previous"));
    cr_assert(strstr(text, "TELEGRAPHY_RESUME_TTL"));
    cr_assert(strstr(text, "--token-skew"));
    out = fmemopen(text, sizeof text, "w");
    tg_config_usage(out, TG_OPT_SECRET, "p", NULL);
    fclose(out);
    cr_assert_null(strstr(text, "resume-ttl"));
}
