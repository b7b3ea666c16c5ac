/* test_util.c - file, directory, clock and id helpers (lib/util.c) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "tap.h"
#include "util.h"

#define MIB (1024 * 1024)

static char tmp[] = "/tmp/fc-util-XXXXXX";
static char shm[] = "/dev/shm/fc-util-XXXXXX";

/* dir/name in one of a few rotating buffers: use it before 8 more calls. */
static const char *at(const char *dir, const char *name)
{
	static char buf[8][PATH_MAX];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int r = fd >= 0 && write_all(fd, s, strlen(s)) == 0 ? 0 : -1;

	close(fd);
	return r;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_write_read(void)
{
	const char *p = "a.txt";
	struct fc_err e = { 0 };
	struct stat st;
	char *out = NULL;
	size_t len = 0;

	umask(077);
	is_int(write_file(p, "hello\n", 6, &e), 0, "write_file");
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644,
	   "mode 0644 whatever the umask");
	is_int(read_file(p, 100, &out, &len, &e), 0, "read_file");
	ok(len == 6 && memcmp(out, "hello\n", 7) == 0,
	   "same bytes back, NUL-terminated");
	free(out);
	is_int(write_file(p, "x", 1, &e), 0, "write_file over a file");
	read_file(p, 6, &out, &len, &e);
	ok(len == 1 && strcmp(out, "x") == 0, "replaces it");
	free(out);
	is_int(count_entries("."), 1, "no temporary files left behind");

	write_file(p, "123456", 6, &e);
	is_int(read_file(p, 6, &out, &len, &e), 0, "exactly max bytes is fine");
	free(out);
	out = NULL;
	is_int(read_file(p, 5, &out, &len, &e), -1, "max + 1 bytes is not");
	is_int(e.code, FC_EINPUT, "as bad input");
	ok(strstr(e.msg, "a.txt: larger than 5 bytes") && out == NULL,
	   "says so: %s", e.msg);
	write_file(p, "", 0, &e);
	is_int(read_file(p, 0, &out, &len, &e), 0, "an empty file");
	ok(len == 0 && out && !out[0], "reads as an empty string");
	free(out);
}

static void test_io_errors(void)
{
	struct fc_err e = { 0 };
	char *out;
	size_t len;
	int fds[2];

	is_int(read_file("nope", 10, &out, &len, &e), -1,
	       "read_file on a missing file");
	is_int(e.code, FC_EINPUT, "is bad input");
	ok(strcmp(e.msg, "nope: No such file or directory") == 0, "%s", e.msg);
	is_int(read_file(".", 10, &out, &len, &e), -1, "read_file on a dir");
	ok(e.code == FC_EINPUT && strcmp(e.msg, ".: Is a directory") == 0,
	   "is bad input: %s", e.msg);
	is_int(io_code(ENOSPC), FC_EVMM, "ENOSPC is a system failure");
	is_int(io_code(EACCES), FC_EINPUT, "EACCES is bad input");
	is_int(write_file("no/dir", "x", 1, &e), -1,
	       "write_file into a missing directory");
	ok(strstr(e.msg, "no/dir: No such file") && e.code == FC_EINPUT,
	   "names the target: %s", e.msg);

	ok(pipe(fds) == 0 && write_all(fds[1], "abc", 3) == 0, "a pipe");
	close(fds[1]);
	is_int(read_fd(fds[0], 10, "pipe", &out, &len, &e), 0, "read_fd");
	ok(len == 3 && strcmp(out, "abc") == 0, "reads to EOF");
	free(out);
	close(fds[0]);
	errno = 0;
	ok(write_all(-1, "x", 1) == -1 && errno == EBADF, "write_all errors");
}

