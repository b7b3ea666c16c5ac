/* fc-snap - boot a function image once, wait for READY, snapshot it */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "firecracker.h"
#include "image.h"
#include "initrd.h"
#include "json.h"
#include "manifest.h"
#include "paths.h"
#include "session.h"
#include "sha256.h"
#include "util.h"
#include "vmm.h"

static const char *prog = "fc-snap";

struct opts {
	const char *image, *output, *kernel, *agent, *vmm;
	const struct firecracker_jailer *jailer;	/* --jailer, or NULL */
	const char *jailer_spec;	/* as given, for the manifest */
	long boot_timeout;	/* seconds */
	int vcpus;
	int warmups;
	int force, quiet, verbose;
};

/* The VM being snapshotted, for the signal handler to stop. */
static volatile pid_t vmm_pid = -1;
static volatile sig_atomic_t stop_signal;

/* Stop the VM; the normal error path removes what was written. */
static void on_stop(int sig)
{
	stop_signal = sig;
	if (vmm_pid > 0)
		kill(vmm_pid, SIGKILL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fc-snap [-fqv] [-k dir] [-t seconds] [--vcpus n] [--warmups n]\n"
		"               [--agent path] [--vmm name] [--jailer spec]\n"
		"               -o snapshot image\n"
		"Boot a function image, wait until its runtime is ready, snapshot it.\n\n"
		"  -o, --output DIR        the snapshot directory to create\n"
		"  -k, --kernel DIR        guest kernel (default: make guest's cache)\n"
		"  -t, --boot-timeout SEC  give up if not ready in SEC seconds (120)\n"
		"      --vcpus N           virtual CPUs (1)\n"
		"      --agent PATH        the guest agent binary\n"
		"      --vmm NAME          firecracker or qemu (default: firecracker\n"
		"                          where it and KVM are usable, else qemu)\n"
		"      --jailer SPEC       run firecracker jailed: uid=U,gid=G\n"
		"                          [,chroot-base=DIR][,cgroup-version=N]\n"
		"      --warmups N         warm-up invocations before the snapshot (3)\n"
		"  -f, --force             replace an existing snapshot directory\n"
		"  -q, --quiet             print errors only\n"
		"  -v, --verbose           say what happens\n"
		"  -h, --help              this help\n"
		"  -V, --version           print the version\n");
}

