/* firecracker.c - the Firecracker driver: REST API, vsock, snapshots, jailer */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "fcapi.h"
#include "firecracker.h"
#include "json.h"
#include "sock.h"
#include "util.h"
#include "vmm.h"
#include "vsock.h"

/*
 * Every path Firecracker is given is relative to its working directory:
 * the VM's run directory, or the jail's root. There the inputs are hard
 * links (or symbolic links, or copies) of the real files, and the outputs
 * of a snapshot symbolic links to where they belong.
 */
#define API_SOCK "api.sock"
#define KERNEL "vmlinux"
#define INITRD "initrd"
#define STATE "state"
#define MEM "mem"
#define LOG_FILE "firecracker.log"	/* its log, in its working dir */
#define ERR_FILE "firecracker.err"	/* its stderr, in the run directory */
#define DRIVE_ID "rootfs"
#define GUEST_CID 3

#define SPAWN_NS (10 * 1000000000LL)	/* exec to a listening API socket */
#define CALL_MS 5000L			/* one configuration call */
#define LOAD_MS 30000L			/* snapshot/load */
#define CREATE_MS 120000L		/* snapshot/create writes all RAM */
#define ASK_NS (5 * 1000000000LL)	/* firecracker --version and friends */

/* The driver's state of one VM (vm->drv). */
struct fcvm {
	struct fcapi api;
	char bin[PATH_MAX];	/* the firecracker binary */
	char id[65];		/* --id, from the run directory's name */
	char *workdir;		/* its working directory */
	char *jail;		/* <chroot base>/<exec>/<id>: ours */
	int jailed;
	struct firecracker_jailer jailer;
	char *mem_file;		/* where a snapshot puts guest RAM */
};

/* --- the binary and what it says about itself --------------------------- */

/* name made absolute against the working directory, into out[n]. */
static int absolute_into(const char *name, char *out, size_t n)
{
	char cwd[PATH_MAX];

	if (name[0] == '/')
		return snprintf(out, n, "%s", name) < (int)n ? 0 : -1;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return snprintf(out, n, "%s/%s", cwd, name) < (int)n ? 0 : -1;
}

/* An executable: name itself if it has a slash, else looked up in PATH. */
static int find_in_path(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL, cand[PATH_MAX];
	int found = -1;

	if (strchr(name, '/'))
		return absolute_into(name, out, n) == 0 &&
		       access(out, X_OK) == 0 ? 0 : -1;
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && found < 0;
	     d = strtok_r(NULL, ":", &save)) {
		struct stat st;
		snprintf(cand, sizeof(cand), "%s/%s", *d ? d : ".", name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			found = absolute_into(cand, out, n);
	}
	free(dirs);
	return found;
}

int firecracker_binary(char *out, size_t n, struct fc_err *e)
{
	const char *env = getenv("FC_FIRECRACKER");
	const char *name = env && *env ? env : "firecracker";

	if (find_in_path(name, out, n) == 0)
		return 0;
	if (env && *env)
		return fc_errf(e, FC_EVMM, "%s ($FC_FIRECRACKER): not an "
			       "executable", env);
	return fc_errf(e, FC_EVMM, "firecracker: not found on PATH");
}

static int jailer_binary(char *out, size_t n, struct fc_err *e)
{
	const char *env = getenv("FC_JAILER");
	const char *name = env && *env ? env : "jailer";

	if (find_in_path(name, out, n) == 0)
		return 0;
	return fc_errf(e, FC_EVMM, "%s: the jailer is not found%s", name,
		       env && *env ? "" : " on PATH (or set $FC_JAILER)");
}

/* Run argv and read what it prints (stdout and stderr) into out[n]. */
static int ask(const char *const argv[], char *out, size_t n, int *status)
{
	int64_t deadline = now_ns() + ASK_NS;
	size_t got = 0;
	int p[2], st, late = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in < 0 || dup2(in, 0) < 0 || dup2(p[1], 1) < 0 ||
		    dup2(p[1], 2) < 0 || fcntl(0, F_SETFD, 0) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char chunk[512];
		ssize_t r;
		if (wait_readable(p[0], -1, deadline) != 1) {
			late = 1;
			break;
		}
		r = read(p[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && got + 1 < n; i++)
			out[got++] = chunk[i];
	}
	out[got] = 0;
	close(p[0]);
	if (late)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = late ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) :
		  128 + WTERMSIG(st);
	return 0;
}

