/* image.c - stage a function's root filesystem and make it an ext4 image */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "image.h"
#include "json.h"
#include "util.h"

#define BLOCK 4096
#define RUN_OUTPUT_MAX (1 << 20)

extern char **environ;

/* Where the image's own files live: node may not be installed there. */
static const char *const layout[] = {
	"/var/task", "/opt/fc", "/etc/fc", "/proc", "/sys", "/dev", "/tmp",
};

/* ---- running host tools ---------------------------------------------- */

/* environ plus LC_ALL=C, so that tools answer in words we can parse. */
static char **c_locale_env(void)
{
	size_t n = 0, i, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "LC_ALL=", 7) != 0)
			env[k++] = environ[i];
	env[k] = "LC_ALL=C";
	return env;
}

/*
 * Run argv (looked up in PATH) with stdin from /dev/null and stdout and
 * stderr into *out (malloc'd, NUL-terminated). Returns its wait status,
 * or -1 with e filled when it cannot be run.
 */
static int run(char *const argv[], char **out, struct fc_err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t dfl;
	int p[2], status = -1, err;
	char **env = c_locale_env();
	size_t len;
	pid_t pid;

	*out = NULL;
	if (!env || pipe2(p, O_CLOEXEC) < 0) {
		free(env);
		return fc_errnof(e, FC_EVMM, "%s", argv[0]);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	/* The caller may ignore SIGPIPE; the tool should not. */
	posix_spawnattr_init(&attr);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(p[1]);
	if (err) {
		close(p[0]);
		errno = err;
		return fc_errnof(e, FC_EVMM, "%s", argv[0]);
	}
	if (read_fd(p[0], RUN_OUTPUT_MAX, argv[0], out, &len, e) < 0)
		kill(pid, SIGKILL);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!*out)
		return -1;
	return status;
}

/* The first line of a tool's output, for a message. */
static const char *first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return *s ? s : "no output";
}

/* ---- paths ----------------------------------------------------------- */

/* Clean the absolute path in into out[PATH_MAX]: no "", "." or "..". */
static int abs_clean(const char *in, char *out)
{
	const char *r, *end;
	size_t len, w = 0;

	if (in[0] != '/' || strlen(in) >= PATH_MAX)
		return -1;
	for (r = in; *r; r = *end ? end + 1 : end) {
		end = r + strcspn(r, "/");
		len = (size_t)(end - r);
		if (len == 0 || (len == 1 && r[0] == '.'))
			continue;
		if (len == 2 && r[0] == '.' && r[1] == '.') {
			while (w > 0 && out[--w] != '/')
				;
			continue;
		}
		out[w++] = '/';
		memcpy(out + w, r, len);
		w += len;
	}
	if (w == 0)
		out[w++] = '/';
	out[w] = '\0';
	return 0;
}

