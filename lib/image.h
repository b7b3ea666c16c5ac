/* image.h - stage a function's root filesystem and make it an ext4 image */
#ifndef FC_IMAGE_H
#define FC_IMAGE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Ownership: structs below own their strings; free them with *_free. */

struct fc_err;
struct buf;

#define IMAGE_TASK "var/task"		/* LAMBDA_TASK_ROOT, under the root */
#define IMAGE_RUNTIME_DIR "opt/fc"	/* LAMBDA_RUNTIME_DIR */
#define IMAGE_BOOTSTRAP "bootstrap.js"

/* Node.js as found on the host; it goes to the same path in the image. */
struct image_node {
	char path[PATH_MAX];	/* absolute, as found */
	char real[PATH_MAX];	/* the file, when path is a symbolic link */
	char version[64];	/* `node --version`, e.g. "v20.20.2" */
	char **libs;		/* its shared-library closure, absolute */
	size_t nlibs;
};

/*
 * Find node (a path, or a name looked up in PATH), ask its version and
 * list its libraries with ldd(1). Errors: FC_EINPUT for a bad path,
 * FC_EVMM when the host lacks node or ldd fails.
 */
int image_node_find(const char *arg, struct image_node *n, struct fc_err *e);
void image_node_free(struct image_node *n);

/*
 * The file part of a handler "FILE.EXPORT" ("src/app" for
 * "src/app.handler") into file[size]: FILE is a relative path without
 * empty or `.` components, EXPORT one or more dot-separated names, and
 * `..` appears nowhere. Returns -1 when the handler is malformed.
 */
int image_handler_file(const char *handler, char *file, size_t size);

/*
 * Check that the package at taskfd holds the handler's module where the
 * runtime looks: FILE.js, .mjs, .cjs, FILE, or the package
 * node_modules/FILE. Else FC_EINPUT naming what was looked for (what
 * names the zip), with a hint when it sits one folder down.
 */
int image_handler_check(int taskfd, const char *handler, const char *what,
			struct fc_err *e);

/* KEY=VALUE lines of the runtime's environment, in order. */
struct image_env {
	char **kv;
	size_t n;
};

/* Is key [A-Za-z_][A-Za-z0-9_]* ? Is it one that fc-build sets itself? */
int image_env_key_ok(const char *key);
int image_env_reserved(const char *key);
/* Set key to val, replacing an earlier value; -1 on ENOMEM. */
int image_env_set(struct image_env *env, const char *key, const char *val);
/* The value of key, or NULL. */
const char *image_env_get(const struct image_env *env, const char *key);
void image_env_free(struct image_env *env);
/* Append env as a JSON object to b. */
int image_env_json(const struct image_env *env, struct buf *b);

/* What the function's environment is made of. */
struct image_conf {
	const char *name, *handler, *region;
	long timeout_s, memory_mib;
	const struct image_node *node;
	const struct image_env *user;	/* --env, laid over the rest */
};

/* Lambda's variables for c, then the user's: into env (empty on entry). */
int image_env_lambda(struct image_env *env, const struct image_conf *c,
		     struct fc_err *e);

/*
 * Lay out the image around the unpacked package at stage/var/task: the
 * empty mount points, node and its libraries at their host paths, the
 * runtime's *.js from rtdir in /opt/fc, and /etc/fc/runtime and env.
 */
int image_stage(const char *stage, const struct image_node *n,
		const char *rtdir, const struct image_env *env,
		struct fc_err *e);

/* Staged bytes and inodes, to size the file system. */
struct image_usage {
	uint64_t files, bytes;	/* regular files and their size */
	uint64_t blocks;	/* 4 KiB blocks the tree needs, all kinds */
	uint64_t inodes;
};
int image_measure(const char *stage, struct image_usage *u,
		  struct fc_err *e);

/*
 * mke2fs(8) out from the tree at stage: ext4, no journal, root owned by
 * 0:0, label fc-root, sized from u. out must not exist.
 */
int image_mkfs(const char *stage, const char *out,
	       const struct image_usage *u, struct fc_err *e);

/*
 * Move the finished directory tmp to dir. An existing dir is replaced
 * only with force, and only if it is empty or holds a manifest.json
 * (FC_EUSAGE otherwise); the old one is removed.
 */
int image_commit(const char *tmp, const char *dir, int force,
		 struct fc_err *e);
/* The same checks, made before the build starts. */
int image_can_commit(const char *dir, int force, struct fc_err *e);

#endif
