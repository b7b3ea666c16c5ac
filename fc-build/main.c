/* fc-build - turn a Lambda-style Node.js zip into a root filesystem image */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "image.h"
#include "json.h"
#include "manifest.h"
#include "paths.h"
#include "sha256.h"
#include "util.h"
#include "zip.h"

#define ENV_MAX 4096		/* Lambda's limit on the user's variables */

struct opts {
	const char *zip, *out, *handler, *name, *region, *node, *rtdir;
	long timeout, memory;
	uint64_t max_size, max_entries;
	struct image_env env;	/* --env, in order */
	int force, verbose;	/* verbose: 0 quiet, 1 summary, 2 steps */
	char namebuf[65];
	char outbuf[PATH_MAX];	/* -o without trailing slashes */
};

/* A build in progress: the directory that becomes the image, and more. */
struct job {
	const struct opts *o;
	char tmp[PATH_MAX];	/* DIR.tmp-XXXXXX, "" until made */
	char stage[PATH_MAX + 32];	/* tmp/stage: the root file system */
	char rootfs[PATH_MAX + 32];	/* tmp/rootfs.ext4 */
	char *rtdir;
	struct image_node node;
	struct zip_stats zs;
	struct image_usage us;
	int64_t t0;
};

static volatile sig_atomic_t got_signal;

static const char usage_text[] =
	"usage: fc-build [-fqv] [-e key=value] [-H file.export] [-m mib] "
	"[-n name]\n"
	"                [-r region] [-t seconds] [--max-entries n] "
	"[--max-size bytes]\n"
	"                [--node path] [--runtime-dir dir] -o dir zip\n"
	"       fc-build -h | -V\n";

static const char help_text[] =
	"\nBuild a root file system image for a Node.js function from its "
	"zip.\n\n"
	"  -o, --output DIR        write DIR/rootfs.ext4 and "
	"DIR/manifest.json\n"
	"  -H, --handler F.EXPORT  the handler (default index.handler)\n"
	"  -t, --timeout SECONDS   deadline of an invocation, 1 to 900 "
	"(default 3)\n"
	"  -m, --memory MIB        memory, 128 to 10240 (default 256)\n"
	"  -n, --name NAME         function name (default: the zip's name)\n"
	"  -r, --region REGION     AWS_REGION (default us-east-1)\n"
	"  -e, --env KEY=VALUE     add to the function's environment "
	"(repeatable)\n"
	"  -f, --force             replace DIR if it holds an image\n"
	"      --max-size BYTES    unpacked size limit, K/M/G suffixes "
	"(default 250M)\n"
	"      --max-entries N     entry limit (default 65536)\n"
	"      --node PATH         node to put in the image (default: node "
	"in PATH)\n"
	"      --runtime-dir DIR   where bootstrap.js is\n"
	"  -q, --quiet             print errors only\n"
	"  -v, --verbose           print each step\n"
	"  -h, --help              print this help and exit\n"
	"  -V, --version           print the version and exit\n"
	"\n"
	"Exit status: 0 done, 2 usage, 3 bad input (the zip), 5 system "
	"failure.\n";

enum { OPT_MAX_ENTRIES = 256, OPT_MAX_SIZE, OPT_NODE, OPT_RUNTIME_DIR };

/* Keep sorted by name. */
static const struct option longopts[] = {
	{ "env", required_argument, NULL, 'e' },
	{ "force", no_argument, NULL, 'f' },
	{ "handler", required_argument, NULL, 'H' },
	{ "help", no_argument, NULL, 'h' },
	{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "memory", required_argument, NULL, 'm' },
	{ "name", required_argument, NULL, 'n' },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "region", required_argument, NULL, 'r' },
	{ "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

__attribute__((noreturn, format(printf, 1, 2)))
static void usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("fc-build: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see fc-build --help)\n", stderr);
	exit(FC_EUSAGE);
}

__attribute__((format(printf, 3, 4)))
static void note(const struct opts *o, int level, const char *fmt, ...)
{
	va_list ap;

	if (o->verbose < level)
		return;
	fputs("fc-build: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Sizes as people read them: "1.2 KiB", "97.4 MiB". */
static const char *human(uint64_t n, char buf[32])
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, 32, "%llu bytes", (unsigned long long)n);
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, "%.1f %s", v, unit[u]);
	return buf;
}

