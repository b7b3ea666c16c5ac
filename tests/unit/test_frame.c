/* test_frame.c - frame encoding, the incremental decoder, fd I/O (lib/frame.c) */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "tap.h"

/* Three frames back to back: H with JSON, an empty O, L with binary. */
static const unsigned char stream[] = {
	'H', 0, 0, 0, 7, '{', '"', 'a', '"', ':', '1', '}',
	'O', 0, 0, 0, 0,
	'L', 0, 0, 0, 4, 0, 0xff, '\n', 'x',
};

static int check_frames(struct frame *f, int n, const char *how)
{
	int good = n == 3 &&
		   f[0].type == 'H' && f[0].len == 7 &&
		   memcmp(f[0].data, "{\"a\":1}", 8) == 0 &&
		   f[1].type == 'O' && f[1].len == 0 && f[1].data[0] == '\0' &&
		   f[2].type == 'L' && f[2].len == 4 &&
		   memcmp(f[2].data, "\0\xff\nx", 5) == 0;

	return ok(good, "three frames decoded %s", how);
}

/* Feed the stream in chunks of `step` bytes (0: all at once). */
static void feed_in_steps(size_t step, const char *how)
{
	struct frame_reader r = { 0 };
	struct frame f[4];
	size_t off = 0, chunk, used;
	int n = 0, done, bad = 0, i;
	long k;

	while (off < sizeof(stream) && !bad) {
		chunk = step && step < sizeof(stream) - off ?
			step : sizeof(stream) - off;
		for (used = 0; used < chunk && !bad; used += (size_t)k) {
			k = frame_feed(&r, stream + off + used, chunk - used,
				       &f[n], &done);
			bad = k < 0 || (k == 0 && !done) || n + done > 3;
			n += done;
		}
		off += chunk;
	}
	ok(!bad && r.got == 0, "no error and nothing left over %s", how);
	check_frames(f, n, how);
	for (i = 0; i < n; i++)
		frame_free(&f[i]);
}

static void test_hdr(void)
{
	unsigned char h[FC_FRAME_HDR];

	frame_hdr(h, 'I', 0x01020304);
	ok(memcmp(h, "I\x01\x02\x03\x04", 5) == 0, "header is type + u32 BE");
	frame_hdr(h, 'P', FC_FRAME_MAX);
	ok(memcmp(h, "P\x00\x80\x00\x00", 5) == 0, "8 MiB length");
}

static void test_feed(void)
{
	struct frame_reader r = { 0 };
	struct frame f;
	int done = 1;

	feed_in_steps(0, "from one buffer");
	feed_in_steps(1, "byte at a time");
	feed_in_steps(3, "three bytes at a time");
	feed_in_steps(13, "across frame boundaries");

	is_int(frame_feed(&r, NULL, 0, &f, &done), 0, "feeding nothing");
	is_int(done, 0, "gives no frame");
	is_int(frame_feed(&r, stream, 3, &f, &done), 3, "half a header");
	is_int(done, 0, "is no frame");
	frame_reader_free(&r);
	is_int(r.got, 0, "frame_reader_free resets");
	is_int(frame_feed(&r, stream, 8, &f, &done), 8, "header and part");
	ok(r.cur.data != NULL && !done, "holds the partial payload");
	frame_reader_free(&r);
	ok(r.cur.data == NULL && r.got == 0, "and frees it");
}

static void feed_err(const unsigned char *hdr, int err, const char *what)
{
	struct frame_reader r = { 0 };
	struct frame f;
	int done = 0;
	long k;

	errno = 0;
	k = frame_feed(&r, hdr, FC_FRAME_HDR, &f, &done);
	ok(k == -1 && errno == err && !done,
	   "%s (header byte 0x%02x) is refused: %s", what, hdr[0],
	   strerror(errno));
	k = frame_feed(&r, "abc", 3, &f, &done);
	ok(k == -1 && errno == EPROTO && !done, "and the reader stays failed");
	frame_reader_free(&r);
}

