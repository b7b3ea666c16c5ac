/* frame.h - the host<->agent framing: type byte, u32 big-endian length, payload */
#ifndef FC_FRAME_H
#define FC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FC_PROTOCOL 1
#define FC_FRAME_HDR 5
#define FC_FRAME_MAX (8u << 20)

struct frame {
	char type;
	uint32_t len;
	char *data;		/* malloc'd, NUL-terminated (len excludes it) */
};

/* Encode a header into out[FC_FRAME_HDR]. */
void frame_hdr(unsigned char *out, char type, uint32_t len);

/*
 * Incremental decoder: feed bytes as they arrive, take frames out.
 * Never blocks; suits poll() loops on both sides. Start from a
 * zero-initialised reader; after an error the stream is out of step: the
 * reader keeps failing (EPROTO) until frame_reader_free() resets it.
 */
struct frame_reader {
	unsigned char hdr[FC_FRAME_HDR];
	size_t got;		/* bytes of the current frame seen so far */
	struct frame cur;
};

/*
 * Consume up to n bytes from p. Returns the number consumed and sets *done
 * to 1 when a whole frame is in f (the caller owns f->data), else 0. It
 * stops after each frame: call again with the rest. Returns -1 with errno
 * EMSGSIZE for a length over FC_FRAME_MAX, EPROTO for a type that is not
 * an ASCII letter, ENOMEM.
 */
long frame_feed(struct frame_reader *r, const void *p, size_t n,
		struct frame *f, int *done);
/* Free a partial frame held by r and reset it to the zero state. */
void frame_reader_free(struct frame_reader *r);

/*
 * Blocking helpers on a file descriptor (retry EINTR, handle short I/O).
 * frame_write sends header and payload in one writev(); 0 or -1/errno
 * (EINVAL for a bad type, EMSGSIZE for n over FC_FRAME_MAX).
 */
int frame_write(int fd, char type, const void *p, size_t n);
/*
 * Read one frame into f (the caller frees it with frame_free). Returns 1
 * on a frame, 0 on end of file at a frame boundary, -1 on error with errno:
 * EPROTO for end of file inside a frame or a bad type, EMSGSIZE, ENOMEM,
 * or read()'s own.
 */
int frame_read(int fd, struct frame *f);
/* Free f->data and clear f; f may be zeroed or already freed. */
void frame_free(struct frame *f);

#endif
