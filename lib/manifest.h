/* manifest.h - manifest.json of an image (fc-build) or a snapshot (fc-snap) */
#ifndef FC_MANIFEST_H
#define FC_MANIFEST_H

#define FC_MANIFEST_FORMAT 1

struct fc_err;
struct buf;

struct manifest {
	int format;
	char *kind;		/* "image" or "snapshot" */
	char *function;
	char *runtime, *runtime_version, *handler;
	long timeout;		/* seconds */
	long memory_mib;
	char *env;		/* the env object, verbatim JSON */
	char *rootfs;		/* file name inside the directory */
	long rootfs_bytes;
	char *rootfs_sha256;
	/* snapshot only */
	char *vmm, *vmm_version, *machine;
	char *snapshot_format;	/* firecracker: its --snapshot-version */
	long vcpus;
	char *kernel, *kernel_release, *initrd, *cmdline;
	char *state, *memory_file;
	long protocol;
	char *created;
	char *state_sha256;
	char *jailer;		/* firecracker: the --jailer spec restores use */
};

/*
 * Read dir/manifest.json. want_kind (or NULL) must match. Errors are
 * FC_EINPUT naming the file: "fn.img/manifest.json: not a snapshot".
 */
int manifest_read(const char *dir, const char *want_kind, struct manifest *m,
		  struct fc_err *e);
/* Write dir/manifest.json atomically. */
int manifest_write(const char *dir, const struct manifest *m,
		   struct fc_err *e);
void manifest_free(struct manifest *m);

#endif
