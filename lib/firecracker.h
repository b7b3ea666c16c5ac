/* firecracker.h - the Firecracker driver's helpers for the programs */
#ifndef FC_FIRECRACKER_H
#define FC_FIRECRACKER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct fc_err;

/*
 * The driver itself is vmm_firecracker (vmm.h). Its VMs run in a working
 * directory of their own (the run directory, or the jail's root), where
 * the names recorded in a snapshot are these, relative:
 */
#define FIRECRACKER_DRIVE "rootfs.ext4"	/* drive "rootfs", read-only */
#define FIRECRACKER_VSOCK "v.sock"	/* vsock uds_path, guest CID 3 */

/* Run Firecracker under its jailer (--jailer on the command line). */
struct firecracker_jailer {
	uid_t uid;
	gid_t gid;
	char chroot_base[PATH_MAX];	/* default /srv/jailer */
	int cgroup_version;		/* 1 or 2; default: the host's */
};

/*
 * Parse a --jailer value: "uid=U,gid=G[,chroot-base=DIR][,cgroup-version=N]"
 * (U and G numbers or names; a user name also gives its group). -1 and
 * FC_EUSAGE naming the problem.
 */
int firecracker_jailer_parse(const char *spec, struct firecracker_jailer *j,
			     struct fc_err *e);

/*
 * The firecracker binary as an absolute path: $FC_FIRECRACKER (a path, or
 * a name looked up in PATH), else "firecracker" in PATH. -1 (FC_EVMM) if
 * there is none; e may be NULL.
 */
int firecracker_binary(char *out, size_t n, struct fc_err *e);

/* Its release, "1.16.1" from `firecracker --version` (asked once). */
int firecracker_version(char *out, size_t n, struct fc_err *e);

/*
 * The snapshot format it writes, "10.0.0" from `--snapshot-version`.
 * -1 when the binary does not say (old releases); e may be NULL.
 */
int firecracker_snapshot_format(char *out, size_t n, struct fc_err *e);

/*
 * May this host's firecracker load the snapshot in dir, made by release
 * made_by (the manifest's vmm_version)? Every release loads only its own
 * snapshots: another one is FC_EINPUT, saying which made it, which is here
 * and what to do. With made_by NULL, state (the state file) is checked
 * with `--describe-snapshot` against `--snapshot-version` instead, where
 * the binary has them.
 */
int firecracker_check_snapshot(const char *dir, const char *made_by,
			       const char *state, struct fc_err *e);

/*
 * The kernel command line Firecracker is given for cmdline: it replaces
 * Firecracker's default, so "reboot=k panic=1" is appended unless cmdline
 * already has reboot=k (a guest reboot or panic then ends the process).
 * malloc'd; NULL on ENOMEM.
 */
char *firecracker_boot_args(const char *cmdline);

#endif
