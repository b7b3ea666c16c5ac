/* restore.h - start a VM from a snapshot directory and greet its agent */
#ifndef FC_RESTORE_H
#define FC_RESTORE_H

#include <stdint.h>

#include "manifest.h"

struct fc_err;
struct session;
struct vm;
struct vmm_ops;
struct firecracker_jailer;

/* A snapshot directory, read and checked; restore_close frees it. */
struct snapshot {
	char *dir;		/* the path as given (malloc'd) */
	struct manifest m;
	const struct vmm_ops *ops;	/* the driver that made it */
	/* firecracker: restore under the jailer the snapshot was made
	 * with (its manifest's "jailer"), or NULL */
	const struct firecracker_jailer *jailer;
	struct firecracker_jailer *jail;	/* owned: what jailer points at */
	int die_with_parent;	/* vm_config's: set by single-shot callers */
};

/*
 * Read dir/manifest.json and check that it is a complete snapshot of
 * agent protocol 1, made by a VMM this build has. FC_EINPUT otherwise.
 */
int restore_open(struct snapshot *s, const char *dir, struct fc_err *e);
void restore_close(struct snapshot *s);

/*
 * Make a run directory named after prog and start the VMM restoring s.
 * On success vm is running (vm_destroy stops it and removes the
 * directory); on failure nothing is left behind.
 */
int restore_start(const struct snapshot *s, struct vm *vm, const char *prog,
		  struct fc_err *e);

/*
 * Connect to the agent of a started VM and greet it (restore_greet), by
 * deadline (monotonic ns). s takes over the channel's fd; the runtime's
 * output meanwhile goes to logfd (-1: dropped).
 */
int restore_ready(struct vm *vm, struct session *s, int64_t deadline,
		  int logfd, struct fc_err *e);

/*
 * session_hello, sent again after 0.25, 0.5, 1... seconds without an answer,
 * until deadline. Under QEMU an H that arrives as the channel changes
 * hands can be answered while the guest still counts the host as gone,
 * and that R is lost; the agent answers every H, and a spare R is ignored.
 */
int restore_greet(struct session *s, int64_t deadline, int logfd,
		  struct fc_err *e);

/* Resend an unanswered H after this long at first, doubling each time. */
#define RESTORE_HELLO_RETRY_NS 250000000LL

#endif