/* The first "v<version>" word after prefix in text, without the v. */
static int version_word(const char *text, const char *prefix, char *out,
			size_t n)
{
	const char *v = strstr(text, prefix);

	if (!v || v[strlen(prefix)] != 'v')
		return -1;
	v += strlen(prefix) + 1;
	snprintf(out, n, "%.*s", (int)strcspn(v, " \t\r\n"), v);
	return out[0] ? 0 : -1;
}

/* Ask the binary one question whose answer is a version; cached per binary. */
static int ask_version(const char *flag, const char *arg, const char *prefix,
		       char *out, size_t n, struct fc_err *e)
{
	char bin[PATH_MAX], text[512];
	const char *argv[] = { bin, flag, arg, NULL };
	int status;

	if (firecracker_binary(bin, sizeof(bin), e) < 0)
		return -1;
	if (ask(argv, text, sizeof(text), &status) < 0)
		return fc_errnof(e, FC_EVMM, "%s %s", bin, flag);
	if (status == 0 && version_word(text, prefix, out, n) == 0)
		return 0;
	text[strcspn(text, "\n")] = 0;
	return fc_errf(e, FC_EVMM, "%s %s: %s", bin, flag,
		       status < 0 ? "no answer in time" : text[0] ? text :
		       "no version in its answer");
}

/* Asked once per binary; fc-poold restores from several threads. */
int firecracker_version(char *out, size_t n, struct fc_err *e)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char bin[PATH_MAX], ver[64];
	char now[PATH_MAX];
	int rc = 0;

	if (firecracker_binary(now, sizeof(now), e) < 0)
		return -1;
	pthread_mutex_lock(&lock);
	if (strcmp(now, bin) != 0) {
		rc = ask_version("--version", NULL, "Firecracker ", ver,
				 sizeof(ver), e);
		if (rc == 0)
			snprintf(bin, sizeof(bin), "%s", now);
	}
	if (rc == 0)
		snprintf(out, n, "%s", ver);
	pthread_mutex_unlock(&lock);
	return rc;
}

int firecracker_snapshot_format(char *out, size_t n, struct fc_err *e)
{
	return ask_version("--snapshot-version", NULL, "", out, n, e);
}

/* Does a binary writing format mine read format file? Same major, minor <=. */
static int format_readable(const char *file, const char *mine)
{
	unsigned fa, fb, ma, mb;

	if (sscanf(file, "%u.%u", &fa, &fb) != 2 ||
	    sscanf(mine, "%u.%u", &ma, &mb) != 2)
		return 0;
	return fa == ma && fb <= mb;
}

int firecracker_check_snapshot(const char *dir, const char *made_by,
			       const char *state, struct fc_err *e)
{
	char mine[64], fmt[64], file[64];
	struct fc_err why;

	if (firecracker_version(mine, sizeof(mine), e) < 0)
		return -1;
	if (made_by) {
		if (strcmp(made_by, mine) == 0)
			return 0;
		return fc_errf(e, FC_EINPUT, "%s: made by Firecracker v%s, but "
			       "this host has v%s, which loads only its own "
			       "release's snapshots (make it again with "
			       "fc-snap)", dir, made_by, mine);
	}
	/* No record of the release: compare formats where the binary can. */
	if (!state || firecracker_snapshot_format(fmt, sizeof(fmt), NULL) < 0)
		return 0;
	if (ask_version("--describe-snapshot", state, "", file, sizeof(file),
			&why) < 0)
		return fc_errf(e, FC_EINPUT, "%s: Firecracker v%s cannot read "
			       "this snapshot (%s)", dir, mine, why.msg);
	if (!format_readable(file, fmt))
		return fc_errf(e, FC_EINPUT, "%s: snapshot format %s is "
			       "another release's: Firecracker v%s reads %s "
			       "(make it again with fc-snap)", dir, file, mine,
			       fmt);
	return 0;
}

