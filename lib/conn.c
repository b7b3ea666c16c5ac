/* conn.c - a framed connection driven by a poll() loop: never blocks */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

void conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void conn_close(struct conn *c)
{
	frame_reader_free(&c->rd);
	buf_free(&c->out);
	c->out_off = 0;
	c->in_have = c->in_off = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->in_off < c->in_have)
		return 1;	/* decode what is there first */
	c->in_off = c->in_have = 0;
	do
		n = read(c->fd, c->in, sizeof(c->in));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 2 : -1;
	if (n == 0)
		return 0;
	c->in_have = (size_t)n;
	return 1;
}

int conn_frame(struct conn *c, struct frame *f)
{
	int done = 0;

	while (c->in_off < c->in_have) {
		long used = frame_feed(&c->rd, c->in + c->in_off,
				       c->in_have - c->in_off, f, &done);
		if (used < 0)
			return -1;
		c->in_off += (size_t)used;
		if (done)
			return 1;
	}
	c->in_off = c->in_have = 0;
	return 0;
}

size_t conn_pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

int conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out_off,
				 c->out.len - c->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == ENOTSOCK)
			w = write(c->fd, c->out.p + c->out_off,
				  c->out.len - c->out_off);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->out_off += (size_t)w;
	}
	/* All written: start the queue over instead of growing it. */
	c->out.len = c->out_off = 0;
	if (c->out.cap > (1u << 20)) {
		buf_free(&c->out);
	}
	return 0;
}

int conn_sendv(struct conn *c, char type, const void *const *parts,
	       const size_t *lens, int n)
{
	unsigned char hdr[FC_FRAME_HDR];
	size_t total = 0;

	for (int i = 0; i < n; i++)
		total += lens[i];
	if (total > FC_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	frame_hdr(hdr, type, (uint32_t)total);
	if (buf_add(&c->out, hdr, sizeof(hdr)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (lens[i] && buf_add(&c->out, parts[i], lens[i]) < 0)
			return -1;
	return conn_flush(c);
}

int conn_send(struct conn *c, char type, const void *p, size_t n)
{
	return conn_sendv(c, type, &p, &n, 1);
}
