/*  loadgen_output: see loadgen_output.h. */
#include "loadgen_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tg_log.h"

int loadgen_output_write(const char *path, const char *text, size_t len)
{
    if (!path || strcmp(path, "-") == 0) {
        fwrite(text, 1, len, stdout);
        fputc('\n', stdout);
        return fflush(stdout) == 0 ? 0 : -1;
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        tg_log_error("loadgen: output path too long path=%s", path);
        return -1;
    }
    FILE *file = fopen(tmp, "w");
    if (!file) {
        tg_log_error("loadgen: cannot write path=%s error=%s", tmp, strerror(errno));
        return -1;
    }
    int rc = fwrite(text, 1, len, file) == len && fputc('\n', file) != EOF ? 0 : -1;
    if (fclose(file) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        tg_log_error("loadgen: cannot write path=%s error=%s", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}
