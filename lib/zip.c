/* zip.c - unpack a function's zip with libarchive, refusing hostile entries */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "zip.h"

#define MAX_HOPS 40		/* symbolic links followed in one lookup */

/*
 * Where every write goes: the package directory and, cached, the parent
 * directory of the last entry, reached without following any link.
 */
struct unzip {
	const struct zip_opts *o;
	struct zip_stats *st;
	struct fc_err *e;
	struct archive *a;
	int root;
	int pfd;			/* parent of the last entry */
	char ppath[PATH_MAX];		/* its path under root, "" for root */
	char **links;			/* symbolic links, checked at the end */
	size_t nlinks, caplinks;
	uint64_t n;			/* entries read */
	const char *raw;		/* the entry's name as stored */
	char name[PATH_MAX];		/* the same, cleaned */
};

/*
 * Decode the UTF-8 sequence at s into *cp; its length, or 0 when it is
 * not well formed (overlong, surrogate, above U+10FFFF, cut short).
 */
static size_t utf8_dec(const unsigned char *s, unsigned *cp)
{
	static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;

	if (s[0] < 0x80)
		len = 1, *cp = s[0];
	else if (s[0] >= 0xc0 && s[0] < 0xe0)
		len = 2, *cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] < 0xf0)
		len = 3, *cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] < 0xf8)
		len = 4, *cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min[len] || *cp > 0x10ffff ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

/* Why s is no fit name or link target (UTF-8, no C0/C1 controls), or NULL. */
static const char *text_fault(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	size_t len;

	while (*p) {
		len = utf8_dec(p, &cp);
		if (len == 0)
			return "not valid UTF-8";
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return "holds a control character";
		p += len;
	}
	return NULL;
}

/*
 * Clean raw into out[PATH_MAX]: `\` becomes `/`, empty and `.` components
 * go. Returns why the name is refused, or NULL.
 */
static const char *clean_name(const char *raw, char *out)
{
	const char *why, *r, *end;
	char *w = out;
	size_t len;

	if ((why = text_fault(raw)))
		return why;
	if (strlen(raw) >= PATH_MAX)
		return "name is too long";
	if (((raw[0] | 0x20) >= 'a' && (raw[0] | 0x20) <= 'z') && raw[1] == ':')
		return "absolute path (drive letter)";
	if (raw[0] == '/' || raw[0] == '\\')
		return "absolute path";
	for (r = raw; *r; r = *end ? end + 1 : end) {
		end = r + strcspn(r, "/\\");
		len = (size_t)(end - r);
		if (len == 0 || (len == 1 && r[0] == '.'))
			continue;
		if (len == 2 && r[0] == '.' && r[1] == '.')
			return "path has a '..' component";
		if (len > NAME_MAX)
			return "name is too long";
		if (w != out)
			*w++ = '/';
		memcpy(w, r, len);
		w += len;
	}
	*w = '\0';
	return NULL;
}

/* Finder's metadata: __MACOSX/..., ._name resource forks, .DS_Store. */
static int is_junk(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if (strncmp(name, "__MACOSX", 8) == 0 && (!name[8] || name[8] == '/'))
		return 1;
	return strcmp(base, ".DS_Store") == 0 || strncmp(base, "._", 2) == 0;
}

/* Fill e with FC_EINPUT "what: entry: cause"; the entry escaped if need be. */
__attribute__((format(printf, 2, 3)))
static int bad(struct unzip *u, const char *fmt, ...)
{
	char cause[512];
	char *esc = NULL;
	const char *shown = u->raw;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (text_fault(shown) || strlen(shown) > 200) {
		esc = escape_name(shown, strnlen(shown, 200));
		shown = esc ? esc : "?";
	}
	fc_errf(u->e, FC_EINPUT, "%s: %s: %s", u->o->what, shown, cause);
	free(esc);
	return -1;
}

