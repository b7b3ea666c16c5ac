/* paths.h - where the programs find the guest kernel, agent and runtime */
#ifndef FC_PATHS_H
#define FC_PATHS_H

struct fc_err;

/* The guest kernel directory (make guest): $FC_KERNEL, else the cache. */
char *kernel_dir(const char *opt);

/*
 * Find an installed file: opt if given, else $env, else next to the
 * running program (the build tree: build/NAME, or ../rel), else under
 * installed. NULL with FC_EVMM naming every place looked at.
 */
char *find_asset(const char *opt, const char *env, const char *rel,
		 const char *installed, struct fc_err *e);

#endif
