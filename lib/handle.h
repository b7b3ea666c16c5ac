/* handle.h - the handle of a VM left running by fc-restore: one JSON line */
#ifndef FC_HANDLE_H
#define FC_HANDLE_H

#include <stdint.h>
#include <sys/types.h>

struct buf;
struct fc_err;
struct vm;

/*
 * What a script keeps to reach a running VM again. Strings are malloc'd
 * and owned by the handle (handle_free). The JSON line:
 *   {"handle":1,"vmm":"qemu","pid":N,"channel":"/tmp/fc-restore.X/agent.sock",
 *    "rundir":"/tmp/fc-restore.X","snapshot":"/abs/fn.snap",
 *    "function":"fn","timeout":3,"memory_mib":256,
 *    "started":"2026-12-04T16:29:54Z","started_ns":N,"restore_ms":N}
 */
struct handle {
	char *vmm;		/* the driver's name */
	pid_t pid;		/* the VMM process */
	char *channel;		/* the agent channel's socket */
	char *rundir;		/* the VM's working directory */
	char *snapshot;		/* the snapshot it came from (absolute) */
	char *function;		/* the function's name, or NULL */
	long timeout;		/* the function's time-out, seconds */
	long memory_mib;
	int64_t started_ns;	/* wall clock at the start of the restore */
	double restore_ms;	/* start of the restore to the agent's answer */
};

/* Append the handle's JSON line (no newline) to out. */
int handle_format(const struct handle *h, struct buf *out, struct fc_err *e);

/*
 * Parse handle JSON; FC_EINPUT naming what for anything malformed: a
 * missing field, a relative path, a channel outside the run directory.
 */
int handle_parse(struct handle *h, const char *text, size_t n,
		 const char *what, struct fc_err *e);

/* arg is the JSON text itself when it starts with '{', else a file of it. */
int handle_load(struct handle *h, const char *arg, struct fc_err *e);

/* Does arg look like a handle (JSON text, or a file that starts with '{')? */
int handle_like(const char *arg);

void handle_free(struct handle *h);

/*
 * Is the handle's VM still running: is pid alive and its command line the
 * VMM's for this channel? 1 yes; 0 with FC_EVMM "the VM (pid N) is gone".
 */
int handle_alive(const struct handle *h, struct fc_err *e);

/*
 * Fill vm to reach the running VM with its driver's connect(). The VM is
 * not this process's: release vm with handle_detach, never vm_destroy.
 */
int handle_attach(const struct handle *h, struct vm *vm, struct fc_err *e);
void handle_detach(struct vm *vm);

/*
 * Stop the VM (when handle_alive) and remove its run directory. Returns 1
 * when it stopped a VM, 0 when the VM was already gone (its files are
 * removed all the same), -1 on failure.
 */
int handle_kill(const struct handle *h, struct fc_err *e);

#endif