static int same_inode(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int same_file(const char *a, const char *b)
{
	struct fc_err e;
	char *pa = NULL, *pb = NULL;
	size_t la = 0, lb = 0;
	struct stat sa, sb;
	int r;

	r = read_file(a, 4 * MIB, &pa, &la, &e) == 0 &&
	    read_file(b, 4 * MIB, &pb, &lb, &e) == 0 && la == lb &&
	    memcmp(pa, pb, la) == 0 && stat(a, &sa) == 0 &&
	    stat(b, &sb) == 0 && sa.st_mode == sb.st_mode;
	free(pa);
	free(pb);
	return r;
}

static void test_link_or_copy(void)
{
	const char *src = "src";
	struct fc_err e = { 0 };

	put(src, "payload\n");
	chmod(src, 0751);
	is_int(link_or_copy(src, "hard", &e), 0, "same filesystem");
	ok(same_inode(src, "hard"), "is a hard link");
	is_int(link_or_copy(src, at(shm, "copy"), &e), 0, "to tmpfs");
	ok(!same_inode(src, at(shm, "copy")), "is a copy");
	ok(same_file(src, at(shm, "copy")), "with the same bytes and mode");
	is_int(link_or_copy(src, "hard", &e), -1, "onto a file");
	ok(e.code == FC_EINPUT && strstr(e.msg, "hard: File exists"),
	   "refuses: %s", e.msg);

	symlink("src", "sym");
	is_int(link_or_copy("sym", "viasym", &e), 0,
	       "from a symlink");
	ok(same_inode(src, "viasym"), "links its target");

	is_int(copy_file(src, "copy", &e), 0, "copy_file");
	ok(!same_inode(src, "copy") && same_file(src, "copy"),
	   "makes an equal copy");
	is_int(copy_file(".", "dircopy", &e), -1, "of a directory");
	ok(strstr(e.msg, "not a regular file") && e.code == FC_EINPUT,
	   "refuses: %s", e.msg);
	is_int(copy_file("gone", "x", &e), -1, "of nothing");
	ok(e.code == FC_EINPUT && strstr(e.msg, "gone: No such file"),
	   "names the source: %s", e.msg);
	ok(access("x", F_OK) < 0, "and leaves no target");
}

/* Do a and b hold the same n bytes at off? */
static int same_at(int a, int b, off_t off, size_t n)
{
	char x[4096], y[4096];

	return pread(a, x, n, off) == (ssize_t)n &&
	       pread(b, y, n, off) == (ssize_t)n && memcmp(x, y, n) == 0;
}

static int zero_at(int fd, off_t off)
{
	char x[4096], z[4096] = { 0 };

	return pread(fd, x, sizeof(x), off) == sizeof(x) &&
	       memcmp(x, z, sizeof(z)) == 0;
}

/* A 256 MiB file with three islands of data, like guest RAM. */
static int make_sparse(const char *path, off_t size)
{
	char blk[4096];
	int fd, i, r;

	for (i = 0; i < 4096; i++)
		blk[i] = (char)(i * 7 + 1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	r = ftruncate(fd, size) == 0 &&
	    pwrite(fd, blk, 4096, 0) == 4096 &&
	    pwrite(fd, blk, 4096, 100 * MIB) == 4096 &&
	    pwrite(fd, "tail", 4, size - 4) == 4;
	close(fd);
	return r ? 0 : -1;
}

static void check_sparse_copy(const char *src, const char *dst, off_t size,
			      const char *how)
{
	struct stat ss, ds;
	int a, b;

	a = open(src, O_RDONLY);
	b = open(dst, O_RDONLY);
	fstat(a, &ss);
	fstat(b, &ds);
	is_int(ds.st_size, size, "%s: same size", how);
	ok(same_at(a, b, 0, 4096) && same_at(a, b, 100 * MIB, 4096) &&
	   same_at(a, b, size - 4, 4), "%s: same data", how);
	ok(zero_at(b, 4096) && zero_at(b, 50 * MIB) && zero_at(b, size - 8192),
	   "%s: zeros between", how);
	ok(ds.st_blocks <= ss.st_blocks + 64,
	   "%s: holes kept (%lld blocks for %lld)", how,
	   (long long)ds.st_blocks, (long long)ss.st_blocks);
	ok((ds.st_mode & 07777) == 0600, "%s: mode kept", how);
	close(a);
	close(b);
}

static void test_sparse(void)
{
	const char *src = "mem";
	off_t size = 256 * (off_t)MIB;
	struct fc_err e = { 0 };
	struct stat st;

	if (make_sparse(src, size) < 0 || stat(src, &st) < 0 ||
	    st.st_blocks > 1024) {
		ok(1, "# SKIP %s cannot hold a sparse file", tmp);
		return;
	}
	is_int(copy_file(src, "mem.copy", &e), 0,
	       "copy a sparse 256 MiB file");
	check_sparse_copy(src, "mem.copy", size, "same fs");
	is_int(link_or_copy(src, at(shm, "mem"), &e), 0,
	       "copy it to tmpfs");
	check_sparse_copy(src, at(shm, "mem"), size, "tmpfs");
	unlink("mem.copy");
	unlink(at(shm, "mem"));
}

/* A 3 MiB file of data (no holes) across filesystems. */
static void test_dense(void)
{
	char *p = malloc(3 * MIB);
	struct fc_err e = { 0 };
	size_t i;

	for (i = 0; i < 3 * MIB; i++)
		p[i] = (char)(i ^ i >> 9);
	write_file("dense", p, 3 * MIB - 5, &e);
	is_int(copy_file("dense", at(shm, "dense"), &e), 0,
	       "copy 3 MiB to tmpfs");
	ok(same_file("dense", at(shm, "dense")), "identical");
	free(p);
}

static void test_rmtree(void)
{
	char deep[PATH_MAX] = "tree/a";
	struct stat st;
	char *keep = NULL;
	size_t len;
	int i;

	mkdir("outside", 0755);
	put("outside/keep", "keep me");
	mkdir("tree", 0755);
	mkdir("tree/a", 0755);
	mkdir("tree/a/b", 0755);
	mkdir("tree/empty", 0755);
	put("tree/a/b/c", "c");
	put("tree/f", "f");
	symlink("../outside", "tree/dirlink");
	symlink("../../outside/keep", "tree/a/filelink");
	symlink("/nonexistent/nowhere", "tree/dangling");
	for (i = 0; i < 40; i++) {
		strcat(deep, "/d");
		mkdir(deep, 0700);
	}
	ok(stat("tree/dirlink/keep", &st) == 0 &&
	   stat("tree/a/filelink", &st) == 0, "the links lead out");

	is_int(rmtree("tree"), 0, "rmtree on a tree with links out");
	ok(lstat("tree", &st) < 0 && errno == ENOENT, "removes it");
	ok(read_file("outside/keep", 100, &keep, &len, NULL) == 0 &&
	   strcmp(keep, "keep me") == 0, "leaves the link targets alone");
	free(keep);

	symlink("outside", "dlink");
	is_int(rmtree("dlink/"), 0, "rmtree on 'link/'");
	ok(lstat("dlink", &st) < 0 && stat("outside/keep", &st) == 0,
	   "removes the link, not the target");
	is_int(rmtree("missing"), 0, "a missing path is fine");
	put("plain", "x");
	is_int(rmtree("plain"), 0, "a plain file");
	ok(access("plain", F_OK) < 0, "is removed");
	errno = 0;
	ok(rmtree("src/x") == -1 && errno == ENOTDIR,
	   "a path through a file fails with ENOTDIR");
}

static void test_mkdirs(void)
{
	struct fc_err e = { 0 };
	struct stat st;

	is_int(mkdirs("m/n/o", 0755, &e), 0, "mkdirs m/n/o");
	ok(stat("m/n/o", &st) == 0 && S_ISDIR(st.st_mode),
	   "makes them");
	is_int(mkdirs("m/n/o", 0755, &e), 0, "again is fine");
	is_int(mkdirs("m//p/", 0755, &e), 0, "double and end slash");
	is_int(mkdirs("/", 0755, &e), 0, "/ exists");
	is_int(mkdirs("src/x", 0755, &e), -1, "through a file");
	ok(e.code == FC_EINPUT && strcmp(e.msg, "src: Not a directory") == 0,
	   "fails: %s", e.msg);
	is_int(mkdirs("src", 0755, &e), -1, "onto a file");
	ok(strstr(e.msg, "src: File exists") != NULL, "fails: %s", e.msg);
	is_int(mkdirs("", 0755, &e), -1, "an empty path");
}

static void test_strings(void)
{
	static const struct {
		const char *a, *b, *want;
	} j[] = {
		{ "a", "b", "a/b" }, { "a/", "b", "a/b" },
		{ "", "b", "b" }, { "/", "b", "/b" },
	};
	unsigned char bytes[] = { 0x00, 0xff, 0x1a, 0xa0 };
	char h[9], *s;
	size_t i;

	for (i = 0; i < sizeof(j) / sizeof(*j); i++) {
		s = path_join(j[i].a, j[i].b);
		is_str(s, j[i].want, "path_join('%s', '%s')", j[i].a, j[i].b);
		free(s);
	}
	hex(h, bytes, 4);
	is_str(h, "00ff1aa0", "hex");
	hex(h, bytes, 0);
	is_str(h, "", "hex of nothing");
}

static void escape_case(const char *in, size_t n, const char *want)
{
	char *s = escape_name(in, n);

	is_str(s, want, "escape_name gives '%s'", want);
	free(s);
}

static void test_escape(void)
{
	escape_case("fn.img/rootfs.ext4", 18, "fn.img/rootfs.ext4");
	escape_case("a b~", 4, "a b~");
	escape_case("a\\b", 3, "a\\x5cb");
	escape_case("\n\t\x1b", 3, "\\x0a\\x09\\x1b");
	escape_case("\xc3\xa9\x7f", 3, "\\xc3\\xa9\\x7f");
	escape_case("a\0b", 3, "a\\x00b");
	escape_case("", 0, "");
}

static int is_uuid4(const char *u)
{
	int i;

	if (strlen(u) != 36 || u[14] != '4' || !strchr("89ab", u[19]))
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", u[i])) {
			return 0;
		}
	}
	return 1;
}

