/* test_manifest.c - manifest.json round trips and refusals */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "manifest.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/test_manifest.XXXXXX";

static void put(const char *text)
{
	char *p = path_join(dir, "manifest.json");
	struct fc_err e;

	write_file(p, text, strlen(text), &e);
	free(p);
}

static void round_trip(void)
{
	struct manifest m = { 0 }, r;
	struct fc_err e = { 0 };

	m.format = FC_MANIFEST_FORMAT;
	m.kind = strdup("snapshot");
	m.function = strdup("hello \"quoted\"\n");
	m.handler = strdup("src/app.handler");
	m.rootfs = strdup("rootfs.ext4");
	m.rootfs_sha256 = strdup("ab12");
	m.state = strdup("state");
	m.state_sha256 = strdup("cd34");
	m.env = strdup("{\"A\":\"1\"}");
	m.timeout = 30;
	m.memory_mib = 512;
	m.vcpus = 2;
	m.protocol = 1;
	is_int(manifest_write(dir, &m, &e), 0, "write");
	is_int(manifest_read(dir, "snapshot", &r, &e), 0, "read back");
	is_str(r.function, m.function, "escaped string survives");
	is_str(r.handler, "src/app.handler", "handler");
	is_int(r.timeout, 30, "timeout");
	is_int(r.memory_mib, 512, "memory");
	is_int(r.vcpus, 2, "vcpus");
	is_str(r.env, "{\"A\":\"1\"}", "env kept verbatim");
	is_str(r.rootfs_sha256, "ab12", "rootfs checksum");
	is_str(r.state_sha256, "cd34", "state checksum");
	manifest_free(&m);
	manifest_free(&r);
}

static void refusals(void)
{
	struct manifest m;
	struct fc_err e = { 0 };

	put("{\"format\":1,\"kind\":\"image\",\"rootfs\":\"r\"}");
	is_int(manifest_read(dir, "snapshot", &m, &e), -1, "wrong kind refused");
	is_int(e.code, FC_EINPUT, "as bad input");
	ok(strstr(e.msg, "not a snapshot") != NULL, "message says so: %s", e.msg);

	put("{\"format\":2,\"kind\":\"image\",\"rootfs\":\"r\"}");
	is_int(manifest_read(dir, NULL, &m, &e), -1, "future format refused");
	ok(strstr(e.msg, "format 2") != NULL, "names the format: %s", e.msg);

	put("[1,2]");
	is_int(manifest_read(dir, NULL, &m, &e), -1, "not an object");
	put("{\"format\":1,");
	is_int(manifest_read(dir, NULL, &m, &e), -1, "truncated JSON");
	is_int(e.code, FC_EINPUT, "as bad input");
	put("{\"format\":1,\"kind\":\"image\"}");
	is_int(manifest_read(dir, NULL, &m, &e), -1, "no rootfs");
	put("{\"format\":1,\"kind\":7,\"rootfs\":\"r\"}");
	is_int(manifest_read(dir, NULL, &m, &e), -1, "kind of the wrong type");
}

int main(void)
{
	struct manifest m;
	struct fc_err e = { 0 };

	if (!mkdtemp(dir))
		return 77;
	round_trip();
	refusals();
	rmtree(dir);
	is_int(manifest_read(dir, NULL, &m, &e), -1, "missing directory");
	ok(strstr(e.msg, "No such file") != NULL, "names the cause: %s", e.msg);
	return done_testing();
}