/* libarchive's message for the last failure, without a trailing newline. */
static const char *la_msg(struct unzip *u)
{
	static char msg[256];
	const char *s = archive_error_string(u->a);
	size_t n;

	snprintf(msg, sizeof(msg), "%s", s ? s : "unknown error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	return msg;
}

/* An I/O failure while writing the current entry (errno set). */
static int sys(struct unzip *u)
{
	return fc_errnof(u->e, FC_EVMM, "%s: %s", u->o->what, u->name);
}

static int stopped(struct unzip *u)
{
	if (!u->o->stop || !*u->o->stop)
		return 0;
	return fc_errf(u->e, FC_EVMM, "%s: interrupted", u->o->what);
}

/* Create or open the directory comp under fd, following no link. */
static int enter_dir(struct unzip *u, int fd, const char *comp,
		     size_t prefix)
{
	struct stat sb;
	int nfd;

	if (mkdirat(fd, comp, 0755) == 0) {
		if (fchmodat(fd, comp, 0755, 0) < 0)
			return sys(u);
	} else if (errno != EEXIST) {
		return sys(u);
	}
	nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd >= 0)
		return nfd;
	if (errno != ELOOP && errno != ENOTDIR)
		return sys(u);
	if (fstatat(fd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		return bad(u, "goes through the symbolic link %.*s",
			   (int)prefix, u->name);
	return bad(u, "%.*s is not a directory", (int)prefix, u->name);
}

/*
 * The directory that will hold u->name, created as needed; *leaf is set
 * to the last component. The fd belongs to u (cached for the next entry).
 */
static int open_parent(struct unzip *u, const char **leaf)
{
	char *slash = strrchr(u->name, '/'), *comp, *next;
	size_t plen = slash ? (size_t)(slash - u->name) : 0;
	int fd = u->root, nfd;

	*leaf = slash ? slash + 1 : u->name;
	if (strlen(u->ppath) == plen && memcmp(u->ppath, u->name, plen) == 0)
		return u->pfd;
	if (u->pfd != u->root)
		close(u->pfd);
	u->pfd = u->root;
	u->ppath[0] = '\0';
	for (comp = u->name; plen && comp < u->name + plen; comp = next + 1) {
		next = strchr(comp, '/');
		*next = '\0';
		nfd = enter_dir(u, fd, comp, (size_t)(next - u->name));
		*next = '/';
		if (fd != u->root)
			close(fd);
		if (nfd < 0)
			return -1;
		fd = nfd;
	}
	u->pfd = fd;
	memcpy(u->ppath, u->name, plen);
	u->ppath[plen] = '\0';
	return fd;
}

/* Copy the entry's data to fd, counting what it really inflates to. */
static int copy_data(struct unzip *u, int fd)
{
	uint64_t max = u->o->max_bytes;
	const void *p;
	size_t n;
	la_int64_t off, pos = 0;
	int r;

	for (;;) {
		if (stopped(u))
			return -1;
		r = archive_read_data_block(u->a, &p, &n, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return bad(u, "damaged: %s", la_msg(u));
		if (n > max - u->st->bytes)
			return bad(u, "unpacks past the limit of %llu bytes",
				   (unsigned long long)max);
		u->st->bytes += n;
		if (off != pos && lseek(fd, off, SEEK_SET) < 0)
			return sys(u);
		if (write_all(fd, p, n) < 0)
			return sys(u);
		pos = off + (la_int64_t)n;
	}
}

static int put_file(struct unzip *u, struct archive_entry *ent, int pfd,
		    const char *leaf)
{
	mode_t mode = archive_entry_perm(ent) & 0111 ? 0755 : 0644;
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ archive_entry_mtime(ent), archive_entry_mtime_nsec(ent) },
	};
	int fd, r;

	if (archive_entry_size_is_set(ent) &&
	    (uint64_t)archive_entry_size(ent) > u->o->max_bytes - u->st->bytes)
		return bad(u, "unpacks past the limit of %llu bytes",
			   (unsigned long long)u->o->max_bytes);
	fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? bad(u, "duplicate entry") : sys(u);
	r = copy_data(u, fd);
	if (r == 0 && (fchmod(fd, mode) < 0 || futimens(fd, ts) < 0))
		r = sys(u);
	if (close(fd) < 0 && r == 0)
		r = sys(u);
	u->st->files += r == 0;
	return r;
}

static int put_dir(struct unzip *u, int pfd, const char *leaf)
{
	struct stat sb;

	if (mkdirat(pfd, leaf, 0755) == 0) {
		u->st->dirs++;
		return fchmodat(pfd, leaf, 0755, 0) < 0 ? sys(u) : 0;
	}
	if (errno != EEXIST)
		return sys(u);
	if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode))
		return 0;	/* named again, or made for an earlier file */
	return bad(u, "duplicate entry");
}