static void test_feed_errors(void)
{
	static const char types[] = "\0001@[`{\x7f\xc1 ";
	unsigned char h[FC_FRAME_HDR];
	struct frame_reader r = { 0 };
	struct frame f;
	int done = 0;
	size_t i;

	frame_hdr(h, 'L', FC_FRAME_MAX + 1);
	feed_err(h, EMSGSIZE, "FC_FRAME_MAX + 1");
	frame_hdr(h, 'L', 0xffffffff);
	feed_err(h, EMSGSIZE, "a 4 GiB length");
	for (i = 0; i < sizeof(types) - 1; i++) {
		frame_hdr(h, types[i], 1);
		feed_err(h, EPROTO, "type byte");
	}
	frame_hdr(h, 'L', FC_FRAME_MAX);
	is_int(frame_feed(&r, h, sizeof(h), &f, &done), 5,
	       "FC_FRAME_MAX itself is fine");
	frame_reader_free(&r);
	frame_hdr(h, 'A', 0);
	frame_feed(&r, h, sizeof(h), &f, &done);
	ok(done && f.type == 'A', "type 'A' is a letter");
	frame_free(&f);
	frame_hdr(h, 'z', 0);
	frame_feed(&r, h, sizeof(h), &f, &done);
	ok(done && f.type == 'z', "type 'z' is a letter");
	frame_free(&f);
	frame_free(&f);
	ok(f.data == NULL, "frame_free twice is harmless");
}

static void test_read_write(void)
{
	struct frame f = { 0 };
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	is_int(frame_write(sv[0], 'H', "{\"a\":1}", 7), 0, "frame_write H");
	is_int(frame_write(sv[0], 'O', NULL, 0), 0, "frame_write empty O");
	is_int(frame_write(sv[0], 'L', "\0\xff\nx", 4), 0, "frame_write L");
	errno = 0;
	ok(frame_write(sv[0], '1', "x", 1) == -1 && errno == EINVAL,
	   "frame_write refuses a bad type");
	ok(frame_write(sv[0], 'L', "x", FC_FRAME_MAX + 1) == -1 &&
	   errno == EMSGSIZE, "frame_write refuses an oversize payload");
	close(sv[0]);

	is_int(frame_read(sv[1], &f), 1, "frame_read H");
	ok(f.type == 'H' && f.len == 7 && strcmp(f.data, "{\"a\":1}") == 0,
	   "H payload, NUL-terminated");
	frame_free(&f);
	is_int(frame_read(sv[1], &f), 1, "frame_read O");
	ok(f.type == 'O' && f.len == 0 && f.data && !f.data[0], "empty O");
	frame_free(&f);
	is_int(frame_read(sv[1], &f), 1, "frame_read L");
	ok(f.len == 4 && memcmp(f.data, "\0\xff\nx", 4) == 0, "binary L");
	frame_free(&f);
	is_int(frame_read(sv[1], &f), 0, "clean EOF at a boundary gives 0");
	ok(f.data == NULL, "and no data");
	close(sv[1]);
}

/* Send raw bytes then EOF; frame_read must fail with err. */
static void read_err(const void *p, size_t n, int err, const char *what)
{
	struct frame f;
	int sv[2], r;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ok(write(sv[0], p, n) == (ssize_t)n, "sent %zu bytes for %s", n, what);
	close(sv[0]);
	errno = 0;
	r = frame_read(sv[1], &f);
	ok(r == -1 && errno == err && f.data == NULL, "%s: %d (%s)", what, r,
	   strerror(errno));
	close(sv[1]);
}

static void test_read_errors(void)
{
	read_err("H\0\0", 3, EPROTO, "EOF inside the header");
	read_err("H\0\0\0\x05" "ab", 7, EPROTO, "EOF inside the payload");
	read_err("H\x7f\0\0\0", 5, EMSGSIZE, "oversize length");
	read_err("#\0\0\0\0", 5, EPROTO, "bad type");
	errno = 0;
	ok(frame_read(-1, &(struct frame){ 0 }) == -1 && errno == EBADF,
	   "read errors pass through");
}

/* A 4 MiB frame through a socket needs many short reads and writes. */
static void test_big(void)
{
	size_t n = 4u << 20, i;
	char *p = malloc(n);
	struct frame f = { 0 };
	int sv[2], st, same = 1;
	pid_t pid;

	for (i = 0; i < n; i++)
		p[i] = (char)(i * 31 + i / 4096);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		close(sv[1]);
		st = frame_write(sv[0], 'I', p, n);
		free(p);	/* so that valgrind sees no leak in the child */
		_exit(st == 0 ? 0 : 1);
	}
	close(sv[0]);
	is_int(frame_read(sv[1], &f), 1, "read a 4 MiB frame");
	same = f.len == n && memcmp(f.data, p, n) == 0;
	ok(same, "intact");
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer succeeded");
	frame_free(&f);
	close(sv[1]);
	free(p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_hdr();
	test_feed();
	test_feed_errors();
	test_read_write();
	test_read_errors();
	test_big();
	return done_testing();
}
