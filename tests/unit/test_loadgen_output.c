/*  Unit tests for loadgen_output: result files appear atomically. */
#include "loadgen_output.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file holds the text and a newline, and no temporary is left. */
Test(loadgen_output, file_gets_the_text_and_no_temporary_remains)
{
    char dir[] = "/tmp/loadgen-output-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/result.json", dir);
    cr_assert_eq(loadgen_output_write(path, "{\"a\":1}", 7), 0);
    cr_assert_eq(loadgen_output_write(path, "{\"b\":2}", 7), 0); /* replaces */
    FILE *file = fopen(path, "r");
    char text[64] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    cr_assert_eq(n, 8);
    cr_assert_str_eq(text, "{\"b\":2}\n");
    DIR *listing = opendir(dir);
    int entries = 0;
    for (struct dirent *entry; (entry = readdir(listing));)
        if (entry->d_name[0] != '.')
            entries++;
    closedir(listing);
    cr_assert_eq(entries, 1);
    unlink(path);
    rmdir(dir);
}

/* A path in a missing directory fails with -1 (logged), not a crash. */
Test(loadgen_output, unwritable_path_fails)
{
    cr_assert_eq(loadgen_output_write("/nonexistent-dir/x/result.json", "{}", 2), -1);
}
