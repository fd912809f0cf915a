/*  tg_signal: the one signal strategy of the gateway's processes.

    main() blocks SIGINT and SIGTERM before any thread exists (so every
    thread, libzmq's and libwebsockets' included, inherits the mask), starts
    its actor, then waits for a signal synchronously with sigwait. No
    handler runs at an arbitrary point, nothing polls a flag; czmq's own
    handlers are switched off. SIGPIPE is ignored (a peer closing a socket
    is an error return, not a death).
*/
#ifndef TG_SIGNAL_H
#define TG_SIGNAL_H

/* Blocks SIGINT and SIGTERM in the calling thread (and the threads it
   will start), ignores SIGPIPE, and stops czmq from installing handlers.
   Call first thing in main(). */
void tg_signal_block(void);

/* Waits for SIGINT or SIGTERM; returns its number. */
int tg_signal_wait(void);

/* "SIGINT" / "SIGTERM" / "signal". */
const char *tg_signal_name(int signal_number);

#endif
