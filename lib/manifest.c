/* manifest.c - read and write manifest.json of images and snapshots */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "manifest.h"
#include "util.h"

/* The string fields, by name, for reading and writing alike. */
#define STRINGS(m) { \
	{ "kind", &(m)->kind }, { "function", &(m)->function }, \
	{ "runtime", &(m)->runtime }, \
	{ "runtime_version", &(m)->runtime_version }, \
	{ "handler", &(m)->handler }, { "rootfs", &(m)->rootfs }, \
	{ "vmm", &(m)->vmm }, { "vmm_version", &(m)->vmm_version }, \
	{ "snapshot_format", &(m)->snapshot_format }, \
	{ "machine", &(m)->machine }, { "kernel", &(m)->kernel }, \
	{ "kernel_release", &(m)->kernel_release }, \
	{ "initrd", &(m)->initrd }, { "cmdline", &(m)->cmdline }, \
	{ "state", &(m)->state }, { "memory_file", &(m)->memory_file }, \
	{ "created", &(m)->created }, { "jailer", &(m)->jailer }, \
}

#define NUMBERS(m) { \
	{ "format", NULL, &(m)->format }, { "timeout", &(m)->timeout, NULL }, \
	{ "memory_mib", &(m)->memory_mib, NULL }, \
	{ "vcpus", &(m)->vcpus, NULL }, { "protocol", &(m)->protocol, NULL }, \
	{ "rootfs_bytes", &(m)->rootfs_bytes, NULL }, \
}

struct sfield { const char *key; char **val; };
struct nfield { const char *key; long *l; int *i; };

static int read_fields(struct json_doc *d, struct manifest *m)
{
	struct sfield s[] = STRINGS(m);
	struct nfield n[] = NUMBERS(m);
	long long v;
	int i, sha;

	for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++)
		if ((i = json_get(d, 0, s[k].key)) >= 0 &&
		    d->tok[i].type == JSMN_STRING)
			*s[k].val = json_str(d, i);
	for (size_t k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
		if ((i = json_get(d, 0, n[k].key)) < 0 || json_int(d, i, &v) < 0)
			continue;
		if (n[k].l)
			*n[k].l = (long)v;
		else
			*n[k].i = (int)v;
	}
	if ((i = json_get(d, 0, "env")) >= 0 && d->tok[i].type == JSMN_OBJECT)
		m->env = strndup(d->buf + d->tok[i].start,
				 (size_t)(d->tok[i].end - d->tok[i].start));
	if ((sha = json_get(d, 0, "sha256")) >= 0 && d->tok[sha].type == JSMN_OBJECT) {
		if (m->rootfs && (i = json_get(d, sha, m->rootfs)) >= 0)
			m->rootfs_sha256 = json_str(d, i);
		if (m->state && (i = json_get(d, sha, m->state)) >= 0)
			m->state_sha256 = json_str(d, i);
	}
	return 0;
}

int manifest_read(const char *dir, const char *want_kind, struct manifest *m,
		  struct fc_err *e)
{
	char *path = path_join(dir, "manifest.json"), *text = NULL;
	struct json_doc d;
	size_t len;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (!path)
		return fc_errf(e, FC_EVMM, "out of memory");
	if (read_file(path, 1 << 20, &text, &len, e) < 0)
		goto out;
	if (json_parse(&d, text, len, path, e) < 0)
		goto out;
	if (d.ntok < 1 || d.tok[0].type != JSMN_OBJECT) {
		fc_errf(e, FC_EINPUT, "%s: not a JSON object", path);
	} else {
		read_fields(&d, m);
		if (m->format != FC_MANIFEST_FORMAT)
			fc_errf(e, FC_EINPUT, "%s: manifest format %d, expected %d",
				path, m->format, FC_MANIFEST_FORMAT);
		else if (!m->kind || !m->rootfs)
			fc_errf(e, FC_EINPUT, "%s: not an fc-tools manifest", path);
		else if (want_kind && strcmp(m->kind, want_kind) != 0)
			fc_errf(e, FC_EINPUT, "%s: not %s %s (its manifest says %s)",
				dir, strchr("aeiou", want_kind[0]) ? "an" : "a",
				want_kind, m->kind);
		else
			rc = 0;
	}
	json_free(&d);
out:
	if (rc < 0)
		manifest_free(m);
	free(text);
	free(path);
	return rc;
}

static void put_str(struct buf *b, int indent, const char *key,
		    const char *val, int *first)
{
	if (!val)
		return;
	buf_printf(b, "%s\n%*s", *first ? "" : ",", indent, "");
	buf_json_str(b, key, strlen(key));
	buf_puts(b, ": ");
	buf_json_str(b, val, strlen(val));
	*first = 0;
}

int manifest_write(const char *dir, const struct manifest *m,
		   struct fc_err *e)
{
	struct manifest *mm = (struct manifest *)m;
	struct sfield s[] = STRINGS(mm);
	struct nfield n[] = NUMBERS(mm);
	struct buf b = { 0 };
	int first = 1, rc;
	char *path;

	buf_puts(&b, "{");
	for (size_t k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
		long v = n[k].l ? *n[k].l : *n[k].i;
		if (v == 0)
			continue;
		buf_printf(&b, "%s\n  \"%s\": %ld", first ? "" : ",", n[k].key, v);
		first = 0;
	}
	for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++)
		put_str(&b, 2, s[k].key, *s[k].val, &first);
	if (m->env)
		buf_printf(&b, ",\n  \"env\": %s", m->env);
	buf_puts(&b, ",\n  \"sha256\": {");
	first = 1;
	if (m->rootfs && m->rootfs_sha256)
		put_str(&b, 4, m->rootfs, m->rootfs_sha256, &first);
	if (m->state && m->state_sha256)
		put_str(&b, 4, m->state, m->state_sha256, &first);
	if (buf_puts(&b, "\n  }\n}\n") < 0) {
		buf_free(&b);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	path = path_join(dir, "manifest.json");
	rc = path ? write_file(path, b.p, b.len, e) : fc_errf(e, FC_EVMM, "out of memory");
	free(path);
	buf_free(&b);
	return rc;
}

void manifest_free(struct manifest *m)
{
	struct sfield s[] = STRINGS(m);

	for (size_t k = 0; k < sizeof(s) / sizeof(s[0]); k++)
		free(*s[k].val);
	free(m->env);
	free(m->rootfs_sha256);
	free(m->state_sha256);
	memset(m, 0, sizeof(*m));
}