/* "1 file", "2 files": the count and the right noun, into buf. */
static const char *count(uint64_t n, const char *one, const char *many,
			 char buf[48])
{
	snprintf(buf, 48, "%llu %s", (unsigned long long)n,
		 n == 1 ? one : many);
	return buf;
}

static double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

/* ---- options --------------------------------------------------------- */

static long num_arg(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		usage_err("%s %s: expected a number from %ld to %ld", opt, arg,
			  min, max);
	return v;
}

/* BYTES with an optional K, M or G (powers of 1024). */
static uint64_t size_arg(const char *opt, const char *arg)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (errno || end == arg || *end || arg[0] == '-' || v == 0 ||
	    v > (UINT64_MAX >> shift))
		usage_err("%s %s: expected a size in bytes (K, M or G allowed)",
			  opt, arg);
	return (uint64_t)v << shift;
}

static void env_arg(struct opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[256];
	size_t total = 0;

	if (!eq || (size_t)(eq - arg) >= sizeof(key))
		usage_err("--env %s: expected KEY=VALUE", arg);
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (!image_env_key_ok(key))
		usage_err("--env %s: a key is letters, digits and _, not "
			  "starting with a digit", key);
	if (image_env_reserved(key))
		usage_err("--env %s: reserved by the runtime", key);
	if (strchr(eq + 1, '\n'))
		usage_err("--env %s: the value holds a newline", key);
	if (image_env_set(&o->env, key, eq + 1) < 0)
		usage_err("out of memory");
	for (size_t i = 0; i < o->env.n; i++)
		total += strlen(o->env.kv[i]) - 1;
	if (total > ENV_MAX)
		usage_err("--env: the variables exceed %d bytes", ENV_MAX);
}

/* Lambda's function names: letters, digits, - and _, up to 64. */
static int name_ok(const char *s, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(ok, s[i]))
			return 0;
	return 1;
}

/* The default name: the zip's base name without ".zip". */
static void default_name(struct opts *o)
{
	const char *base = strrchr(o->zip, '/');
	size_t n;

	base = base ? base + 1 : o->zip;
	n = strlen(base);
	if (n > 4 && !strcasecmp(base + n - 4, ".zip"))
		n -= 4;
	if (!name_ok(base, n))
		usage_err("%s: no function name in the file name; use --name",
			  o->zip);
	memcpy(o->namebuf, base, n);
	o->namebuf[n] = '\0';
	o->name = o->namebuf;
}

static void check_opts(struct opts *o)
{
	char file[PATH_MAX];
	size_t n;

	if (!o->out)
		usage_err("no output directory (-o)");
	n = strlen(o->out);
	while (n > 1 && o->out[n - 1] == '/')
		n--;
	if (!strcmp(o->out, "/") || !strncmp(o->out, ".", n) ||
	    !strncmp(o->out, "..", n) || n >= PATH_MAX - 32)
		usage_err("-o %s: not a directory to create", o->out);
	memcpy(o->outbuf, o->out, n);
	o->outbuf[n] = '\0';
	o->out = o->outbuf;
	if (image_handler_file(o->handler, file, sizeof(file)) < 0)
		usage_err("--handler %s: expected FILE.EXPORT, like "
			  "index.handler or src/app.main", o->handler);
	if (o->name && !name_ok(o->name, strlen(o->name)))
		usage_err("--name %s: letters, digits, - and _ only, up to 64",
			  o->name);
	if (!o->name)
		default_name(o);
	if (strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(o->region) || !*o->region)
		usage_err("--region %s: not a region name", o->region);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	const char *opt;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":e:fH:hm:n:o:qr:t:Vv", longopts,
				NULL)) != -1) {
		opt = argv[optind - 1];
		switch (c) {
		case 'e': env_arg(o, optarg); break;
		case 'f': o->force = 1; break;
		case 'H': o->handler = optarg; break;
		case 'h': printf("%s%s", usage_text, help_text); exit(0);
		case 'm': o->memory = num_arg("--memory", optarg, 128, 10240);
			break;
		case 'n': o->name = optarg; break;
		case 'o': o->out = optarg; break;
		case 'q': o->verbose = 0; break;
		case 'r': o->region = optarg; break;
		case 't': o->timeout = num_arg("--timeout", optarg, 1, 900);
			break;
		case 'V': printf("fc-build %s\n", FC_VERSION); exit(0);
		case 'v': o->verbose = o->verbose ? o->verbose + 1 : 2; break;
		case OPT_MAX_ENTRIES:
			o->max_entries = (uint64_t)num_arg("--max-entries",
							   optarg, 1, LONG_MAX);
			break;
		case OPT_MAX_SIZE:
			o->max_size = size_arg("--max-size", optarg);
			break;
		case OPT_NODE: o->node = optarg; break;
		case OPT_RUNTIME_DIR: o->rtdir = optarg; break;
		case ':': usage_err("%s: needs an argument", opt);
		default:
			if (optopt && optopt < 256)
				usage_err("-%c: unknown option", optopt);
			usage_err("%s: unknown option", opt);
		}
	}
	if (optind >= argc)
		usage_err("no zip given");
	if (optind + 1 < argc)
		usage_err("%s: one zip at a time", argv[optind + 1]);
	o->zip = argv[optind];
	check_opts(o);
}

