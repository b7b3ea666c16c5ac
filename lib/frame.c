/* frame.c - encode and decode host<->agent frames; libc only (agent links it) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"

static int is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

void frame_hdr(unsigned char *out, char type, uint32_t len)
{
	out[0] = (unsigned char)type;
	out[1] = (unsigned char)(len >> 24);
	out[2] = (unsigned char)(len >> 16);
	out[3] = (unsigned char)(len >> 8);
	out[4] = (unsigned char)len;
}

/* Check a received header and allocate the payload; -1/errno. */
static int start_frame(const unsigned char *hdr, struct frame *f)
{
	uint32_t len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
		       (uint32_t)hdr[3] << 8 | hdr[4];

	if (!is_letter((char)hdr[0])) {
		errno = EPROTO;
		return -1;
	}
	if (len > FC_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	f->data = malloc((size_t)len + 1);
	if (!f->data)
		return -1;
	f->type = (char)hdr[0];
	f->len = len;
	f->data[len] = '\0';
	return 0;
}

long frame_feed(struct frame_reader *r, const void *p, size_t n,
		struct frame *f, int *done)
{
	const unsigned char *in = p;
	size_t used = 0, k;

	*done = 0;
	if (r->got >= FC_FRAME_HDR && !r->cur.data) {
		errno = EPROTO;		/* a bad header was fed before */
		return -1;
	}
	if (n == 0)
		return 0;
	if (r->got < FC_FRAME_HDR) {
		k = FC_FRAME_HDR - r->got;
		if (k > n)
			k = n;
		memcpy(r->hdr + r->got, in, k);
		r->got += k;
		used = k;
		if (r->got < FC_FRAME_HDR)
			return (long)used;
		if (start_frame(r->hdr, &r->cur) < 0)
			return -1;
	}

	k = FC_FRAME_HDR + (size_t)r->cur.len - r->got;
	if (k > n - used)
		k = n - used;
	memcpy(r->cur.data + (r->got - FC_FRAME_HDR), in + used, k);
	r->got += k;
	used += k;

	if (r->got == FC_FRAME_HDR + (size_t)r->cur.len) {
		*f = r->cur;
		memset(r, 0, sizeof(*r));
		*done = 1;
	}
	return (long)used;
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->cur.data);
	memset(r, 0, sizeof(*r));
}

int frame_write(int fd, char type, const void *p, size_t n)
{
	unsigned char hdr[FC_FRAME_HDR];
	struct iovec iov[2];
	int i = 0;
	ssize_t w;

	if (!is_letter(type)) {
		errno = EINVAL;
		return -1;
	}
	if (n > FC_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	frame_hdr(hdr, type, (uint32_t)n);
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	iov[1] = (struct iovec){ .iov_base = (void *)p, .iov_len = n };

	while (i < 2) {
		w = writev(fd, iov + i, 2 - i);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		for (; i < 2 && (size_t)w >= iov[i].iov_len; i++)
			w -= (ssize_t)iov[i].iov_len;
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Read up to n bytes, stopping early only at end of file. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int frame_read(int fd, struct frame *f)
{
	unsigned char hdr[FC_FRAME_HDR];
	ssize_t r;
	int saved;

	memset(f, 0, sizeof(*f));
	r = read_full(fd, hdr, sizeof(hdr));
	if (r <= 0)
		return (int)r;
	if (r < (ssize_t)sizeof(hdr)) {
		errno = EPROTO;
		return -1;
	}
	if (start_frame(hdr, f) < 0)
		return -1;

	r = read_full(fd, f->data, f->len);
	if (r == (ssize_t)f->len)
		return 1;
	saved = r < 0 ? errno : EPROTO;
	frame_free(f);
	errno = saved;
	return -1;
}

void frame_free(struct frame *f)
{
	free(f->data);
	memset(f, 0, sizeof(*f));
}
