/*  tg_signal: see tg_signal.h. */
#include "tg_signal.h"

#include <czmq.h>
#include <pthread.h>
#include <signal.h>

static void s_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void tg_signal_block(void)
{
    /* czmq installs SIGINT/SIGTERM handlers when it initialises unless told
       not to; with the signals blocked they would never run anyway. */
    zsys_handler_set(NULL);
    sigset_t set;
    s_stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int tg_signal_wait(void)
{
    sigset_t set;
    s_stop_signals(&set);
    int signal_number = 0;
    while (sigwait(&set, &signal_number) != 0)
        ;
    return signal_number;
}

const char *tg_signal_name(int signal_number)
{
    return signal_number == SIGINT ? "SIGINT" : signal_number == SIGTERM ? "SIGTERM" : "signal";
}