static int fail(const struct fc_err *e)
{
	fprintf(stderr, "%s: %s\n", prog, e->msg);
	return e->code ? e->code : FC_EVMM;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The output is a directory to create: never ".", "..", "/" or "x/..". */
static int check_output(struct opts *o)
{
	static char out[4096];
	size_t n = strlen(o->output);
	const char *base;

	while (n > 1 && o->output[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(out) - 32) {
		fprintf(stderr, "%s: -o '%s': not a directory to create\n", prog,
			o->output);
		return -1;
	}
	memcpy(out, o->output, n);
	out[n] = 0;
	base = strrchr(out, '/');
	base = base ? base + 1 : out;
	if (!strcmp(out, "/") || !strcmp(base, ".") || !strcmp(base, "..")) {
		fprintf(stderr, "%s: -o %s: not a directory to create\n", prog, out);
		return -1;
	}
	o->output = out;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static struct firecracker_jailer jail;
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "boot-timeout", required_argument, NULL, 't' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "agent", required_argument, NULL, 'a' },
		{ "vmm", required_argument, NULL, 'm' },
		{ "jailer", required_argument, NULL, 'j' },
		{ "warmups", required_argument, NULL, 'w' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *name = NULL;
	struct fc_err e;
	long n;
	int c;

	o->boot_timeout = 120;
	o->vcpus = 1;
	o->warmups = 3;
	while ((c = getopt_long(argc, argv, "o:k:t:fqvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'k': o->kernel = optarg; break;
		case 'a': o->agent = optarg; break;
		case 'm': o->vmm = optarg; break;
		case 'j':
			if (firecracker_jailer_parse(optarg, &jail, &e) < 0) {
				fprintf(stderr, "%s: %s\n", prog, e.msg);
				return -1;
			}
			o->jailer = &jail;
			o->jailer_spec = optarg;
			break;
		case 'f': o->force = 1; break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s %s\n", prog, FC_VERSION); exit(0);
		case 't':
			name = "--boot-timeout";
			if (parse_long(optarg, 1, 3600, &o->boot_timeout) < 0)
				goto bad_value;
			break;
		case 'c':
			name = "--vcpus";
			if (parse_long(optarg, 1, 32, &n) < 0)
				goto bad_value;
			o->vcpus = (int)n;
			break;
		case 'w':
			name = "--warmups";
			if (parse_long(optarg, 0, 100, &n) < 0)
				goto bad_value;
			o->warmups = (int)n;
			break;
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return -1;
		}
	}
	if (optind != argc - 1 || !o->output) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", prog,
			optind == argc ? "no image given" : !o->output ?
			"no output given (-o DIR)" : "too many arguments", prog);
		return -1;
	}
	o->image = argv[optind];
	return check_output(o);
bad_value:
	fprintf(stderr, "%s: invalid value for %s: '%s'\n", prog, name, optarg);
	return -1;
}

/* An image is data from anywhere: check what the manifest claims. */
static int check_image(const char *dir, const struct manifest *m,
		       struct fc_err *e)
{
	char path[4096], sha[65];
	struct stat st;

	if (strchr(m->rootfs, '/') || !strcmp(m->rootfs, "..") || !m->rootfs[0])
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: rootfs '%s' is not a "
			       "file name", dir, m->rootfs);
	if (m->memory_mib && (m->memory_mib < 128 || m->memory_mib > 10240))
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: memory_mib %ld is "
			       "out of range (128 to 10240)", dir, m->memory_mib);
	if (m->timeout && (m->timeout < 1 || m->timeout > 900))
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: timeout %ld is "
			       "out of range (1 to 900)", dir, m->timeout);
	snprintf(path, sizeof(path), "%s/%s", dir, m->rootfs);
	if (stat(path, &st) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", path);
	if (!S_ISREG(st.st_mode))
		return fc_errf(e, FC_EINPUT, "%s: not a regular file", path);
	if (!m->rootfs_sha256)
		return 0;
	if (sha256_file(path, sha, e) < 0)
		return -1;
	if (strcmp(sha, m->rootfs_sha256) != 0)
		return fc_errf(e, FC_EINPUT, "%s: checksum does not match the "
			       "manifest (the image is damaged)", path);
	return 0;
}

/* Where the snapshot is assembled before it is renamed into place. */
static char *temp_dir_for(const char *output, struct fc_err *e)
{
	char *t;

	if (asprintf(&t, "%s.tmp-XXXXXX", output) < 0) {
		fc_errf(e, FC_EVMM, "out of memory");
		return NULL;
	}
	if (!mkdtemp(t) || chmod(t, 0755) < 0) {
		fc_errnof(e, FC_EVMM, "%s", t);
		free(t);
		return NULL;
	}
	return t;
}

static int check_kernel(const char *kdir, struct fc_err *e)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/vmlinux", kdir);
	if (access(p, R_OK) < 0)
		return fc_errnof(e, FC_EVMM, "%s (prepare one with 'make guest' or "
				 "pass --kernel)", p);
	return 0;
}

static char *kernel_release(const char *kdir)
{
	char p[4096], *text = NULL;
	size_t n;
	struct fc_err ignore;

	snprintf(p, sizeof(p), "%s/version", kdir);
	if (read_file(p, 4096, &text, &n, &ignore) < 0)
		return NULL;
	text[strcspn(text, "\n")] = 0;
	return text;
}

/* Stage the files the VM boots from in the snapshot directory. */
static int stage(const struct opts *o, const struct manifest *img,
		 const char *kdir, const char *tmp, struct fc_err *e)
{
	char src[4096], dst[4096];
	char *agent = find_asset(o->agent, "FC_AGENT", "fc-agent",
				 FC_LIBEXECDIR "/fc-agent", e);

	if (!agent)
		return -1;
	snprintf(src, sizeof(src), "%s/%s", o->image, img->rootfs);
	snprintf(dst, sizeof(dst), "%s/rootfs.ext4", tmp);
	if (link_or_copy(src, dst, e) < 0)
		goto fail;
	snprintf(dst, sizeof(dst), "%s/initrd", tmp);
	if (initrd_write(dst, agent, kdir, e) < 0)
		goto fail;
	free(agent);
	return 0;
fail:
	free(agent);
	return -1;
}

