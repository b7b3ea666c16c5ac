/* util.h - files, directories, processes: small helpers with fc_err reporting */
#ifndef FC_UTIL_H
#define FC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fc_err;

/* Read a whole file (max bytes; larger is FC_EINPUT "too large"). */
int read_file(const char *path, size_t max, char **out, size_t *len,
	      struct fc_err *e);
/* Read all of fd until EOF, at most max bytes (more: FC_EINPUT). */
int read_fd(int fd, size_t max, const char *what, char **out, size_t *len,
	    struct fc_err *e);
/* Write a file atomically (temp file in the same dir, fsync, rename). */
int write_file(const char *path, const void *p, size_t n, struct fc_err *e);
/* Write all of p to fd, retrying EINTR and short writes. -1/errno. */
int write_all(int fd, const void *p, size_t n);
/* Hard link src to dst, or copy it when linking fails (EXDEV, EPERM...). */
int link_or_copy(const char *src, const char *dst, struct fc_err *e);
int copy_file(const char *src, const char *dst, struct fc_err *e);
/* rm -rf; ignores ENOENT; returns -1 on the first failure (best effort). */
int rmtree(const char *path);
/* mkdir -p with mode. */
int mkdirs(const char *path, mode_t mode, struct fc_err *e);
/* Join into a malloc'd "a/b". */
char *path_join(const char *a, const char *b);
/* Monotonic clock in ns; wall clock in ns. */
int64_t now_ns(void);
int64_t wall_ns(void);
/* Fill p with n bytes from getrandom(). */
int random_bytes(void *p, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex(char *out, const void *p, size_t n);
/* A request id like Lambda's: 8-4-4-4-12 lower-case hex, random v4. */
void uuid4(char out[37]);
/* Escape a name for a message: printable ASCII kept, others as \xNN. */
char *escape_name(const char *s, size_t n);

#endif
