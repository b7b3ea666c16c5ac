/* qmp.h - a minimal QEMU Machine Protocol client */
#ifndef FC_QMP_H
#define FC_QMP_H

#include <stdint.h>

struct fc_err;
struct buf;

/* Connect, read the greeting, negotiate capabilities. Returns the fd. */
int qmp_open(const char *path, int watch_fd, int64_t deadline,
	     struct fc_err *e);

/*
 * Send one command (a JSON object) and wait for its reply, skipping
 * events. reply (may be NULL) gets the reply line. A QMP error is -1
 * with FC_EVMM and QEMU's description.
 */
int qmp_cmd(int fd, const char *cmd, int64_t deadline, struct buf *reply,
	    struct fc_err *e);

#endif