/* Does path lie in one of the image's own directories? */
static int in_layout(const char *path)
{
	size_t n;

	for (size_t i = 0; i < sizeof(layout) / sizeof(*layout); i++) {
		n = strlen(layout[i]);
		if (!strncmp(path, layout[i], n) &&
		    (!path[n] || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* The first executable name in PATH, into out[PATH_MAX]; -1 if none. */
static int search_path(const char *name, char *out)
{
	const char *path = getenv("PATH"), *p, *end;
	char cand[PATH_MAX], cwd[PATH_MAX];
	struct stat sb;

	for (p = path ? path : "/usr/bin:/bin"; ; p = end + 1) {
		end = p + strcspn(p, ":");
		if (end == p)
			snprintf(cand, sizeof(cand), "%s", name);
		else
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p),
				 p, name);
		if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(cand, X_OK) == 0) {
			if (cand[0] == '/')
				return abs_clean(cand, out);
			if (!getcwd(cwd, sizeof(cwd)) ||
			    strlen(cwd) + strlen(cand) + 2 > sizeof(cwd))
				return -1;
			strcat(strcat(cwd, "/"), cand);
			return abs_clean(cwd, out);
		}
		if (!*end)
			return -1;
	}
}

/* ---- node and its libraries ----------------------------------------- */

static int node_path(const char *arg, struct image_node *n,
		     struct fc_err *e)
{
	char cwd[PATH_MAX], tmp[2 * PATH_MAX];
	struct stat sb;

	if (!strchr(arg, '/')) {
		if (search_path(arg, n->path) < 0)
			return fc_errf(e, FC_EVMM, "%s: not found in PATH "
				       "(install Node.js or pass --node)", arg);
		return 0;
	}
	if (arg[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return fc_errnof(e, FC_EVMM, "getcwd");
	snprintf(tmp, sizeof(tmp), "%s/%s", arg[0] == '/' ? "" : cwd, arg);
	if (abs_clean(tmp, n->path) < 0)
		return fc_errf(e, FC_EINPUT, "%s: path is too long", arg);
	if (stat(n->path, &sb) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", arg);
	if (!S_ISREG(sb.st_mode) || access(n->path, X_OK) < 0)
		return fc_errf(e, FC_EINPUT, "%s: not an executable file", arg);
	return 0;
}

static int node_version(struct image_node *n, struct fc_err *e)
{
	char *argv[] = { n->path, "--version", NULL }, *out;
	int st = run(argv, &out, e);
	const char *v;

	if (st < 0)
		return -1;
	v = first_line(out);
	if (st != 0 || v[0] != 'v' || strlen(v) >= sizeof(n->version)) {
		fc_errf(e, FC_EINPUT, "%s --version: %s", n->path, v);
		free(out);
		return -1;
	}
	snprintf(n->version, sizeof(n->version), "%s", v);
	free(out);
	return 0;
}

static int add_lib(struct image_node *n, const char *path, size_t len,
		   struct fc_err *e)
{
	char raw[PATH_MAX], clean[PATH_MAX], **nl;

	if (len >= sizeof(raw))
		return fc_errf(e, FC_EVMM, "ldd %s: path too long", n->path);
	memcpy(raw, path, len);
	raw[len] = '\0';
	if (abs_clean(raw, clean) < 0 || in_layout(clean))
		return fc_errf(e, FC_EVMM, "ldd %s: unusable library path %s",
			       n->path, raw);
	for (size_t i = 0; i < n->nlibs; i++)
		if (strcmp(n->libs[i], clean) == 0)
			return 0;
	nl = realloc(n->libs, (n->nlibs + 1) * sizeof(*nl));
	if (!nl || !(nl[n->nlibs] = strdup(clean))) {
		n->libs = nl ? nl : n->libs;
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	n->libs = nl;
	n->nlibs++;
	return 0;
}

/*
 * One line of ldd: "name => /path (0x...)", "/path (0x...)", a vDSO
 * without a path (skipped), or "name => not found".
 */
static int ldd_line(struct image_node *n, char *line, struct fc_err *e)
{
	char *p = line + strspn(line, " \t"), *arrow = strstr(p, " => ");

	if (arrow) {
		*arrow = '\0';
		if (!strncmp(arrow + 4, "not found", 9))
			return fc_errf(e, FC_EVMM, "%s needs %s, which ldd "
				       "cannot find", n->path, p);
		p = arrow + 4 + strspn(arrow + 4, " \t");
	}
	if (p[0] != '/')
		return 0;
	return add_lib(n, p, strcspn(p, " \t("), e);
}

static int node_libs(struct image_node *n, struct fc_err *e)
{
	char *argv[] = { "ldd", n->path, NULL }, *out, *line, *save = NULL;
	int st = run(argv, &out, e), r = 0;

	if (st < 0)
		return -1;
	if (strstr(out, "not a dynamic executable") ||
	    strstr(out, "statically linked")) {
		free(out);
		return 0;
	}
	if (st != 0) {
		fc_errf(e, FC_EVMM, "ldd %s: %s", n->path, first_line(out));
		free(out);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save))
		r = ldd_line(n, line, e);
	free(out);
	return r;
}

/*
 * node must be an ELF file outside the image's own directories; a
 * version manager's shim script would not run in the guest.
 */
static int node_usable(struct image_node *n, struct fc_err *e)
{
	char magic[4];
	int fd;

	if (!realpath(n->path, n->real))
		return fc_errnof(e, FC_EINPUT, "%s", n->path);
	if (in_layout(n->path) || in_layout(n->real))
		return fc_errf(e, FC_EINPUT, "%s: node may not live in %s, "
			       "where the image keeps its own files", n->path,
			       "/var/task, /opt/fc, /etc/fc or a mount point");
	fd = open(n->real, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fc_errnof(e, FC_EINPUT, "%s", n->real);
	if (read(fd, magic, 4) != 4 || memcmp(magic, "\177ELF", 4) != 0) {
		close(fd);
		return fc_errf(e, FC_EINPUT, "%s: not an ELF executable (a "
			       "version manager's shim?); pass --node with "
			       "node itself", n->path);
	}
	close(fd);
	return 0;
}

int image_node_find(const char *arg, struct image_node *n, struct fc_err *e)
{
	memset(n, 0, sizeof(*n));
	if (node_path(arg, n, e) < 0 || node_usable(n, e) < 0)
		return -1;
	if (node_version(n, e) < 0 || node_libs(n, e) < 0) {
		image_node_free(n);
		return -1;
	}
	return 0;
}

void image_node_free(struct image_node *n)
{
	for (size_t i = 0; i < n->nlibs; i++)
		free(n->libs[i]);
	free(n->libs);
	n->libs = NULL;
	n->nlibs = 0;
}

/* ---- the handler ----------------------------------------------------- */

/* A part of the export: any printable text, as a property name can be. */
static int export_part(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Is the relative path p[0..len) plain: no empty, "." or ".." parts? */
static int plain_path(const char *p, size_t len)
{
	size_t i = 0, c;

	if (len == 0)
		return 0;
	while (i < len) {
		c = i;
		while (i < len && p[i] != '/')
			if ((unsigned char)p[i++] < 0x20 || p[i - 1] == '\\')
				return 0;
		if (i == c || (i - c == 1 && p[c] == '.') ||
		    (i - c == 2 && p[c] == '.' && p[c + 1] == '.'))
			return 0;
		i++;
	}
	return p[len - 1] != '/';
}

/*
 * Lambda's split: the module is the path up to the first dot of its last
 * component, the export the dotted rest; ".." anywhere is refused, as the
 * runtime does.
 */
int image_handler_file(const char *handler, char *file, size_t size)
{
	const char *base = strrchr(handler, '/'), *dot, *x, *end;

	base = base ? base + 1 : handler;
	dot = strchr(base, '.');
	if (!dot || dot == base || strstr(handler, "..") ||
	    (size_t)(dot - handler) >= size ||
	    !plain_path(handler, (size_t)(dot - handler)))
		return -1;
	for (x = dot + 1; ; x = end + 1) {
		end = x + strcspn(x, ".");
		if (!export_part(x, (size_t)(end - x)))
			return -1;
		if (!*end)
			break;
	}
	memcpy(file, handler, (size_t)(dot - handler));
	file[dot - handler] = '\0';
	return 0;
}

static const char *const exts[] = { ".js", ".mjs", ".cjs", "" };

/*
 * The handler's module under dir (a relative path, "" for the package):
 * the index in exts of the file found, or -1. As the runtime does, take
 * FILE.js, .mjs, .cjs or FILE itself.
 */
static int find_module(int taskfd, const char *dir, const char *file)
{
	char p[2 * PATH_MAX];
	struct stat sb;

	for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
		snprintf(p, sizeof(p), "%s%s%s%s", dir, *dir ? "/" : "", file,
			 exts[i]);
		if (fstatat(taskfd, p, &sb, 0) == 0 && S_ISREG(sb.st_mode))
			return (int)i;
	}
	return -1;
}

/* A package of that name in node_modules, which require() also finds. */
static int find_package(int taskfd, const char *file)
{
	char p[PATH_MAX + 16];
	struct stat sb;

	snprintf(p, sizeof(p), "node_modules/%s", file);
	return fstatat(taskfd, p, &sb, 0) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* A folder at the top that holds the handler: the zip held the folder. */
static int find_one_down(int taskfd, const char *file, char *hint,
			 size_t size)
{
	struct dirent *d;
	struct stat sb;
	DIR *dir;
	int fd = dup(taskfd), i;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || fstatat(taskfd, d->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		if ((i = find_module(taskfd, d->d_name, file)) < 0)
			continue;
		snprintf(hint, size, " (found %s/%s%s: zip the folder's "
			 "contents, not the folder)", d->d_name, file, exts[i]);
		closedir(dir);
		return 0;
	}
	closedir(dir);
	return -1;
}

int image_handler_check(int taskfd, const char *handler, const char *what,
			struct fc_err *e)
{
	char file[PATH_MAX], hint[2 * PATH_MAX + 80] = "";

	if (image_handler_file(handler, file, sizeof(file)) < 0)
		return fc_errf(e, FC_EUSAGE, "%s: not a handler", handler);
	if (find_module(taskfd, "", file) >= 0 ||
	    find_package(taskfd, file) == 0)
		return 0;
	find_one_down(taskfd, file, hint, sizeof(hint));
	return fc_errf(e, FC_EINPUT, "%s: no %s.js, %s.mjs or %s.cjs for "
		       "handler %s%s", what, file, file, file, handler, hint);
}

/* ---- the environment ------------------------------------------------- */

int image_env_key_ok(const char *key)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

	if (!*key || (*key >= '0' && *key <= '9'))
		return 0;
	return strspn(key, ok) == strlen(key);
}

/* Lambda's reserved variables, and ours (FC_*). */
int image_env_reserved(const char *key)
{
	static const char *const names[] = {
		"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION",
		"AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
		"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
		"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
	};

	if (!strncmp(key, "FC_", 3))
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(key, names[i]) == 0)
			return 1;
	return 0;
}

static char **env_slot(const struct image_env *env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->kv[i], key, n) && env->kv[i][n] == '=')
			return &env->kv[i];
	return NULL;
}

int image_env_set(struct image_env *env, const char *key, const char *val)
{
	char **slot = env_slot(env, key), *kv, **nkv;

	if (asprintf(&kv, "%s=%s", key, val) < 0)
		return -1;
	if (slot) {
		free(*slot);
		*slot = kv;
		return 0;
	}
	nkv = realloc(env->kv, (env->n + 1) * sizeof(*nkv));
	if (!nkv) {
		free(kv);
		return -1;
	}
	env->kv = nkv;
	env->kv[env->n++] = kv;
	return 0;
}

const char *image_env_get(const struct image_env *env, const char *key)
{
	char **slot = env_slot(env, key);

	return slot ? *slot + strlen(key) + 1 : NULL;
}

void image_env_free(struct image_env *env)
{
	for (size_t i = 0; i < env->n; i++)
		free(env->kv[i]);
	free(env->kv);
	env->kv = NULL;
	env->n = 0;
}

int image_env_json(const struct image_env *env, struct buf *b)
{
	const char *eq;
	int r = buf_puts(b, "{");

	for (size_t i = 0; i < env->n && r == 0; i++) {
		eq = strchr(env->kv[i], '=');
		r = buf_puts(b, i ? "," : "");
		r |= buf_json_str(b, env->kv[i], (size_t)(eq - env->kv[i]));
		r |= buf_puts(b, ":");
		r |= buf_json_str(b, eq + 1, strlen(eq + 1));
	}
	return r | buf_puts(b, "}") ? -1 : 0;
}

/* Lambda names a log stream "YYYY/MM/DD/[$LATEST]" and 32 hex digits. */
static void log_stream(char *out, size_t size)
{
	unsigned char rnd[16] = { 0 };
	char hx[33];
	time_t t = time(NULL);
	struct tm tm;

	random_bytes(rnd, sizeof(rnd));
	hex(hx, rnd, sizeof(rnd));
	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d/%02d/%02d/[$LATEST]%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, hx);
}

int image_env_lambda(struct image_env *env, const struct image_conf *c,
		     struct fc_err *e)
{
	int major = atoi(c->node->version + 1);
	char num[32], tmo[32], grp[160], stream[96], exe[64], np[256];
	const char *kv[][2] = {
		{ "PATH", "/usr/local/bin:/usr/bin:/bin" },
		{ "LANG", "C.UTF-8" }, { "TZ", ":UTC" },
		{ "_HANDLER", c->handler }, { "LAMBDA_TASK_ROOT", "/var/task" },
		{ "LAMBDA_RUNTIME_DIR", "/opt/fc" },
		{ "AWS_EXECUTION_ENV", exe },
		{ "AWS_LAMBDA_FUNCTION_NAME", c->name },
		{ "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", num },
		{ "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST" },
		{ "AWS_LAMBDA_LOG_GROUP_NAME", grp },
		{ "AWS_LAMBDA_LOG_STREAM_NAME", stream },
		{ "AWS_REGION", c->region },
		{ "AWS_DEFAULT_REGION", c->region },
		{ "NODE_PATH", np }, { "FC_TIMEOUT_MS", tmo },
	};
	int r = 0;

	snprintf(num, sizeof(num), "%ld", c->memory_mib);
	snprintf(tmo, sizeof(tmo), "%ld", c->timeout_s * 1000);
	snprintf(grp, sizeof(grp), "/aws/lambda/%s", c->name);
	snprintf(exe, sizeof(exe), "AWS_Lambda_nodejs%d.x", major);
	snprintf(np, sizeof(np), "/opt/nodejs/node%d/node_modules:"
		 "/opt/nodejs/node_modules:/var/runtime/node_modules:"
		 "/var/runtime:/var/task", major);
	log_stream(stream, sizeof(stream));
	for (size_t i = 0; i < sizeof(kv) / sizeof(*kv) && r == 0; i++)
		r = image_env_set(env, kv[i][0], kv[i][1]);
	for (size_t i = 0; c->user && i < c->user->n && r == 0; i++) {
		const char *kvi = c->user->kv[i], *eq = strchr(kvi, '=');
		char *key = strndup(kvi, (size_t)(eq - kvi));

		r = key ? image_env_set(env, key, eq + 1) : -1;
		free(key);
	}
	return r < 0 ? fc_errf(e, FC_EVMM, "out of memory") : 0;
}

/* ---- staging --------------------------------------------------------- */

/* stage + abs ("/usr/bin/node"), malloc'd. */
static char *in_stage(const char *stage, const char *abs)
{
	char *p;

	return asprintf(&p, "%s%s", stage, abs) < 0 ? NULL : p;
}

/*
 * Put the host file at abs into the stage at the same path: a hard link
 * where the file system allows it (mke2fs only reads it), else a copy.
 */
static int stage_host_file(const char *stage, const char *abs,
			   struct fc_err *e)
{
	char *dst = in_stage(stage, abs), *slash;
	int r = -1;

	if (!dst)
		return fc_errf(e, FC_EVMM, "out of memory");
	slash = strrchr(dst, '/');
	*slash = '\0';
	if (mkdirs(dst, 0755, e) == 0) {
		*slash = '/';
		r = link_or_copy(abs, dst, e);
	}
	free(dst);
	return r;
}

/*
 * node at its real path and, if it was found through a link, the link
 * too: node finds its own files relative to where it really is.
 */
static int stage_node(const char *stage, const struct image_node *n,
		      struct fc_err *e)
{
	char *link;
	int r;

	if (stage_host_file(stage, n->real, e) < 0)
		return -1;
	if (strcmp(n->real, n->path) == 0)
		return 0;
	if (!(link = in_stage(stage, n->path)))
		return fc_errf(e, FC_EVMM, "out of memory");
	*strrchr(link, '/') = '\0';
	r = mkdirs(link, 0755, e);
	link[strlen(link)] = '/';
	if (r == 0 && symlink(n->real, link) < 0)
		r = fc_errnof(e, FC_EVMM, "%s", link);
	free(link);
	return r;
}

/* Every *.js, *.mjs, *.cjs and *.json file of rtdir into /opt/fc. */
static int stage_runtime(const char *stage, const char *rtdir,
			 struct fc_err *e)
{
	char src[PATH_MAX], dst[PATH_MAX];
	const char *dot;
	struct dirent *d;
	DIR *dir;
	int r = 0;

	snprintf(src, sizeof(src), "%s/%s", rtdir, IMAGE_BOOTSTRAP);
	if (access(src, R_OK) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", src);
	if (!(dir = opendir(rtdir)))
		return fc_errnof(e, FC_EINPUT, "%s", rtdir);
	while (r == 0 && (d = readdir(dir))) {
		dot = strrchr(d->d_name, '.');
		if (d->d_name[0] == '.' || !dot || (strcmp(dot, ".js") &&
		    strcmp(dot, ".mjs") && strcmp(dot, ".cjs") &&
		    strcmp(dot, ".json")))
			continue;
		snprintf(src, sizeof(src), "%s/%s", rtdir, d->d_name);
		snprintf(dst, sizeof(dst), "%s/%s/%s", stage,
			 IMAGE_RUNTIME_DIR, d->d_name);
		r = copy_file(src, dst, e);
		if (r == 0 && chmod(dst, 0644) < 0)
			r = fc_errnof(e, FC_EVMM, "%s", dst);
	}
	closedir(dir);
	return r;
}

/* Write text to stage/rel with mode 0644. */
static int stage_text(const char *stage, const char *rel, const char *text,
		      struct fc_err *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", stage, rel);
	return write_file(path, text, strlen(text), e);
}

/* /etc/fc/runtime (argv, one per line) and /etc/fc/env (KEY=VALUE). */
static int stage_config(const char *stage, const struct image_node *n,
			const struct image_env *env, struct fc_err *e)
{
	struct buf b = { 0 };
	int r;

	buf_printf(&b, "%s\n/%s/%s\n", n->path, IMAGE_RUNTIME_DIR,
		   IMAGE_BOOTSTRAP);
	r = b.p ? stage_text(stage, "etc/fc/runtime", b.p, e) :
		  fc_errf(e, FC_EVMM, "out of memory");
	buf_free(&b);
	if (r < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < env->n; i++)
		buf_printf(&b, "%s\n", env->kv[i]);
	r = b.p ? stage_text(stage, "etc/fc/env", b.p, e) :
		  fc_errf(e, FC_EVMM, "out of memory");
	buf_free(&b);
	return r;
}

int image_stage(const char *stage, const struct image_node *n,
		const char *rtdir, const struct image_env *env,
		struct fc_err *e)
{
	static const char *const dirs[] = {
		"proc", "sys", "dev", "tmp", "etc/fc", IMAGE_RUNTIME_DIR,
		IMAGE_TASK,
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", stage, dirs[i]);
		if (mkdirs(path, 0755, e) < 0)
			return -1;
	}
	if (stage_node(stage, n, e) < 0)
		return -1;
	for (size_t i = 0; i < n->nlibs; i++)
		if (stage_host_file(stage, n->libs[i], e) < 0)
			return -1;
	if (stage_runtime(stage, rtdir, e) < 0)
		return -1;
	return stage_config(stage, n, env, e);
}

/* ---- sizing and mke2fs ----------------------------------------------- */

static uint64_t blocks_of(uint64_t bytes)
{
	return (bytes + BLOCK - 1) / BLOCK;
}

int image_measure(const char *stage, struct image_usage *u,
		  struct fc_err *e)
{
	char *const roots[] = { (char *)stage, NULL };
	uint64_t dirent = 0;
	FTSENT *f;
	FTS *fts;

	memset(u, 0, sizeof(*u));
	fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
	if (!fts)
		return fc_errnof(e, FC_EVMM, "%s", stage);
	while ((f = fts_read(fts))) {
		if (f->fts_info == FTS_DP)
			continue;
		if (f->fts_info == FTS_ERR || f->fts_info == FTS_DNR ||
		    f->fts_info == FTS_NS) {
			errno = f->fts_errno;
			fc_errnof(e, FC_EVMM, "%s", f->fts_path);
			fts_close(fts);
			return -1;
		}
		u->inodes++;
		dirent += 8 + f->fts_namelen + 4;
		if (f->fts_info == FTS_F) {
			u->files++;
			u->bytes += (uint64_t)f->fts_statp->st_size;
			u->blocks += blocks_of((uint64_t)f->fts_statp->st_size);
		} else if (f->fts_info == FTS_D) {
			u->blocks++;
		} else if (f->fts_info == FTS_SL) {
			u->blocks += f->fts_statp->st_size >= 60;
		}
	}
	fts_close(fts);
	u->blocks += blocks_of(dirent);
	return 0;
}

/* mke2fs is in /sbin, which a user's PATH may lack. */
static const char *mke2fs_path(char *buf)
{
	static const char *const dirs[] = {
		"/usr/sbin/mke2fs", "/sbin/mke2fs",
	};

	if (search_path("mke2fs", buf) == 0)
		return buf;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++)
		if (access(dirs[i], X_OK) == 0)
			return dirs[i];
	return "mke2fs";
}

int image_mkfs(const char *stage, const char *out,
	       const struct image_usage *u, struct fc_err *e)
{
	char bin[PATH_MAX], size[32], inodes[32], *log;
	/* 20% over the data, the inode table, and room for metadata. */
	uint64_t kib = u->blocks * (BLOCK / 1024) * 6 / 5 + u->inodes / 4 +
		       16 * 1024;
	char *argv[] = {
		(char *)mke2fs_path(bin), "-q", "-t", "ext4",
		"-O", "^has_journal", "-E", "root_owner=0:0", "-L", "fc-root",
		"-b", "4096", "-m", "0", "-N", inodes, "-d", (char *)stage,
		(char *)out, size, NULL,
	};
	int st;

	snprintf(size, sizeof(size), "%lluk", (unsigned long long)kib);
	snprintf(inodes, sizeof(inodes), "%llu",
		 (unsigned long long)(u->inodes + u->inodes / 10 + 64));
	st = run(argv, &log, e);
	if (st < 0)
		return -1;
	if (st != 0) {
		fc_errf(e, FC_EVMM, "mke2fs %s: %s", out, first_line(log));
		unlink(out);
		free(log);
		return -1;
	}
	free(log);
	return 0;
}

/* ---- putting the result in place ------------------------------------- */

/* An image directory may be replaced: empty, or holding a manifest. */
static int replaceable(const char *dir)
{
	char *m = path_join(dir, "manifest.json");
	struct stat sb;
	int r = m && lstat(m, &sb) == 0 && S_ISREG(sb.st_mode);
	DIR *d;
	struct dirent *ent;

	free(m);
	if (r || !(d = opendir(dir)))
		return r;
	r = 1;
	while (r && (ent = readdir(d)))
		r = !strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..");
	closedir(d);
	return r;
}

int image_can_commit(const char *dir, int force, struct fc_err *e)
{
	struct stat sb;

	if (lstat(dir, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		return fc_errnof(e, FC_EINPUT, "%s", dir);
	}
	if (!force)
		return fc_errf(e, FC_EUSAGE, "%s: already exists (use --force "
			       "to replace it)", dir);
	if (!S_ISDIR(sb.st_mode))
		return fc_errf(e, FC_EUSAGE, "%s: not a directory; not "
			       "replacing it", dir);
	if (!replaceable(dir))
		return fc_errf(e, FC_EUSAGE, "%s: not an image (no "
			       "manifest.json); not replacing it", dir);
	return 0;
}

int image_commit(const char *tmp, const char *dir, int force,
		 struct fc_err *e)
{
	struct stat sb;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL && lstat(dir, &sb) < 0 && errno == ENOENT) {
		/* No RENAME_NOREPLACE on this file system. */
		if (rename(tmp, dir) == 0)
			return 0;
	}
	if (errno != EEXIST && errno != EINVAL)
		return fc_errnof(e, FC_EVMM, "%s", dir);
	if (image_can_commit(dir, force, e) < 0)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) < 0)
		return fc_errnof(e, FC_EVMM, "%s", dir);
	/* tmp now holds the old image. */
	rmtree(tmp);
	return 0;
}
