/* util.c - files, directories, clocks and randomness, errors as fc_err */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define IO_CHUNK (128 * 1024)

/* A path the user named that is wrong is bad input; the rest is system. */
int io_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
	case EACCES:
	case EEXIST:
	case ENAMETOOLONG:
		return FC_EINPUT;
	}
	return FC_EVMM;
}

static int path_err(struct fc_err *e, const char *path)
{
	return fc_errnof(e, io_code(errno), "%s", path);
}

int read_fd(int fd, size_t max, const char *what, char **out, size_t *len,
	    struct fc_err *e)
{
	size_t cap = 0, got = 0;
	char *p = NULL, *np;
	ssize_t r;

	for (;;) {
		if (got == cap) {
			cap = cap ? cap * 2 : 4096;
			np = realloc(p, cap + 1);
			if (!np)
				goto fail;
			p = np;
		}
		r = read(fd, p + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > max) {
			free(p);
			return fc_errf(e, FC_EINPUT,
				       "%s: larger than %zu bytes", what, max);
		}
	}
	p[got] = '\0';
	*out = p;
	*len = got;
	return 0;
fail:
	fc_errnof(e, io_code(errno), "%s", what);
	free(p);
	return -1;
}

int read_file(const char *path, size_t max, char **out, size_t *len,
	      struct fc_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return path_err(e, path);
	r = read_fd(fd, max, path, out, len, e);
	close(fd);
	return r;
}

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make the rename of a file into dir durable; best effort. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The directory part of path, malloc'd ("." when there is none). */
static char *dir_of(const char *path)
{
	char *copy = strdup(path), *dir;

	if (!copy)
		return NULL;
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

/* Write and sync p to the new file fd, then close it; -1/errno. */
static int fill_and_close(int fd, const void *p, size_t n)
{
	int saved;

	if (fchmod(fd, 0644) < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int write_file(const char *path, const void *p, size_t n, struct fc_err *e)
{
	char *dir = dir_of(path), *tmp = NULL;
	int fd, r = -1;

	if (!dir || asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		fc_errnof(e, FC_EVMM, "%s", path);
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		path_err(e, path);
		goto out;
	}
	if (fill_and_close(fd, p, n) < 0 || rename(tmp, path) < 0) {
		path_err(e, path);
		unlink(tmp);
		goto out;
	}
	sync_dir(dir);
	r = 0;
out:
	free(tmp);
	free(dir);
	return r;
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			errno = w < 0 ? errno : EIO;
			return -1;
		}
		p += w;
		off += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy [off, off+len) with pread/pwrite, for when the kernel can't. */
static int copy_rw(int in, int out, off_t off, off_t len)
{
	char *buf = malloc(IO_CHUNK);
	ssize_t r;
	int ret = -1;

	if (!buf)
		return -1;
	while (len > 0) {
		r = pread(in, buf, len < IO_CHUNK ? (size_t)len : IO_CHUNK,
			  off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;	/* the source shrank under us */
		if (pwrite_all(out, buf, (size_t)r, off) < 0)
			goto out;
		off += r;
		len -= r;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Copy [off, off+len) in the kernel where it can, else by hand. */
static int copy_range(int in, int out, off_t off, off_t len)
{
	loff_t ioff = off, ooff = off;
	ssize_t r;

	while (len > 0) {
		r = copy_file_range(in, &ioff, out, &ooff, (size_t)len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EXDEV || errno == ENOSYS ||
			      errno == EINVAL || errno == EOPNOTSUPP))
			return copy_rw(in, out, ioff, len);
		if (r < 0)
			return -1;
		if (r == 0)
			break;	/* the source shrank under us */
		len -= r;
	}
	return 0;
}

/*
 * The next extent of data at or after pos, below size: 0 and [*start,
 * *end), 1 when only holes are left, -1/errno.
 */
static int next_data(int fd, off_t pos, off_t size, off_t *start, off_t *end)
{
	*start = lseek(fd, pos, SEEK_DATA);
	if (*start < 0 && errno == ENXIO)
		return 1;
	if (*start < 0 && errno == EINVAL) {
		/* No SEEK_DATA here: everything is data. */
		*start = pos;
		*end = size;
		return 0;
	}
	if (*start < 0)
		return -1;
	if (*start >= size)
		return 1;
	*end = lseek(fd, *start, SEEK_HOLE);
	if (*end < 0)
		return -1;
	if (*end > size)
		*end = size;
	return 0;
}

/* Copy size bytes from in to the empty out, leaving holes as holes. */
static int copy_sparse(int in, int out, off_t size)
{
	off_t pos = 0, start, end;
	int r;

	while (pos < size) {
		r = next_data(in, pos, size, &start, &end);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
		if (copy_range(in, out, start, end - start) < 0)
			return -1;
		pos = end;
	}
	return ftruncate(out, size);
}

/* Open src for copying: a regular file, its stat in *st. */
static int open_src(const char *src, struct stat *st, struct fc_err *e)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return path_err(e, src);
	if (fstat(fd, st) < 0) {
		path_err(e, src);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		fc_errf(e, FC_EINPUT, "%s: not a regular file", src);
		close(fd);
		return -1;
	}
	return fd;
}

int copy_file(const char *src, const char *dst, struct fc_err *e)
{
	struct stat st;
	int in, out, r;

	in = open_src(src, &st, e);
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		path_err(e, dst);
		close(in);
		return -1;
	}
	r = copy_sparse(in, out, st.st_size);
	if (r == 0)
		r = fchmod(out, st.st_mode & 07777);
	if (close(out) < 0)
		r = -1;
	if (r < 0) {
		fc_errnof(e, FC_EVMM, "copying %s to %s", src, dst);
		unlink(dst);
	}
	close(in);
	return r;
}

int link_or_copy(const char *src, const char *dst, struct fc_err *e)
{
	if (linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return copy_file(src, dst, e);
}

/*
 * Remove name (relative to dirfd) and all below it without following
 * symbolic links. Keeps going after a failure; returns -1 with the first
 * errno. Holds one descriptor per level of depth.
 */
static int rm_at(int dirfd, const char *name)
{
	int fd, err = 0;
	struct dirent *de;
	DIR *d;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	err = errno;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* Not a directory after all: report why unlink failed. */
		if (errno == ENOTDIR || errno == ELOOP)
			errno = err;
		return -1;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	err = 0;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rm_at(fd, de->d_name) < 0 && !err)
			err = errno;
	}
	if (errno && !err)
		err = errno;
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !err)
		err = errno;
	errno = err;
	return err ? -1 : 0;
}

int rmtree(const char *path)
{
	char *p = strdup(path);
	size_t n;
	int r;

	if (!p)
		return -1;
	/* "link/" would resolve through the link: drop trailing slashes. */
	for (n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	r = rm_at(AT_FDCWD, p);
	free(p);
	return r;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mkdirs(const char *path, mode_t mode, struct fc_err *e)
{
	char *p = strdup(path), *s, c;
	int r = 0;

	if (!p)
		return fc_errnof(e, FC_EVMM, "%s", path);
	for (s = p; *s == '/'; s++)
		;
	for (; r == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && !(errno == EEXIST && is_dir(p))) {
			/* A file in the middle of the path: say so. */
			if (errno == EEXIST && c == '/')
				errno = ENOTDIR;
			r = path_err(e, p);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return r;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	const char *sep = la == 0 || a[la - 1] == '/' ? "" : "/";
	char *out;

	if (asprintf(&out, "%s%s%s", a, sep, b) < 0)
		return NULL;
	return out;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int random_bytes(void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom((char *)p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

void hex(char *out, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Not for secrets: ids only, when getrandom() is missing (pre-3.17). */
static void weak_random(unsigned char *p, size_t n)
{
	uint64_t x = (uint64_t)now_ns() ^ (uint64_t)wall_ns() ^
		     (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)p;
	uint64_t z;
	size_t i;

	for (i = 0; i < n; i++) {
		x += 0x9e3779b97f4a7c15ull;
		z = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ z >> 27) * 0x94d049bb133111ebull;
		p[i] = (unsigned char)(z ^ z >> 31);
	}
}

void uuid4(char out[37])
{
	unsigned char b[16];

	if (random_bytes(b, sizeof(b)) < 0)
		weak_random(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	hex(out, b, 4);
	out[8] = '-';
	hex(out + 9, b + 4, 2);
	out[13] = '-';
	hex(out + 14, b + 6, 2);
	out[18] = '-';
	hex(out + 19, b + 8, 2);
	out[23] = '-';
	hex(out + 24, b + 10, 6);
}

char *escape_name(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out, *o;
	size_t i;

	if (n > (SIZE_MAX - 1) / 4) {
		errno = ENOMEM;
		return NULL;
	}
	out = o = malloc(4 * n + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\')
			*o++ = (char)u[i];
		else
			o += sprintf(o, "\\x%02x", u[i]);
	}
	*o = '\0';
	return out;
}

int std_fds_open(void)
{
	/* A program started with 0, 1 or 2 closed would hand those numbers
	 * to the next files and sockets it opens, and then write logs into
	 * them (a QMP socket, say). Hold them with /dev/null instead. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n < 0)
			return -1;
		if (n != fd) {	/* cannot happen: lowest free is fd */
			close(n);
			return -1;
		}
	}
	return 0;
}
