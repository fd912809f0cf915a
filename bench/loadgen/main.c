/*  telegraphy-loadgen: the benchmark load client (issue 6).

    Wiring only: parse the command line, raise the open-file limit, turn
    SIGTERM/SIGINT into a readable descriptor (the loops stop cleanly and
    still write their results), run the mode, write the JSON.
    Exit: 0 ran, 1 could not run, 2 usage.
*/
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "loadgen_args.h"
#include "loadgen_output.h"
#include "loadgen_publisher.h"
#include "loadgen_subscriber.h"
#include "tg_buf.h"
#include "tg_log.h"

int main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* our signals go to the signalfd below */
    tg_log_init("telegraphy-loadgen", getenv("TELEGRAPHY_LOG_LEVEL"));
    loadgen_args_t args;
    char error[512];
    int rc = loadgen_args_parse(argc, argv, &args, stdout, error, sizeof(error));
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "telegraphy-loadgen: %s (see telegraphy-loadgen %s--help)\n", error,
                args.mode == LOADGEN_MODE_SUBSCRIBE      ? "subscribe "
                : args.mode == LOADGEN_MODE_PUBLISH_HTTP ? "publish-http "
                                                         : "");
        return 2;
    }
    if (args.mode == LOADGEN_MODE_SUBSCRIBE &&
        loadgen_subscriber_raise_nofile(args.conns, error, sizeof(error)) != 0) {
        fprintf(stderr, "telegraphy-loadgen: %s\n", error);
        return 2;
    }
    const char *why = NULL;
    if (loadgen_url_resolve(&args.url, &why) != 0) {
        fprintf(stderr, "telegraphy-loadgen: %s: %s\n", args.url.host, why);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
    int stop_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (stop_fd < 0) {
        perror("telegraphy-loadgen: signalfd");
        return 1;
    }
    tg_buf_t result;
    tg_buf_init(&result, 0);
    rc = 1;
    if (args.mode == LOADGEN_MODE_SUBSCRIBE) {
        loadgen_subscriber_t *subscriber = loadgen_subscriber_new(&args);
        if (subscriber && loadgen_subscriber_run(subscriber, stop_fd) == 0) {
            loadgen_subscriber_result_json(subscriber, &result);
            rc = 0;
        }
        loadgen_subscriber_destroy(&subscriber);
    } else {
        loadgen_publisher_t *publisher = loadgen_publisher_new(&args);
        if (publisher && loadgen_publisher_run(publisher, stop_fd) == 0) {
            loadgen_publisher_result_json(publisher, &result);
            rc = 0;
        }
        loadgen_publisher_destroy(&publisher);
    }
    if (rc == 0 &&
        loadgen_output_write(args.out, (const char *)tg_buf_payload(&result), result.len) != 0)
        rc = 1;
    tg_buf_release(&result);
    close(stop_fd);
    return rc;
}
