/* paths.c - where the programs find the guest kernel, agent and runtime */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "paths.h"

char *kernel_dir(const char *opt)
{
	const char *env = getenv("FC_KERNEL"), *cache = getenv("FC_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (opt && *opt)
		return strdup(opt);
	if (env && *env)
		return strdup(env);
	if (cache && *cache) {
		if (asprintf(&p, "%s/kernel", cache) < 0)
			p = NULL;
	} else if (xdg && *xdg) {
		if (asprintf(&p, "%s/fc-tools/kernel", xdg) < 0)
			p = NULL;
	} else if (asprintf(&p, "%s/.cache/fc-tools/kernel", home ? home : "/root") < 0) {
		p = NULL;
	}
	return p;
}

/* The directory holding the running program. */
static int exe_dir(char *out, size_t n)
{
	ssize_t r = readlink("/proc/self/exe", out, n - 1);
	char *slash;

	if (r <= 0)
		return -1;
	out[r] = 0;
	slash = strrchr(out, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return 0;
}

char *find_asset(const char *opt, const char *env, const char *rel,
		 const char *installed, struct fc_err *e)
{
	const char *v = env ? getenv(env) : NULL;
	char dir[PATH_MAX], cand[PATH_MAX + 256];

	if (opt && *opt)
		return strdup(opt);
	if (v && *v)
		return strdup(v);
	if (exe_dir(dir, sizeof(dir)) == 0) {
		snprintf(cand, sizeof(cand), "%s/%s", dir, rel);
		if (access(cand, R_OK) == 0)
			return strdup(cand);
	}
	if (access(installed, R_OK) == 0)
		return strdup(installed);
	fc_errf(e, FC_EVMM, "%s: not found (set %s)", installed, env ? env : "it");
	return NULL;
}