static int put_link(struct unzip *u, struct archive_entry *ent, int pfd,
		    const char *leaf)
{
	const char *to = archive_entry_symlink(ent), *why;
	char **nl;

	if (!to || !*to)
		return bad(u, "symbolic link without a target");
	if ((why = text_fault(to)))
		return bad(u, "symbolic link target %s", why);
	if (strlen(to) >= PATH_MAX)
		return bad(u, "symbolic link target is too long");
	if (to[0] == '/')
		return bad(u, "symbolic link points outside the package "
			   "(-> %s)", to);
	if (symlinkat(to, pfd, leaf) < 0)
		return errno == EEXIST ? bad(u, "duplicate entry") : sys(u);
	if (u->nlinks == u->caplinks) {
		u->caplinks = u->caplinks ? 2 * u->caplinks : 16;
		nl = realloc(u->links, u->caplinks * sizeof(*nl));
		if (!nl)
			return sys(u);
		u->links = nl;
	}
	if (!(u->links[u->nlinks] = strdup(u->name)))
		return sys(u);
	u->nlinks++;
	u->st->links++;
	return 0;
}

/* Check one entry's name and type, then write it. */
static int put_entry(struct unzip *u, struct archive_entry *ent)
{
	mode_t type = archive_entry_filetype(ent);
	const char *why, *leaf;
	int pfd;

	u->raw = archive_entry_pathname(ent);
	if (!u->raw)
		return fc_errf(u->e, FC_EINPUT, "%s: entry %llu: name is not "
			       "valid UTF-8", u->o->what,
			       (unsigned long long)u->n);
	if (archive_entry_is_encrypted(ent))
		return bad(u, "encrypted entries are not supported");
	if ((why = clean_name(u->raw, u->name)))
		return bad(u, "%s", why);
	if (is_junk(u->name)) {
		u->st->dropped++;
		return 0;
	}
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return bad(u, "special files (devices, FIFOs, sockets) "
			   "are not allowed");
	if (!u->name[0] && type == AE_IFDIR)
		return 0;	/* "./" names the package itself */
	if (!u->name[0])
		return bad(u, "empty name");
	if ((pfd = open_parent(u, &leaf)) < 0)
		return -1;
	if (type == AE_IFDIR)
		return put_dir(u, pfd, leaf);
	if (type == AE_IFLNK)
		return put_link(u, ent, pfd, leaf);
	return put_file(u, ent, pfd, leaf);
}

/* Append the component c[0..len) to the path cur. */
static void push(char *cur, const char *c, size_t len)
{
	size_t n = strlen(cur);

	if (n)
		cur[n++] = '/';
	memcpy(cur + n, c, len);
	cur[n + len] = '\0';
}

/* Drop the last component of the path cur. */
static void pop(char *cur)
{
	char *slash = strrchr(cur, '/');

	*(slash ? slash : cur) = '\0';
}

/*
 * cur ends in a link: step back out of it and put its target in front of
 * rest (which lies inside todo). Returns why it cannot, or NULL.
 */
static const char *follow(struct unzip *u, char *cur, char *todo,
			  size_t cap, const char *rest)
{
	char to[PATH_MAX];
	size_t rlen = strlen(rest);
	ssize_t n;

	n = readlinkat(u->root, cur, to, sizeof(to) - 1);
	if (n < 0)
		return "cannot be read back";
	to[n] = '\0';
	if (to[0] == '/')
		return "points outside the package";
	if ((size_t)n + rlen + 2 > cap)
		return "resolves to too long a path";
	memmove(todo + n + 1, rest, rlen + 1);
	memcpy(todo, to, (size_t)n);
	todo[n] = '/';
	pop(cur);
	return NULL;
}

/*
 * Resolve the link at path under root as the guest's kernel will, on what
 * was unpacked (a missing name resolves by its spelling). Returns why the
 * link escapes the package or loops, or NULL.
 */
static const char *resolve(struct unzip *u, const char *path)
{
	char cur[2 * PATH_MAX], todo[4 * PATH_MAX], *c, *slash;
	const char *why;
	struct stat sb;
	size_t len, pos = 0;
	int hops = 0;

	snprintf(cur, sizeof(cur), "%s", path);
	slash = strrchr(cur, '/');
	snprintf(todo, sizeof(todo), "%s", slash ? slash + 1 : cur);
	pop(cur);
	while (todo[pos]) {
		c = todo + pos;
		len = strcspn(c, "/");
		pos += len + (c[len] == '/');
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (!cur[0])
				return "points outside the package";
			pop(cur);
			continue;
		}
		if (strlen(cur) + len + 2 > sizeof(cur))
			return "resolves to too long a path";
		push(cur, c, len);
		if (fstatat(u->root, cur, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISLNK(sb.st_mode))
			continue;
		if (++hops > MAX_HOPS)
			return "is a loop of symbolic links";
		if ((why = follow(u, cur, todo, sizeof(todo), todo + pos)))
			return why;
		pos = 0;
	}
	return NULL;
}

