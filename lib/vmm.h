/* vmm.h - the interface every VMM driver implements, and the VM it returns */
#ifndef FC_VMM_H
#define FC_VMM_H

#include <stdint.h>
#include <sys/types.h>

struct fc_err;
struct firecracker_jailer;

/* What to start: a cold boot, or a restore when state is set. */
struct vm_config {
	const char *kernel;	/* ELF vmlinux (boot only) */
	const char *initrd;	/* agent + modules (boot only) */
	const char *cmdline;	/* (boot only) */
	const char *rootfs;	/* read-only root disk */
	const char *mem_file;	/* guest RAM: shared on boot, private on restore */
	const char *state;	/* restore from this device state, or NULL */
	const char *console;	/* where the guest console goes */
	int memory_mib;
	int vcpus;
	/* Stop the VMM if the process that started it dies (SIGKILLed, say).
	 * Only for a single-threaded caller that does not leave it running:
	 * the kernel ties this to the starting thread. */
	int die_with_parent;
	/* Restore: the VMM release that made the state (the manifest's
	 * vmm_version); a driver refuses another release's. NULL: unchecked. */
	const char *vmm_version;
	/* firecracker: run it under the jailer with these options, or NULL. */
	const struct firecracker_jailer *jailer;
};

struct vmm_ops;

/* A running VM and the private run directory holding its sockets. */
struct vm {
	const struct vmm_ops *ops;
	pid_t pid;
	int pidfd;		/* readable when the VMM process exits */
	char *rundir;		/* removed by vm_destroy */
	char *qmp;		/* control socket path */
	int qmp_fd;		/* connected control socket, or -1 */
	char *chan;		/* agent channel socket path */
	int64_t started;	/* monotonic ns at spawn */
	void *drv;		/* the driver's own state, or NULL */
};

struct vmm_ops {
	const char *name;
	/* The VMM's stderr in its run directory, quoted when it exits; or NULL. */
	const char *log;
	/* The VMM's version string, e.g. "7.2.22". */
	int (*version)(char *out, size_t n, struct fc_err *e);
	int (*start)(struct vm *vm, const struct vm_config *c, struct fc_err *e);
	/* A connected byte stream to the agent, by deadline (monotonic ns). */
	int (*connect)(struct vm *vm, int64_t deadline, struct fc_err *e);
	/* Pause and save device state to path (RAM stays in mem_file). */
	int (*snapshot)(struct vm *vm, const char *state, int64_t deadline,
			struct fc_err *e);
	/* Stop the VMM process now. */
	void (*kill)(struct vm *vm);
	/* Optional: free drv and what lives outside the run directory (a
	 * jail); vm_destroy calls it once the process is reaped. */
	void (*release)(struct vm *vm);
};

extern const struct vmm_ops vmm_qemu;
extern const struct vmm_ops vmm_firecracker;

/* Look a driver up by name ("qemu", "firecracker"); NULL if unknown. */
const struct vmm_ops *vmm_find(const char *name);

/*
 * The driver to use: name (--vmm) when set, else $FC_VMM, else firecracker
 * where its binary is found and /dev/kvm can create a VM, else qemu.
 * why[n] (may be NULL) gets which and why, for -v. NULL and FC_EUSAGE for
 * an unknown name.
 */
const struct vmm_ops *vmm_choose(const char *name, char *why, size_t n,
				 struct fc_err *e);

/*
 * Can this process create a KVM VM ($FC_KVM, default /dev/kvm)? 1 if so;
 * 0 with the reason in why[n] (may be NULL) if not.
 */
int kvm_usable(char *why, size_t n);

/* Make a private run directory for a VM (short path: socket names). */
int vm_init(struct vm *vm, const struct vmm_ops *ops, const char *prog,
	    struct fc_err *e);
/* Kill the VMM if running, reap it, remove the run directory. */
void vm_destroy(struct vm *vm);

/* Has the VMM process exited? Reaps it and fills e with how, if so. */
int vm_exited(struct vm *vm, struct fc_err *e);

/* An fd that becomes readable when pid exits (pidfd), or -1. */
int pid_watch(pid_t pid);

/* Host TSC frequency in kHz (for tsc_early_khz), 0 if unknown. */
long host_tsc_khz(void);

#endif
