/*  loadgen_output: where results go.

    The orchestrator polls for the ready file and reads the result file,
    so both appear atomically: written to PATH.tmp.PID, then renamed.
*/
#ifndef LOADGEN_OUTPUT_H
#define LOADGEN_OUTPUT_H

#include <stddef.h>

/* Writes text (plus a newline) to path, atomically; to stdout when path is
   NULL or "-". 0, or -1 (logged). */
int loadgen_output_write(const char *path, const char *text, size_t len);

#endif
