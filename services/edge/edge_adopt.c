/*  edge_adopt: see edge_adopt.h. */
#include "edge_adopt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct lws *edge_adopt_zsock(struct lws_vhost *vhost, const char *protocol, zsock_t *sock,
                             void *opaque, const char *what, char *error, size_t error_size)
{
    int fd = dup(zsock_fd(sock));
    if (fd < 0) {
        snprintf(error, error_size, "edge: cannot dup the %s fd error=\"%s\"", what,
                 strerror(errno));
        return NULL;
    }
    lws_adopt_desc_t desc;
    memset(&desc, 0, sizeof(desc));
    desc.vh = vhost;
    desc.type = LWS_ADOPT_RAW_FILE_DESC;
    desc.fd.filefd = fd;
    desc.vh_prot_name = protocol;
    desc.opaque = opaque;
    /* On failure lws closes fd itself. */
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&desc);
    if (!wsi)
        snprintf(error, error_size, "edge: cannot adopt the %s fd", what);
    return wsi;
}