static char *make_cmdline(void)
{
	long khz = host_tsc_khz();
	char *c;

	/* Without tsc_early_khz the emulated TSC often hangs the boot. */
	if (asprintf(&c, "console=ttyS0 quiet panic=-1 mitigations=off "
		     "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd tsc=reliable "
		     "tsc_early_khz=%ld", khz) < 0)
		return NULL;
	if (khz <= 0)
		*strstr(c, " tsc_early_khz") = 0;
	return c;
}

/* Boot, wait for READY, save the state; the VM is gone afterwards. */
static int boot_and_save(const struct opts *o, struct vm *vm,
			 struct vm_config *cfg, const char *tmp,
			 struct buf *ready, struct fc_err *e)
{
	char state[4096];
	int64_t t0 = now_ns();
	int64_t deadline = t0 + o->boot_timeout * 1000000000LL;
	struct session s;
	int fd, rc;

	if (stop_signal || vm->ops->start(vm, cfg, e) < 0)
		return stop_signal ? fc_errf(e, FC_EVMM, "interrupted") : -1;
	vmm_pid = vm->pid;
	if (stop_signal)
		return fc_errf(e, FC_EVMM, "interrupted");
	fd = vm->ops->connect(vm, deadline, e);
	if (fd < 0)
		return -1;
	session_init(&s, fd, vm->pidfd);
	rc = session_hello(&s, deadline, o->quiet ? -1 : 2, ready, e);
	if (rc < 0 && e->code == FC_ETIMEOUT)
		fc_errf(e, FC_ETIMEOUT, "the function was not ready after %ld s",
			o->boot_timeout);
	if (rc == 0 && o->verbose)
		fprintf(stderr, "%s: %s: ready after %.2f s\n", prog, o->image,
			(now_ns() - t0) / 1e9);
	/* First invocations after a restore cost 5-10x more without this. */
	if (rc == 0)
		rc = session_warmup(&s, o->warmups, deadline, e);
	snprintf(state, sizeof(state), "%s/state", tmp);
	if (rc == 0)
		rc = vm->ops->snapshot(vm, state, now_ns() + 60000000000LL, e);
	session_close(&s);
	if (rc < 0 && stop_signal)
		fc_errf(e, FC_EVMM, "interrupted");
	return rc;
}

/* Keep the console of a failed boot where the error message says. */
static void keep_console(const char *tmp, const char *output, struct fc_err *e)
{
	char src[4096], dst[4096];
	struct stat st;
	size_t n = strlen(e->msg);

	snprintf(src, sizeof(src), "%s/console.log", tmp);
	snprintf(dst, sizeof(dst), "%s.console.log", output);
	if (stat(src, &st) < 0 || rename(src, dst) < 0)
		return;
	snprintf(e->msg + n, sizeof(e->msg) - n, " (guest console: %s)", dst);
}

static int finish(const struct opts *o, struct manifest *m, const char *tmp,
		  struct fc_err *e)
{
	char state[4096];
	char sha[65];

	snprintf(state, sizeof(state), "%s/state", tmp);
	if (sha256_file(state, sha, e) < 0)
		return -1;
	m->state_sha256 = strdup(sha);
	if (manifest_write(tmp, m, e) < 0)
		return -1;
	/* Replaces only an earlier snapshot or an empty directory. */
	return image_commit(tmp, o->output, o->force, e);
}

static void fill_manifest(struct manifest *m, const struct opts *o,
			  const struct vm *vm, const struct vm_config *cfg,
			  const char *kdir)
{
	char ver[128] = "";
	struct fc_err ignore;
	time_t now = time(NULL);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	vm->ops->version(ver, sizeof(ver), &ignore);
	m->kind = strdup("snapshot");
	m->vmm = strdup(vm->ops->name);
	m->vmm_version = strdup(ver);
	if (vm->ops == &vmm_firecracker &&
	    firecracker_snapshot_format(ver, sizeof(ver), &ignore) == 0)
		m->snapshot_format = strdup(ver);
	m->machine = strdup("microvm");
	if (o->jailer_spec)	/* every restore of it runs jailed too */
		m->jailer = strdup(o->jailer_spec);
	m->vcpus = o->vcpus;
	m->kernel = strdup(cfg->kernel);
	m->kernel_release = kernel_release(kdir);
	m->initrd = strdup("initrd");
	m->cmdline = strdup(cfg->cmdline);
	m->state = strdup("state");
	m->memory_file = strdup("mem");
	m->protocol = 1;
	m->created = strdup(when);
	free(m->rootfs);
	m->rootfs = strdup("rootfs.ext4");
}