static void test_random(void)
{
	unsigned char a[32] = { 0 }, b[32] = { 0 };
	char u1[37], u2[37];
	int64_t t1, t2;

	ok(random_bytes(a, 32) == 0 && random_bytes(b, 32) == 0 &&
	   memcmp(a, b, 32) != 0, "random_bytes gives fresh bytes");
	uuid4(u1);
	uuid4(u2);
	ok(is_uuid4(u1), "uuid4 shape: %s", u1);
	ok(is_uuid4(u2) && strcmp(u1, u2) != 0, "uuid4 differs: %s", u2);
	t1 = now_ns();
	t2 = now_ns();
	ok(t1 > 0 && t2 >= t1, "now_ns is monotonic");
	ok(wall_ns() > 1600000000LL * 1000000000, "wall_ns is after 2020");
}

int main(void)
{
	if (!mkdtemp(tmp) || !mkdtemp(shm) || chdir(tmp) < 0)
		skip_all("cannot make temporary directories");
	test_write_read();
	test_io_errors();
	test_link_or_copy();
	test_sparse();
	test_dense();
	test_rmtree();
	test_mkdirs();
	test_strings();
	test_escape();
	test_random();
	ok(chdir("/") == 0 && rmtree(tmp) == 0 && rmtree(shm) == 0,
	   "clean up");
	return done_testing();
}