/* Is word one of the space-separated words of s? */
static int has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; (p = strstr(p, word)); p += n)
		if ((p == s || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
			return 1;
	return 0;
}

char *firecracker_boot_args(const char *cmdline)
{
	char *s;

	if (!cmdline)
		cmdline = "";
	if (has_word(cmdline, "reboot=k"))
		return strdup(cmdline);
	if (asprintf(&s, "%s%sreboot=k panic=1", cmdline,
		     *cmdline ? " " : "") < 0)
		return NULL;
	return s;
}

/* --- --jailer ------------------------------------------------------------ */

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno &&
	       *out < 0x7fffffff ? 0 : -1;
}

/* One key=value of a --jailer value. */
static int jailer_key(struct firecracker_jailer *j, const char *k,
		      const char *v, int *have, struct fc_err *e)
{
	unsigned long id;

	if (strcmp(k, "uid") == 0) {
		struct passwd *pw = parse_id(v, &id) == 0 ? NULL : getpwnam(v);
		if (!pw && parse_id(v, &id) < 0)
			return fc_errf(e, FC_EUSAGE, "--jailer: no such user "
				       "'%s'", v);
		j->uid = pw ? pw->pw_uid : (uid_t)id;
		if (pw && !(*have & 2))
			j->gid = pw->pw_gid, *have |= 4;
		*have |= 1;
	} else if (strcmp(k, "gid") == 0) {
		struct group *gr = parse_id(v, &id) == 0 ? NULL : getgrnam(v);
		if (!gr && parse_id(v, &id) < 0)
			return fc_errf(e, FC_EUSAGE, "--jailer: no such group "
				       "'%s'", v);
		j->gid = gr ? gr->gr_gid : (gid_t)id;
		*have |= 2;
	} else if (strcmp(k, "chroot-base") == 0) {
		if (v[0] != '/' || strlen(v) >= sizeof(j->chroot_base))
			return fc_errf(e, FC_EUSAGE, "--jailer: chroot-base "
				       "must be an absolute path: '%s'", v);
		snprintf(j->chroot_base, sizeof(j->chroot_base), "%s", v);
	} else if (strcmp(k, "cgroup-version") == 0) {
		if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
			return fc_errf(e, FC_EUSAGE, "--jailer: cgroup-version "
				       "is 1 or 2, not '%s'", v);
		j->cgroup_version = v[0] - '0';
	} else {
		return fc_errf(e, FC_EUSAGE, "--jailer: unknown key '%s' (uid, "
			       "gid, chroot-base, cgroup-version)", k);
	}
	return 0;
}

int firecracker_jailer_parse(const char *spec, struct firecracker_jailer *j,
			     struct fc_err *e)
{
	char *copy = strdup(spec), *save = NULL;
	int have = 0, rc = 0;

	if (!copy)
		return fc_errf(e, FC_EVMM, "out of memory");
	memset(j, 0, sizeof(*j));
	snprintf(j->chroot_base, sizeof(j->chroot_base), "/srv/jailer");
	/* The jailer's own default is 1; a cgroup2-only host needs 2. */
	j->cgroup_version =
		access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? 2 : 1;
	for (char *kv = strtok_r(copy, ",", &save); kv && rc == 0;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v) {
			rc = fc_errf(e, FC_EUSAGE, "--jailer: '%s' is not "
				     "KEY=VALUE", kv);
			break;
		}
		*v++ = 0;
		rc = jailer_key(j, kv, v, &have, e);
	}
	free(copy);
	if (rc == 0 && (!(have & 1) || !(have & 6)))
		rc = fc_errf(e, FC_EUSAGE, "--jailer: needs uid= and gid= "
			     "(e.g. uid=123,gid=100)");
	return rc;
}

/* --- the VM's working directory ------------------------------------------ */

static char *absolute(const char *p)
{
	char cwd[PATH_MAX];

	if (!p || p[0] == '/')
		return p ? strdup(p) : NULL;
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return path_join(cwd, p);
}

/* Could uid:gid read (and write) a file with this stat? */
static int usable_by(const struct stat *st, uid_t uid, gid_t gid, int writable)
{
	mode_t r = writable ? 6 : 4;

	if (st->st_uid == uid)
		return ((st->st_mode >> 6) & r) == r;
	if (st->st_gid == gid)
		return ((st->st_mode >> 3) & r) == r;
	return (st->st_mode & r) == r;
}