/* Every link must stay inside the package once all entries are in. */
static int check_links(struct unzip *u)
{
	char to[PATH_MAX];
	const char *why;
	ssize_t n;

	for (size_t i = 0; i < u->nlinks; i++) {
		if (!(why = resolve(u, u->links[i])))
			continue;
		n = readlinkat(u->root, u->links[i], to, sizeof(to) - 1);
		to[n < 0 ? 0 : n] = '\0';
		u->raw = u->links[i];
		return bad(u, "symbolic link %s (-> %s)", why, to);
	}
	return 0;
}

/* Why libarchive cannot open the file: no zip, an empty one, or damage. */
static int open_fault(struct unzip *u, int fd)
{
	unsigned char m[4];
	ssize_t n = pread(fd, m, sizeof(m), 0);
	const char *what = u->o->what;

	if (n < 0)
		return fc_errnof(u->e, FC_EVMM, "%s", what);
	if (n == 0)
		return fc_errf(u->e, FC_EINPUT, "%s: empty file, not a zip",
			       what);
	if (n < 4 || m[0] != 'P' || m[1] != 'K')
		return fc_errf(u->e, FC_EINPUT, "%s: not a zip file", what);
	if (m[2] == 5 && m[3] == 6)
		return 1;	/* only an end record: a zip with no entries */
	return fc_errf(u->e, FC_EINPUT, "%s: truncated or damaged zip (no "
		       "central directory)", what);
}

/* Read headers until the end, writing each entry. */
static int unpack_all(struct unzip *u)
{
	struct archive_entry *ent;
	int r;

	for (;;) {
		if (stopped(u))
			return -1;
		r = archive_read_next_header(u->a, &ent);
		if (r == ARCHIVE_EOF)
			return check_links(u);
		if (++u->n > u->o->max_entries)
			return fc_errf(u->e, FC_EINPUT, "%s: more than %llu "
				       "entries", u->o->what,
				       (unsigned long long)u->o->max_entries);
		if (r == ARCHIVE_WARN && archive_entry_pathname(ent)) {
			u->raw = archive_entry_pathname(ent);
			return bad(u, "%s", la_msg(u));
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return fc_errf(u->e, FC_EINPUT, "%s: damaged zip: %s",
				       u->o->what, la_msg(u));
		if (put_entry(u, ent) < 0)
			return -1;
	}
}

/*
 * Names are decoded in a UTF-8 locale whatever the caller's, so that
 * libarchive hands over UTF-8 bytes; only this thread is switched.
 */
static locale_t utf8_locale(void)
{
	locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);

	if (!loc)
		loc = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
	return loc;
}

static int unpack_fd(struct unzip *u, int fd)
{
	int r;

	u->a = archive_read_new();
	if (!u->a)
		return fc_errf(u->e, FC_EVMM, "%s: out of memory", u->o->what);
	/* The central directory is the only place modes and links live. */
	archive_read_support_format_zip_seekable(u->a);
	if (archive_read_open_fd(u->a, fd, 64 * 1024) != ARCHIVE_OK) {
		r = open_fault(u, fd);
		archive_read_free(u->a);
		return r > 0 ? 0 : -1;
	}
	r = unpack_all(u);
	archive_read_free(u->a);
	return r;
}

int zip_unpack(const char *path, int dirfd, const struct zip_opts *o,
	       struct zip_stats *st, struct fc_err *e)
{
	struct unzip u = { .o = o, .st = st, .e = e, .root = dirfd,
			   .pfd = dirfd };
	locale_t loc = utf8_locale(), old = (locale_t)0;
	struct stat sb;
	int fd, r = -1;

	memset(st, 0, sizeof(*st));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fc_errnof(e, errno == ENOMEM ? FC_EVMM : FC_EINPUT,
				 "%s", o->what);
	if (fstat(fd, &sb) < 0)
		fc_errnof(e, FC_EVMM, "%s", o->what);
	else if (!S_ISREG(sb.st_mode))
		fc_errf(e, FC_EINPUT, "%s: not a regular file", o->what);
	else {
		if (loc)
			old = uselocale(loc);
		r = unpack_fd(&u, fd);
		if (loc)
			uselocale(old);
	}
	if (loc)
		freelocale(loc);
	if (u.pfd != u.root)
		close(u.pfd);
	for (size_t i = 0; i < u.nlinks; i++)
		free(u.links[i]);
	free(u.links);
	close(fd);
	return r;
}
