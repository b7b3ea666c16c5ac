/* restore.c - start a VM from a snapshot directory and greet its agent */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "firecracker.h"
#include "restore.h"
#include "session.h"
#include "sha256.h"
#include "util.h"
#include "vmm.h"

static int plain_name(const char *n)
{
	return n && *n && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..");
}

/*
 * A snapshot is data from anywhere: check what its manifest claims before
 * a VMM sees it, so that damage is "bad input" naming the file, not a
 * hang or a VMM's puzzling last words.
 */
static int check_files(const char *dir, const struct manifest *m,
		       struct fc_err *e)
{
	char path[4096], sha[65];
	struct stat st;

	if (!plain_name(m->state) || !plain_name(m->memory_file) ||
	    !plain_name(m->rootfs))
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: file names must be "
			       "plain names inside the snapshot", dir);
	if (m->memory_mib < 64 || m->memory_mib > 65536 || m->vcpus > 64)
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: memory_mib %ld or "
			       "vcpus %ld out of range", dir, m->memory_mib, m->vcpus);
	snprintf(path, sizeof(path), "%s/%s", dir, m->memory_file);
	if (stat(path, &st) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", path);
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)m->memory_mib << 20)
		return fc_errf(e, FC_EINPUT, "%s: not %ld MiB of guest memory (the "
			       "snapshot is damaged)", path, m->memory_mib);
	/* QEMU maps it copy-on-write but opens it for writing all the same. */
	if (access(path, R_OK | W_OK) < 0)
		return fc_errnof(e, FC_EINPUT, "%s (restoring needs read and write "
				 "access; the file itself is never changed)", path);
	snprintf(path, sizeof(path), "%s/%s", dir, m->rootfs);
	if (stat(path, &st) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", path);
	if (!S_ISREG(st.st_mode) || (m->rootfs_bytes && st.st_size != m->rootfs_bytes))
		return fc_errf(e, FC_EINPUT, "%s: not the root filesystem the snapshot "
			       "was made with", path);
	snprintf(path, sizeof(path), "%s/%s", dir, m->state);
	if (!m->state_sha256)
		return 0;
	if (sha256_file(path, sha, e) < 0)
		return -1;
	if (strcmp(sha, m->state_sha256) != 0)
		return fc_errf(e, FC_EINPUT, "%s: checksum does not match the manifest "
			       "(the snapshot is damaged)", path);
	return 0;
}

int restore_open(struct snapshot *s, const char *dir, struct fc_err *e)
{
	struct manifest *m = &s->m;

	memset(s, 0, sizeof(*s));
	if (manifest_read(dir, "snapshot", m, e) < 0)
		return -1;
	s->dir = strdup(dir);
	if (!s->dir) {
		fc_errf(e, FC_EVMM, "out of memory");
		goto fail;
	}
	if (!m->state || !m->memory_file || !m->vmm || !m->rootfs ||
	    m->memory_mib <= 0 || m->vcpus <= 0) {
		fc_errf(e, FC_EINPUT, "%s/manifest.json: incomplete snapshot manifest",
			dir);
		goto fail;
	}
	if (m->protocol != FC_PROTOCOL) {
		fc_errf(e, FC_EINPUT, "%s: agent protocol %ld, this build speaks %d",
			dir, m->protocol, FC_PROTOCOL);
		goto fail;
	}
	if (check_files(dir, m, e) < 0)
		goto fail;
	if (m->jailer) {
		s->jail = calloc(1, sizeof(*s->jail));
		if (!s->jail || firecracker_jailer_parse(m->jailer, s->jail, e) < 0) {
			fc_errctx(e, "%s/manifest.json", dir);
			e->code = FC_EINPUT;
			goto fail;
		}
		s->jailer = s->jail;
	}
	s->ops = vmm_find(m->vmm);
	if (!s->ops) {
		fc_errf(e, FC_EINPUT, "%s: made by %s, which this build cannot restore",
			dir, m->vmm);
		goto fail;
	}
	return 0;
fail:
	restore_close(s);
	return -1;
}

void restore_close(struct snapshot *s)
{
	manifest_free(&s->m);
	free(s->jail);
	s->jail = NULL;
	s->jailer = NULL;
	free(s->dir);
	s->dir = NULL;
}

int restore_start(const struct snapshot *s, struct vm *vm, const char *prog,
		  struct fc_err *e)
{
	const struct manifest *m = &s->m;
	char *rootfs, *mem, *state, *console;
	int rc = -1;

	if (vm_init(vm, s->ops, prog, e) < 0)
		return -1;
	rootfs = path_join(s->dir, m->rootfs);
	mem = path_join(s->dir, m->memory_file);
	state = path_join(s->dir, m->state);
	console = path_join(vm->rundir, "console.log");
	if (!rootfs || !mem || !state || !console) {
		fc_errf(e, FC_EVMM, "out of memory");
	} else {
		struct vm_config c = {
			.rootfs = rootfs, .mem_file = mem, .state = state,
			.console = console, .memory_mib = (int)m->memory_mib,
			.vcpus = (int)m->vcpus, .vmm_version = m->vmm_version,
			.jailer = s->jailer, .die_with_parent = s->die_with_parent,
		};
		rc = s->ops->start(vm, &c, e);
	}
	free(rootfs);
	free(mem);
	free(state);
	free(console);
	if (rc < 0)
		vm_destroy(vm);
	return rc;
}

int restore_ready(struct vm *vm, struct session *s, int64_t deadline,
		  int logfd, struct fc_err *e)
{
	int fd = vm->ops->connect(vm, deadline, e);

	if (fd < 0)
		return -1;
	session_init(s, fd, vm->pidfd);
	return restore_greet(s, deadline, logfd, e);
}

int restore_greet(struct session *s, int64_t deadline, int logfd,
		  struct fc_err *e)
{
	int64_t wait = RESTORE_HELLO_RETRY_NS;

	for (;;) {
		int64_t until = now_ns() + wait;
		if (until > deadline)
			until = deadline;
		if (session_hello(s, until, logfd, NULL, e) == 0)
			return 0;
		if (e->code != FC_ETIMEOUT || now_ns() >= deadline)
			return -1;
		wait *= 2;
	}
}
