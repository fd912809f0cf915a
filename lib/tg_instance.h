/*  tg_instance: the instance id of a process, "<role>-<16 hex digits>".
    It is the process's ZeroMQ routing id at the router and its name in
    status, so it must be unique per start: 64 random bits. */
#ifndef TG_INSTANCE_H
#define TG_INSTANCE_H

#include <stddef.h>

/* Longest id produced (role up to 32 bytes), terminator included. */
#define TG_INSTANCE_MAX 50

/* Writes a fresh id for `role` ("router", "ingest", "edge", "persist")
   into out (size >= TG_INSTANCE_MAX). */
void tg_instance_new(const char *role, char *out, size_t size);

#endif