/* --vmm, $FC_VMM or the automatic choice, said with -v. */
static const struct vmm_ops *choose_vmm(const struct opts *o, struct fc_err *e)
{
	char why[512];
	const struct vmm_ops *ops = vmm_choose(o->vmm, why, sizeof(why), e);

	if (ops && o->verbose)
		fprintf(stderr, "%s: using %s\n", prog, why);
	if (ops && o->jailer && ops != &vmm_firecracker) {
		fc_errf(e, FC_EUSAGE, "--jailer: only for firecracker, not %s",
			ops->name);
		return NULL;
	}
	return ops;
}

static int snap(const struct opts *o, struct fc_err *e)
{
	struct manifest m;
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	struct vm_config cfg = { 0 };
	struct buf ready = { 0 };
	char *kdir = kernel_dir(o->kernel), *tmp = NULL;
	char mem[4096], con[4096], kern[4096], initrd[4096], root[4096];
	const struct vmm_ops *ops = choose_vmm(o, e);
	int rc = -1;

	if (!ops)
		return -1;
	if (manifest_read(o->image, "image", &m, e) < 0)
		return -1;
	if (check_image(o->image, &m, e) < 0 ||
	    image_can_commit(o->output, o->force, e) < 0)
		goto out;
	if (!kdir || check_kernel(kdir, e) < 0 || !(tmp = temp_dir_for(o->output, e)))
		goto out;
	if (stage(o, &m, kdir, tmp, e) < 0 || vm_init(&vm, ops, prog, e) < 0)
		goto out;

	snprintf(mem, sizeof(mem), "%s/mem", tmp);
	snprintf(con, sizeof(con), "%s/console.log", tmp);
	snprintf(kern, sizeof(kern), "%s/vmlinux", kdir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", tmp);
	snprintf(root, sizeof(root), "%s/rootfs.ext4", tmp);
	cfg = (struct vm_config){ .kernel = kern, .initrd = initrd, .rootfs = root,
		.mem_file = mem, .console = con, .cmdline = make_cmdline(),
		.jailer = o->jailer, .die_with_parent = 1,
		.memory_mib = (int)(m.memory_mib ? m.memory_mib : 256),
		.vcpus = o->vcpus };
	m.memory_mib = cfg.memory_mib;
	if (ops == &vmm_firecracker && cfg.cmdline) {
		/* What Firecracker is given, so that the manifest says it. */
		char *args = firecracker_boot_args(cfg.cmdline);
		free((char *)cfg.cmdline);
		cfg.cmdline = args;
	}
	else if (cfg.cmdline) {
		/* microvm has no reset the kernel finds by itself: a triple
		 * fault makes a guest reboot or panic end QEMU (-no-reboot). */
		char *args;
		if (asprintf(&args, "%s reboot=t", cfg.cmdline) > 0) {
			free((char *)cfg.cmdline);
			cfg.cmdline = args;
		}
	}
	if (boot_and_save(o, &vm, &cfg, tmp, &ready, e) < 0) {
		fc_errctx(e, "%s", o->image);
		vm_destroy(&vm);
		/* The function's own error says it all; so does a Ctrl-C. */
		if (e->code != FC_EFUNC && !stop_signal)
			keep_console(tmp, o->output, e);
		goto out;
	}
	vm_destroy(&vm);
	fill_manifest(&m, o, &vm, &cfg, kdir);
	rc = finish(o, &m, tmp, e);
	if (rc == 0 && !o->quiet)
		fprintf(stderr, "%s: %s: snapshot of %s (%s, %ld MiB)\n", prog,
			o->output, m.function ? m.function : o->image, m.handler,
			m.memory_mib);
out:
	vmm_pid = -1;
	if (tmp && rc < 0)
		rmtree(tmp);
	free((char *)cfg.cmdline);
	free(tmp);
	free(kdir);
	buf_free(&ready);
	manifest_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct fc_err e = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };

	if (std_fds_open() < 0)
		return FC_EVMM;
	if (parse_opts(argc, argv, &o) < 0)
		return FC_EUSAGE;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (snap(&o, &e) < 0) {
		int code = fail(&e);
		return stop_signal ? 128 + stop_signal : code;
	}
	return 0;
}
