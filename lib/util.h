/* util.h - files, directories, processes: small helpers with fc_err reporting */
#ifndef FC_UTIL_H
#define FC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fc_err;

/*
 * Error codes: a path that is missing, not a directory, a directory,
 * already there or not allowed (ENOENT, ENOTDIR, EISDIR, EEXIST, EACCES,
 * ELOOP, ENAMETOOLONG) is FC_EINPUT; other failures (EIO, ENOSPC,
 * ENOMEM...) are FC_EVMM. Messages are "path: strerror". io_code(errno)
 * gives that code, for callers doing their own file operations.
 */
int io_code(int err);

/*
 * Read a whole file into a malloc'd buffer, NUL-terminated (*len excludes
 * the NUL); more than max bytes is FC_EINPUT "path: larger than max bytes".
 */
int read_file(const char *path, size_t max, char **out, size_t *len,
	      struct fc_err *e);
/* Read all of fd until EOF, at most max bytes (more: FC_EINPUT); as above. */
int read_fd(int fd, size_t max, const char *what, char **out, size_t *len,
	    struct fc_err *e);
/*
 * Write a file atomically: a temporary file next to it, mode 0644, fsync,
 * rename over path (replacing it), then fsync of the directory.
 */
int write_file(const char *path, const void *p, size_t n, struct fc_err *e);
/* Write all of p to fd, retrying EINTR and short writes. -1/errno. */
int write_all(int fd, const void *p, size_t n);
/*
 * Hard link src to dst (following a symlink src), or copy it when linking
 * fails (EXDEV, EPERM...). dst must not exist.
 */
int link_or_copy(const char *src, const char *dst, struct fc_err *e);
/*
 * Copy the regular file src to the new file dst with src's permission
 * bits, keeping holes (sparse guest memory stays sparse). dst must not
 * exist; a failed copy removes it.
 */
int copy_file(const char *src, const char *dst, struct fc_err *e);
/*
 * rm -rf that never follows a symlink (not even "link/"); ignores ENOENT;
 * keeps going after a failure and returns -1 with the first errno.
 */
int rmtree(const char *path);
/* mkdir -p with mode; existing directories are fine. */
int mkdirs(const char *path, mode_t mode, struct fc_err *e);
/* Join into a malloc'd "a/b" (no doubled slash after a); NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* Monotonic clock in ns; wall clock in ns. */
int64_t now_ns(void);
int64_t wall_ns(void);
/* Fill p with n bytes from getrandom() (may block early at boot); -1/errno. */
int random_bytes(void *p, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex(char *out, const void *p, size_t n);
/*
 * A request id like Lambda's: 8-4-4-4-12 lower-case hex, random v4
 * (mixed from clocks and the pid if getrandom() fails: not secret).
 */
void uuid4(char out[37]);
/*
 * Escape s[0..n) for a message, malloc'd: printable ASCII kept except the
 * backslash, every other byte as \xNN. NULL on ENOMEM.
 */
char *escape_name(const char *s, size_t n);

/*
 * Make sure fds 0, 1 and 2 are open (on /dev/null if they were closed),
 * so that no later file or socket gets one of those numbers. Call first.
 */
int std_fds_open(void);

#endif