/* ---- the build ------------------------------------------------------- */

static int interrupted(struct fc_err *e)
{
	return got_signal ? fc_errf(e, FC_EVMM, "interrupted") : 0;
}

/* DIR.tmp-XXXXXX next to DIR, so that the last step is a rename. */
static int make_tmp(struct job *j, struct fc_err *e)
{
	char task[PATH_MAX + 64];

	snprintf(j->tmp, sizeof(j->tmp), "%s.tmp-XXXXXX", j->o->out);
	if (!mkdtemp(j->tmp)) {
		j->tmp[0] = '\0';
		return fc_errnof(e, errno == ENOENT || errno == ENOTDIR ||
				 errno == EACCES ? FC_EINPUT : FC_EVMM, "%s",
				 j->o->out);
	}
	if (chmod(j->tmp, 0755) < 0)
		return fc_errnof(e, FC_EVMM, "%s", j->tmp);
	snprintf(j->stage, sizeof(j->stage), "%s/stage", j->tmp);
	snprintf(j->rootfs, sizeof(j->rootfs), "%s/rootfs.ext4", j->tmp);
	snprintf(task, sizeof(task), "%s/%s", j->stage, IMAGE_TASK);
	return mkdirs(task, 0755, e);
}

/* The zip into /var/task, and its handler must be there. */
static int unpack(struct job *j, struct fc_err *e)
{
	const struct opts *o = j->o;
	struct zip_opts zo = { o->zip, o->max_size, o->max_entries,
			       &got_signal };
	char task[PATH_MAX + 64], b[32], c1[48], c2[48], c3[48];
	int fd, r;

	snprintf(task, sizeof(task), "%s/%s", j->stage, IMAGE_TASK);
	fd = open(task, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fc_errnof(e, FC_EVMM, "%s", task);
	r = zip_unpack(o->zip, fd, &zo, &j->zs, e);
	if (r == 0)
		r = image_handler_check(fd, o->handler, o->zip, e);
	close(fd);
	if (r < 0)
		return -1;
	note(o, 2, "%s: %s, %s, %s unpacked; %s of macOS metadata left out",
	     o->zip, count(j->zs.files, "file", "files", c1),
	     count(j->zs.links, "link", "links", c2), human(j->zs.bytes, b),
	     count(j->zs.dropped, "entry", "entries", c3));
	return 0;
}

/* Node, the runtime and /etc/fc around the package. */
static int stage(struct job *j, struct fc_err *e)
{
	const struct opts *o = j->o;
	struct image_env env = { 0 };
	struct image_conf c = {
		.name = o->name, .handler = o->handler, .region = o->region,
		.timeout_s = o->timeout, .memory_mib = o->memory,
		.node = &j->node, .user = &o->env,
	};
	int r;

	r = image_env_lambda(&env, &c, e);
	if (r == 0)
		r = image_stage(j->stage, &j->node, j->rtdir, &env, e);
	image_env_free(&env);
	if (r == 0)
		note(o, 2, "node %s from %s with %zu libraries, runtime "
		     "from %s", j->node.version, j->node.path, j->node.nlibs,
		     j->rtdir);
	return r;
}

static int mkfs(struct job *j, struct fc_err *e)
{
	int64_t t = now_ns();
	char b[32], c[48];

	if (image_measure(j->stage, &j->us, e) < 0 ||
	    image_mkfs(j->stage, j->rootfs, &j->us, e) < 0)
		return -1;
	note(j->o, 2, "rootfs.ext4: %s, %s, in %.2f s",
	     count(j->us.files, "file", "files", c), human(j->us.bytes, b),
	     secs(now_ns() - t));
	if (rmtree(j->stage) < 0)
		return fc_errnof(e, FC_EVMM, "%s", j->stage);
	return 0;
}

static int write_manifest(struct job *j, struct fc_err *e)
{
	const struct opts *o = j->o;
	char sha[65];
	struct buf env = { 0 };
	struct manifest m = {
		.format = FC_MANIFEST_FORMAT, .kind = "image",
		.function = (char *)o->name, .runtime = "nodejs",
		.runtime_version = j->node.version,
		.handler = (char *)o->handler, .timeout = o->timeout,
		.memory_mib = o->memory, .rootfs = "rootfs.ext4",
		.rootfs_sha256 = sha,
	};
	int r;

	if (sha256_file(j->rootfs, sha, e) < 0)
		return -1;
	if (image_env_json(&o->env, &env) < 0) {
		buf_free(&env);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	struct stat st;
	if (stat(j->rootfs, &st) == 0)
		m.rootfs_bytes = (long)st.st_size;
	m.env = env.p;
	r = manifest_write(j->tmp, &m, e);
	buf_free(&env);
	return r;
}

static int build(struct job *j, struct fc_err *e)
{
	const struct opts *o = j->o;

	if (image_can_commit(o->out, o->force, e) < 0)
		return -1;
	j->rtdir = find_asset(o->rtdir, "FC_RUNTIME_DIR", "../runtime",
			      FC_SHAREDIR "/runtime", e);
	if (!j->rtdir)
		return -1;
	if (image_node_find(o->node, &j->node, e) < 0)
		return -1;
	if (make_tmp(j, e) < 0 || unpack(j, e) < 0 || interrupted(e) ||
	    stage(j, e) < 0 || interrupted(e) || mkfs(j, e) < 0 ||
	    interrupted(e) || write_manifest(j, e) < 0 || interrupted(e))
		return -1;
	return image_commit(j->tmp, o->out, o->force, e);
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/*
 * On SIGINT, SIGTERM or SIGHUP stop at the next step (no SA_RESTART),
 * clean up, then die of it. A reader of stderr that goes away must not
 * kill the build half way: SIGPIPE is ignored.
 */
static void catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.handler = "index.handler", .region = "us-east-1",
		.node = getenv("FC_NODE"), .timeout = 3, .memory = 256,
		.max_size = 250ull << 20, .max_entries = 65536, .verbose = 1,
	};
	struct job j = { .o = &o, .t0 = now_ns() };
	struct fc_err e = { 0 };
	char b[32], c[48];
	int r;

	if (std_fds_open() < 0)
		return FC_EVMM;
	if (!o.node || !*o.node)
		o.node = "node";
	parse_args(argc, argv, &o);
	/* Modes in the image are set one by one; this covers the rest. */
	umask(022);
	catch_signals();
	r = build(&j, &e);
	if (r < 0 && j.tmp[0])
		rmtree(j.tmp);
	image_node_free(&j.node);
	image_env_free(&o.env);
	free(j.rtdir);
	if (got_signal) {
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	if (r < 0) {
		fprintf(stderr, "fc-build: %s\n", e.msg);
		return e.code ? e.code : FC_EVMM;
	}
	note(&o, 1, "%s: %s, %s, handler %s, in %.1f s", o.out,
	     count(j.us.files, "file", "files", c), human(j.us.bytes, b),
	     o.handler, secs(now_ns() - j.t0));
	return 0;
}
