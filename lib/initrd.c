/* initrd.c - the guest's initramfs: the agent as /init plus kernel modules */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "initrd.h"
#include "json.h"
#include "util.h"

static int add(struct archive *a, const char *name, int mode,
	       const void *data, size_t n, struct fc_err *e)
{
	struct archive_entry *en = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(en, name);
	archive_entry_set_mode(en, mode);
	archive_entry_set_size(en, (la_int64_t)n);
	archive_entry_set_mtime(en, 0, 0);
	if (archive_write_header(a, en) != ARCHIVE_OK ||
	    (n && archive_write_data(a, data, n) != (la_ssize_t)n))
		rc = fc_errf(e, FC_EVMM, "initrd: %s", archive_error_string(a));
	archive_entry_free(en);
	return rc;
}

static int add_file(struct archive *a, const char *name, int mode,
		    const char *src, struct fc_err *e)
{
	char *p = NULL;
	size_t n = 0;
	int rc;

	if (read_file(src, 256u << 20, &p, &n, e) < 0)
		return -1;
	rc = add(a, name, mode, p, n, e);
	free(p);
	return rc;
}

/* Each module named in modules.load, into /modules, and their order. */
static int add_modules(struct archive *a, const char *kdir, struct fc_err *e)
{
	char *list = path_join(kdir, "modules.load"), *text = NULL;
	struct buf order = { 0 };
	size_t n;
	int rc = 0;

	if (read_file(list, 1 << 20, &text, &n, e) < 0) {
		free(list);
		return -1;
	}
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && rc == 0;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[256], src[4096], dst[300];
		l[strcspn(l, " \t\r#")] = 0;
		if (!*l)
			continue;
		snprintf(name, sizeof(name), "%s%s", l,
			 strstr(l, ".ko") ? "" : ".ko");
		snprintf(src, sizeof(src), "%s/modules/%s", kdir, name);
		snprintf(dst, sizeof(dst), "modules/%s", name);
		rc = add_file(a, dst, 0100644, src, e);
		buf_printf(&order, "%s\n", name);
	}
	if (rc == 0)
		rc = add(a, "modules/load", 0100644, order.p, order.len, e);
	buf_free(&order);
	free(text);
	free(list);
	return rc;
}

int initrd_write(const char *path, const char *agent, const char *kernel_dir,
		 struct fc_err *e)
{
	static const char *dirs[] = { "dev", "proc", "sys", "newroot", "modules" };
	struct archive *a = archive_write_new();
	int rc = 0;

	if (!a)
		return fc_errf(e, FC_EVMM, "out of memory");
	archive_write_set_format_cpio_newc(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
		rc = fc_errf(e, FC_EVMM, "%s: %s", path, archive_error_string(a));
		archive_write_free(a);
		return rc;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; i++)
		rc = add(a, dirs[i], 040755, NULL, 0, e);
	if (rc == 0)
		rc = add_file(a, "init", 0100755, agent, e);
	if (rc == 0)
		rc = add_modules(a, kernel_dir, e);
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = fc_errf(e, FC_EVMM, "%s: %s", path, archive_error_string(a));
	archive_write_free(a);
	return rc;
}