/* A private copy at dst; in a jail, owned by the jail's user. */
static int copy_in(struct fcvm *f, const char *src, const char *dst,
		   struct fc_err *e)
{
	if (copy_file(src, dst, e) < 0)
		return -1;
	if (f->jailed && chown(dst, f->jailer.uid, f->jailer.gid) < 0)
		return fc_errnof(e, FC_EVMM, "%s", dst);
	return 0;
}

/*
 * Put the input src at name in the working directory: a hard link where
 * the filesystem allows (the page cache stays shared), else a symbolic
 * link (not in a jail: it could not point out), else a copy. A writable
 * disk is always a private copy.
 */
static int stage_in(struct fcvm *f, const char *src, const char *name,
		    int writable, struct fc_err *e)
{
	char *abs = absolute(src), *dst = path_join(f->workdir, name);
	struct stat st;
	int rc = -1;

	if (!abs || !dst) {
		fc_errf(e, FC_EVMM, "out of memory");
		goto out;
	}
	if (writable) {
		rc = copy_in(f, abs, dst, e);
		goto out;
	}
	if (linkat(AT_FDCWD, abs, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0) {
		rc = 0;
		/* A shared file the jail's user cannot read becomes a copy. */
		if (f->jailed && stat(dst, &st) == 0 &&
		    !usable_by(&st, f->jailer.uid, f->jailer.gid, 0)) {
			unlink(dst);
			rc = copy_in(f, abs, dst, e);
		}
	} else if (!f->jailed && symlink(abs, dst) == 0) {
		rc = 0;
	} else {
		rc = copy_in(f, abs, dst, e);
	}
out:
	free(abs);
	free(dst);
	return rc;
}

/* Where Firecracker writes name, put a symbolic link to dst (not jailed). */
static int point_out(struct fcvm *f, const char *dst, const char *name,
		     struct fc_err *e)
{
	char *at = path_join(f->workdir, name);
	int rc = 0;

	if (!at)
		return fc_errf(e, FC_EVMM, "out of memory");
	unlink(at);
	if (symlink(dst, at) < 0)
		rc = fc_errnof(e, FC_EVMM, "%s", at);
	free(at);
	return rc;
}

/* Bring what Firecracker wrote in the jail to dst. */
static int take_out(struct fcvm *f, const char *name, const char *dst,
		    struct fc_err *e)
{
	char *at = path_join(f->workdir, name);
	int rc;

	if (!at)
		return fc_errf(e, FC_EVMM, "out of memory");
	unlink(dst);
	rc = link_or_copy(at, dst, e);
	unlink(at);
	free(at);
	return rc;
}

/* An empty file Firecracker (maybe as the jail's user) appends to. */
static int make_log(struct fcvm *f, struct fc_err *e)
{
	char *p = path_join(f->workdir, LOG_FILE);
	int fd = p ? open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0644) : -1;
	int rc = 0;

	if (fd < 0 ||
	    (f->jailed && fchown(fd, f->jailer.uid, f->jailer.gid) < 0))
		rc = fc_errnof(e, FC_EVMM, "%s", p ? p : LOG_FILE);
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* The --id: the run directory's name, in the letters Firecracker allows. */
static void make_id(const struct vm *vm, struct fcvm *f)
{
	const char *base = strrchr(vm->rundir, '/');

	snprintf(f->id, sizeof(f->id), "%s", base ? base + 1 : vm->rundir);
	for (char *p = f->id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			*p = '-';
}

/* <chroot base>/<exec name>/<id>/root, made here to put the files in first. */
static int make_jail(struct fcvm *f, struct fc_err *e)
{
	const char *exe = strrchr(f->bin, '/') + 1;
	struct stat st;
	char *jail;

	if (stat(f->jailer.chroot_base, &st) < 0)
		return fc_errnof(e, io_code(errno), "--jailer: chroot base %s",
				 f->jailer.chroot_base);
	if (asprintf(&jail, "%s/%s/%s", f->jailer.chroot_base, exe, f->id) < 0)
		return fc_errf(e, FC_EVMM, "out of memory");
	if (lstat(jail, &st) == 0) {
		fc_errf(e, FC_EVMM, "%s: already exists", jail);
		free(jail);
		return -1;
	}
	/* It was not there: from here on it is ours to remove. */
	f->jail = jail;
	f->workdir = path_join(jail, "root");
	if (!f->workdir)
		return fc_errf(e, FC_EVMM, "out of memory");
	return mkdirs(f->workdir, 0755, e);
}

/* The working directory, and the sockets' paths in the run directory. */
static int prepare_dirs(struct vm *vm, struct fcvm *f, struct fc_err *e)
{
	char *api, *chan;

	make_id(vm, f);
	if (f->jailed && make_jail(f, e) < 0)
		return -1;
	if (!f->jailed && !(f->workdir = strdup(vm->rundir)))
		return fc_errf(e, FC_EVMM, "out of memory");
	api = path_join(vm->rundir, API_SOCK);
	chan = path_join(vm->rundir, FIRECRACKER_VSOCK);
	if (!api || !chan) {
		free(api);
		free(chan);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	free(vm->qmp);
	free(vm->chan);
	vm->qmp = api;
	vm->chan = chan;
	if (!f->jailed)
		return 0;
	/* Jail paths may pass sun_path's 107 bytes: connect through links. */
	char *in_api = path_join(f->workdir, API_SOCK);
	char *in_chan = path_join(f->workdir, FIRECRACKER_VSOCK);
	int rc = 0;
	if (!in_api || !in_chan || symlink(in_api, api) < 0 ||
	    symlink(in_chan, chan) < 0)
		rc = fc_errnof(e, FC_EVMM, "%s", vm->rundir);
	free(in_api);
	free(in_chan);
	return rc;
}

/* --- the process ---------------------------------------------------------- */

static int spawn(struct vm *vm, struct fcvm *f, const char *console,
		 const char *const argv[], struct fc_err *e)
{
	char *err = path_join(vm->rundir, ERR_FILE);
	pid_t pid;

	if (!err)
		return fc_errf(e, FC_EVMM, "out of memory");
	if ((pid = fork()) < 0) {
		free(err);
		return fc_errnof(e, FC_EVMM, "fork");
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = open(console ? console : "/dev/null",
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int fd2 = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			       0644);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (in < 0 || out < 0 || fd2 < 0 || chdir(f->workdir) < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(fd2, 2);
		for (int i = 0; i < 3; i++)	/* dup2 onto itself keeps CLOEXEC */
			fcntl(i, F_SETFD, 0);
		setpgid(0, 0);
		execv(argv[0], (char *const *)argv);
		/* Only async-signal-safe calls here: the parent may have threads. */
		if (write(2, argv[0], strlen(argv[0])) > 0)
			(void)!write(2, ": cannot be run\n", 16);
		_exit(127);
	}
	free(err);
	vm->pid = pid;
	vm->pidfd = pid_watch(pid);
	vm->started = now_ns();
	return 0;
}

/* The last non-empty line of a file, for an error message. */
static void last_line(const char *path, char *out, size_t n)
{
	char *text = NULL, *line;
	size_t len = 0;
	struct fc_err ignore;

	if (!path || read_file(path, 1 << 20, &text, &len, &ignore) < 0)
		return;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
			   text[len - 1] == ' '))
		text[--len] = 0;
	line = strrchr(text, '\n');
	if (len > 0)
		snprintf(out, n, "%s", line ? line + 1 : text);
	free(text);
}

/* What Firecracker's exit codes mean. */
static const char *exit_meaning(int code)
{
	switch (code) {
	case 1: return " (error)";
	case 2: return " (unexpected error)";
	case 127: return " (could not be run)";
	case 148: return " (seccomp violation)";
	case 149: return " (SIGBUS)";
	case 150: return " (SIGSEGV)";
	case 151: return " (SIGXFSZ)";
	case 152: return " (bad configuration file)";
	case 153: return " (bad command line arguments)";
	case 154: return " (SIGXCPU)";
	case 155: return " (SIGPIPE)";
	case 156: return " (SIGHUP)";
	case 157: return " (SIGILL)";
	}
	return "";
}

/* Say in e how a process ended (st from waitpid) and what it wrote last. */
static int ended(struct vm *vm, const char *who, int st, struct fc_err *e)
{
	struct fcvm *f = vm->drv;
	char said[400] = "", *log;

	log = path_join(vm->rundir, ERR_FILE);
	last_line(log, said, sizeof(said));
	free(log);
	log = f && f->workdir ? path_join(f->workdir, LOG_FILE) : NULL;
	if (!said[0])
		last_line(log, said, sizeof(said));
	free(log);
	if (WIFSIGNALED(st))
		return fc_errf(e, FC_EVMM, "%s was killed by signal %d%s%s",
			       who, WTERMSIG(st), said[0] ? ": " : "", said);
	return fc_errf(e, FC_EVMM, "%s exited with status %d%s%s%s", who,
		       WEXITSTATUS(st), strcmp(who, "firecracker") == 0 ?
		       exit_meaning(WEXITSTATUS(st)) : "",
		       said[0] ? ": " : "", said);
}

/*
 * Has Firecracker exited? Then reap it, say how in e and return 1. It is
 * given a moment to finish dying: a dropped connection comes just before.
 */
static int explain_exit(struct vm *vm, const char *who, struct fc_err *e)
{
	int st;

	if (vm->pid <= 0)
		return 0;
	if (vm->pidfd >= 0)
		wait_readable(vm->pidfd, -1, now_ns() + 200 * 1000000LL);
	if (waitpid(vm->pid, &st, WNOHANG) != vm->pid)
		return 0;
	vm->pid = -1;
	ended(vm, who, st, e);
	return 1;
}

/*
 * The API socket's path is given absolute (it is in no snapshot), so that
 * the command line names the run directory: fc-restore's handles check it.
 */
static int launch_direct(struct vm *vm, struct fcvm *f, const char *console,
			 struct fc_err *e)
{
	const char *argv[] = { f->bin, "--api-sock", vm->qmp, "--id", f->id,
			       "--log-path", LOG_FILE, "--level", "Warning",
			       NULL };

	return spawn(vm, f, console, argv, e);
}

/*
 * The jailer makes the jail, then (with --new-pid-ns) forks Firecracker,
 * writes its pid to <root>/<exec name>.pid and exits. As a subreaper this
 * process inherits Firecracker, so it can wait for it like a child.
 */
static int launch_jailed(struct vm *vm, struct fcvm *f, const char *console,
			 int64_t deadline, struct fc_err *e)
{
	char jailer[PATH_MAX], uid[16], gid[16], cg[4], pidfile[PATH_MAX];
	const char *argv[] = { jailer, "--id", f->id, "--exec-file", f->bin,
		"--uid", uid, "--gid", gid,
		"--chroot-base-dir", f->jailer.chroot_base,
		"--cgroup-version", cg, "--new-pid-ns",
		"--", "--api-sock", API_SOCK, "--log-path", LOG_FILE,
		"--level", "Warning", NULL };
	char *text = NULL;
	size_t n;
	long pid;
	int st;

	if (jailer_binary(jailer, sizeof(jailer), e) < 0)
		return -1;
	if (geteuid() != 0)
		return fc_errf(e, FC_EUSAGE, "--jailer: the jailer must be run "
			       "as root");
	snprintf(uid, sizeof(uid), "%u", (unsigned)f->jailer.uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)f->jailer.gid);
	snprintf(cg, sizeof(cg), "%d", f->jailer.cgroup_version);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return fc_errnof(e, FC_EVMM, "jailer: PR_SET_CHILD_SUBREAPER");
	if (spawn(vm, f, console, argv, e) < 0)
		return -1;
	/* Without a pidfd (old kernels) the wait below is all there is. */
	if (vm->pidfd >= 0 && wait_readable(vm->pidfd, -1, deadline) != 1)
		return fc_errf(e, FC_ETIMEOUT, "jailer: still running after "
			       "%lld s", SPAWN_NS / 1000000000LL);
	while (waitpid(vm->pid, &st, 0) < 0 && errno == EINTR)
		;
	vm->pid = -1;
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->pidfd = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return ended(vm, "jailer", st, e);
	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", f->workdir,
		 strrchr(f->bin, '/') + 1);
	if (read_file(pidfile, 64, &text, &n, e) < 0)
		return fc_errctx(e, "jailer");
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 1)
		return fc_errf(e, FC_EVMM, "%s: no process id in it", pidfile);
	vm->pid = (pid_t)pid;
	vm->pidfd = pid_watch(vm->pid);
	return 0;
}

