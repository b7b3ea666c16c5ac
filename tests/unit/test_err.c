/* test_err.c - error records and exit-code names (lib/err.c) */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "tap.h"

static void test_names(void)
{
	static const char *const names[] = {
		"success", "function error", "usage error", "bad input",
		"timeout", "VMM or system failure", "throttled",
	};
	int i;

	for (i = 0; i < 7; i++)
		is_str(fc_exit_name(i), names[i], "exit code %d is named", i);
	is_int(FC_ETHROTTLED, 6, "the table ends at 6");
	is_str(fc_exit_name(7), "unknown exit code", "7 is unknown");
	is_str(fc_exit_name(-1), "unknown exit code", "-1 is unknown");
	is_str(fc_exit_name(255), "unknown exit code", "255 is unknown");
}

static void test_errf(void)
{
	struct fc_err e = { 0 };

	errno = EAGAIN;
	is_int(fc_errf(&e, FC_EINPUT, "%s: bad %d", "x.json", 3), -1,
	       "fc_errf returns -1");
	is_int(e.code, FC_EINPUT, "fc_errf sets the code");
	is_str(e.msg, "x.json: bad 3", "fc_errf formats the message");
	is_int(errno, EAGAIN, "fc_errf keeps errno");

	fc_errf(&e, FC_EVMM, "line one\nline two\r");
	is_str(e.msg, "line one line two ", "newlines become spaces");
	is_int(fc_errf(NULL, FC_EVMM, "nothing"), -1, "NULL record is fine");
}

static void test_errnof(void)
{
	struct fc_err e = { 0 };

	errno = ENOENT;
	is_int(fc_errnof(&e, FC_EINPUT, "fn.img/%s", "rootfs.ext4"), -1,
	       "fc_errnof returns -1");
	is_str(e.msg, "fn.img/rootfs.ext4: No such file or directory",
	       "fc_errnof appends strerror");
	is_int(e.code, FC_EINPUT, "fc_errnof sets the code");
	is_int(errno, ENOENT, "fc_errnof keeps errno");
}

static void test_ctx(void)
{
	struct fc_err e = { 0 };

	errno = EACCES;
	fc_errnof(&e, FC_EVMM, "mem");
	is_int(fc_errctx(&e, "snapshot %s", "fn.snap"), -1,
	       "fc_errctx returns -1");
	is_str(e.msg, "snapshot fn.snap: mem: Permission denied",
	       "fc_errctx prefixes the context");
	is_int(e.code, FC_EVMM, "fc_errctx keeps the code");
	fc_errctx(&e, "outer");
	is_str(e.msg, "outer: snapshot fn.snap: mem: Permission denied",
	       "contexts nest outside in");
	is_int(errno, EACCES, "fc_errctx keeps errno");
	is_int(fc_errctx(NULL, "x"), -1, "NULL record is fine");
}

static void test_truncation(void)
{
	char big[3000];
	struct fc_err e = { 0 };

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fc_errf(&e, FC_EINPUT, "%s", big);
	is_int(strlen(e.msg), sizeof(e.msg) - 1, "long messages are cut");

	errno = EIO;
	fc_errnof(&e, FC_EVMM, "%s", big);
	is_int(strlen(e.msg), sizeof(e.msg) - 1, "errnof stays in bounds");

	fc_errf(&e, FC_EINPUT, "%s", big);
	fc_errctx(&e, "ctx");
	is_int(strlen(e.msg), sizeof(e.msg) - 1, "errctx stays in bounds");
	ok(strncmp(e.msg, "ctx: xxx", 8) == 0, "the context survives a cut");

	fc_errf(&e, FC_EINPUT, "short");
	fc_errctx(&e, "%s", big);
	is_int(strlen(e.msg), sizeof(e.msg) - 1, "a huge context is cut");
}

int main(void)
{
	test_names();
	test_errf();
	test_errnof();
	test_ctx();
	test_truncation();
	return done_testing();
}
