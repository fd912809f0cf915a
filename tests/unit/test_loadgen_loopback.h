/*  A listening socket on 127.0.0.1 at a free port, for the loadgen tests
    that run the real loops against a server thread of their own. */
#ifndef TEST_LOADGEN_LOOPBACK_H
#define TEST_LOADGEN_LOOPBACK_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The listening descriptor (caller closes); *port receives its port. */
static inline int listen_loopback(int *port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, len), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    *port = ntohs(addr.sin_port);
    return fd;
}

#endif