/* Wait for the API socket to accept (never a fixed sleep), then open it. */
static int wait_api(struct vm *vm, struct fcvm *f, int64_t deadline,
		    struct fc_err *e)
{
	int fd = unix_connect(vm->qmp, vm->pidfd, deadline, e);

	if (fd < 0) {
		if (!explain_exit(vm, "firecracker", e))
			fc_errctx(e, "firecracker: API socket");
		return -1;
	}
	close(fd);
	return fcapi_open(&f->api, vm->qmp, e);
}

/* --- the API calls -------------------------------------------------------- */

static int call(struct vm *vm, const char *method, const char *path,
		const char *body, long ms, struct fc_err *e)
{
	struct fcvm *f = vm->drv;

	if (fcapi_call(&f->api, method, path, body, ms, NULL, e) == 0)
		return 0;
	/* No HTTP answer: a dead process says more than a dead socket. */
	if (f->api.status == 0 && explain_exit(vm, "firecracker", e))
		return -1;
	return fc_errctx(e, "firecracker");
}

/* PUT each resource of a fresh VM, then start it. */
static int boot(struct vm *vm, const struct vm_config *c, struct fc_err *e)
{
	char *args = firecracker_boot_args(c->cmdline);
	struct buf b[4] = { 0 };
	int rc = -1;

	buf_printf(&b[0], "{\"vcpu_count\":%d,\"mem_size_mib\":%d}", c->vcpus,
		   c->memory_mib);
	buf_printf(&b[1], "{\"kernel_image_path\":\"" KERNEL "\",%s"
		   "\"boot_args\":",
		   c->initrd ? "\"initrd_path\":\"" INITRD "\"," : "");
	if (args)
		buf_json_str(&b[1], args, strlen(args));
	buf_puts(&b[1], "}");
	buf_puts(&b[2], "{\"drive_id\":\"" DRIVE_ID "\",\"path_on_host\":\""
		 FIRECRACKER_DRIVE "\",\"is_root_device\":false,"
		 "\"is_read_only\":true}");
	buf_printf(&b[3], "{\"guest_cid\":%d,\"uds_path\":\""
		   FIRECRACKER_VSOCK "\"}", GUEST_CID);
	if (!args || !b[0].p || !b[1].p || !b[2].p || !b[3].p)
		fc_errf(e, FC_EVMM, "out of memory");
	else if (call(vm, "PUT", "/machine-config", b[0].p, CALL_MS, e) == 0 &&
		 call(vm, "PUT", "/boot-source", b[1].p, CALL_MS, e) == 0 &&
		 call(vm, "PUT", "/drives/" DRIVE_ID, b[2].p, CALL_MS,
		      e) == 0 &&
		 call(vm, "PUT", "/vsock", b[3].p, CALL_MS, e) == 0)
		rc = call(vm, "PUT", "/actions",
			  "{\"action_type\":\"InstanceStart\"}", CALL_MS, e);
	for (int i = 0; i < 4; i++)
		buf_free(&b[i]);
	free(args);
	return rc;
}

