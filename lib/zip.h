/* zip.h - unpack a function's zip into a directory, refusing hostile entries */
#ifndef FC_ZIP_H
#define FC_ZIP_H

#include <signal.h>
#include <stdint.h>

struct fc_err;

struct zip_opts {
	const char *what;		/* the zip as messages name it */
	uint64_t max_bytes;		/* limit on inflated bytes, all files */
	uint64_t max_entries;		/* limit on entries, dropped ones too */
	volatile sig_atomic_t *stop;	/* if set and non-zero: give up */
};

struct zip_stats {
	uint64_t files, dirs, links;	/* entries unpacked */
	uint64_t dropped;		/* macOS metadata left out */
	uint64_t bytes;			/* inflated bytes written */
};

/*
 * Unpack the zip at path into the empty directory dirfd, never writing
 * outside it. Names are cleaned (`\` and `/` both separate, `.` and empty
 * components dropped); a name that is absolute, has a `..` component, is
 * not UTF-8 or holds a control character is refused, and so are
 * duplicates, writes through a symbolic link, links that resolve outside
 * dirfd, special files, encrypted entries and archives past the limits.
 * Files get mode 0755 if any execute bit is set, else 0644; directories
 * 0755. __MACOSX/, ._* and .DS_Store are dropped. Returns 0, or -1 with
 * e filled: FC_EINPUT "what: entry: cause" for anything about the zip,
 * FC_EVMM for I/O. What was written stays for the caller to remove.
 */
int zip_unpack(const char *path, int dirfd, const struct zip_opts *o,
	       struct zip_stats *st, struct fc_err *e);

#endif
