/* conn.h - a framed connection driven by a poll() loop: never blocks */
#ifndef FC_CONN_H
#define FC_CONN_H

#include <stddef.h>

#include "frame.h"
#include "json.h"

/*
 * One non-blocking stream socket with an input decoder and an output
 * queue. The conn owns fd (conn_close closes it). Frames to send are
 * queued whole and written as the peer takes them: poll for POLLOUT while
 * conn_pending() is non-zero, then call conn_flush().
 */
struct conn {
	int fd;
	struct frame_reader rd;
	char in[65536];		/* bytes read but not yet decoded */
	size_t in_have, in_off;
	struct buf out;		/* queued output */
	size_t out_off;		/* bytes of out already written */
};

/* Take over fd and make it non-blocking. */
void conn_init(struct conn *c, int fd);
void conn_close(struct conn *c);

/*
 * Read what the socket has. 1: bytes arrived (take frames with
 * conn_frame), 2: nothing yet, 0: end of file, -1: error (errno).
 */
int conn_fill(struct conn *c);

/*
 * Take the next whole frame out of what was read. 1: f holds it (the
 * caller frees it), 0: none yet, -1: the stream is out of step (errno
 * EPROTO or EMSGSIZE).
 */
int conn_frame(struct conn *c, struct frame *f);

/*
 * Queue a frame made of the concatenation of n parts, then write what the
 * socket takes now. -1/errno on a write error (the peer is gone).
 */
int conn_sendv(struct conn *c, char type, const void *const *parts,
	       const size_t *lens, int n);
int conn_send(struct conn *c, char type, const void *p, size_t n);

/* Write queued output. 0: all or part written, -1/errno: peer gone. */
int conn_flush(struct conn *c);

/* Bytes queued and not yet written. */
size_t conn_pending(const struct conn *c);

#endif