/* The first and only configuring call of a restored VM. */
static int load(struct vm *vm, struct fc_err *e)
{
	return call(vm, "PUT", "/snapshot/load",
		    "{\"snapshot_path\":\"" STATE "\",\"mem_backend\":"
		    "{\"backend_type\":\"File\",\"backend_path\":\"" MEM "\"},"
		    "\"resume_vm\":true}", LOAD_MS, e);
}

/* --- the driver ----------------------------------------------------------- */

/* Refuse, before loading, a snapshot another release made. */
static int check_release(const struct vm_config *c, struct fc_err *e)
{
	char *dir = strdup(c->state), *slash;
	int rc;

	if (!dir)
		return fc_errf(e, FC_EVMM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	rc = firecracker_check_snapshot(slash ? (*dir ? dir : "/") : ".",
					c->vmm_version, c->state, e);
	free(dir);
	return rc;
}

/* Link or copy in what this start needs; outputs are placed at snapshot. */
static int stage(struct fcvm *f, const struct vm_config *c, struct fc_err *e)
{
	if (make_log(f, e) < 0 ||
	    stage_in(f, c->rootfs, FIRECRACKER_DRIVE, 0, e) < 0)
		return -1;
	if (c->state)
		return stage_in(f, c->state, STATE, 0, e) < 0 ||
		       stage_in(f, c->mem_file, MEM, 0, e) < 0 ? -1 : 0;
	if (stage_in(f, c->kernel, KERNEL, 0, e) < 0)
		return -1;
	return c->initrd ? stage_in(f, c->initrd, INITRD, 0, e) : 0;
}

static int fc_start(struct vm *vm, const struct vm_config *c, struct fc_err *e)
{
	struct fcvm *f = calloc(1, sizeof(*f));
	int64_t deadline;

	if (!f)
		return fc_errf(e, FC_EVMM, "out of memory");
	vm->drv = f;
	if (firecracker_binary(f->bin, sizeof(f->bin), e) < 0)
		return -1;
	if (c->state && check_release(c, e) < 0)
		return -1;
	if (c->jailer) {
		f->jailer = *c->jailer;
		f->jailed = 1;
	}
	if (!c->rootfs || !c->mem_file || !(c->state || c->kernel))
		return fc_errf(e, FC_EVMM, "firecracker: the VM needs a disk, a "
			       "memory file and a kernel or a state");
	if (!(f->mem_file = absolute(c->mem_file)))
		return fc_errf(e, FC_EVMM, "out of memory");
	if (prepare_dirs(vm, f, e) < 0 || stage(f, c, e) < 0)
		return -1;
	deadline = now_ns() + SPAWN_NS;
	if ((f->jailed ? launch_jailed(vm, f, c->console, deadline, e) :
	     launch_direct(vm, f, c->console, e)) < 0)
		return -1;
	if (wait_api(vm, f, deadline, e) < 0)
		return -1;
	return c->state ? load(vm, e) : boot(vm, c, e);
}

static int fc_connect(struct vm *vm, int64_t deadline, struct fc_err *e)
{
	int fd = vsock_connect(vm->chan, VSOCK_AGENT_PORT, vm->pidfd, deadline,
			       e);

	if (fd < 0 && !explain_exit(vm, "firecracker", e))
		fc_errctx(e, "firecracker");
	return fd;
}

static int fc_snapshot(struct vm *vm, const char *state, int64_t deadline,
		       struct fc_err *e)
{
	struct fcvm *f = vm->drv;
	char *dst = absolute(state);
	long ms = ms_left(deadline);
	int rc = -1;

	if (!dst)
		return fc_errf(e, FC_EVMM, "out of memory");
	if (!f->jailed && (point_out(f, dst, STATE, e) < 0 ||
			   point_out(f, f->mem_file, MEM, e) < 0))
		goto out;
	if (call(vm, "PATCH", "/vm", "{\"state\":\"Paused\"}", CALL_MS,
		 e) < 0 ||
	    call(vm, "PUT", "/snapshot/create",
		 "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"" STATE "\","
		 "\"mem_file_path\":\"" MEM "\"}",
		 ms < 0 || ms > CREATE_MS ? CREATE_MS : ms, e) < 0)
		goto out;
	rc = 0;
	if (f->jailed && (take_out(f, STATE, dst, e) < 0 ||
			  take_out(f, MEM, f->mem_file, e) < 0))
		rc = -1;
out:
	free(dst);
	return rc;
}

static void fc_kill(struct vm *vm)
{
	if (vm->pid > 0)
		kill(vm->pid, SIGKILL);
}

/* The jailer leaves its cgroups: <mount>/<exec name>/<id> per hierarchy. */
static void remove_cgroups(struct fcvm *f)
{
	const char *exe = strrchr(f->bin, '/') + 1;
	char p[PATH_MAX];
	struct dirent *d;
	DIR *dir;

	if (f->jailer.cgroup_version == 2) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", exe, f->id);
		rmdir(p);
		return;
	}
	if (!(dir = opendir("/sys/fs/cgroup")))
		return;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.') {
			snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/%s",
				 d->d_name, exe, f->id);
			rmdir(p);
		}
	closedir(dir);
}

static void fc_release(struct vm *vm)
{
	struct fcvm *f = vm->drv;

	if (!f)
		return;
	fcapi_close(&f->api);
	if (f->jail) {
		rmtree(f->jail);
		remove_cgroups(f);
	}
	free(f->jail);
	free(f->workdir);
	free(f->mem_file);
	free(f);
	vm->drv = NULL;
}

const struct vmm_ops vmm_firecracker = {
	.name = "firecracker",
	.version = firecracker_version,
	.start = fc_start,
	.connect = fc_connect,
	.snapshot = fc_snapshot,
	.kill = fc_kill,
	.release = fc_release,
};
