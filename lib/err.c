/* err.c - fill error records and name exit codes; never prints */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const char *const exit_names[] = {
	[FC_OK] = "success",
	[FC_EFUNC] = "function error",
	[FC_EUSAGE] = "usage error",
	[FC_EINPUT] = "bad input",
	[FC_ETIMEOUT] = "timeout",
	[FC_EVMM] = "VMM or system failure",
	[FC_ETHROTTLED] = "throttled",
};

const char *fc_exit_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(exit_names) / sizeof(*exit_names)))
		return "unknown exit code";
	return exit_names[code];
}

/* Keep the message on one line: a stray newline would split the report. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

/* Append s to the string in dst[size], truncating. */
static void append(char *dst, size_t size, const char *s)
{
	size_t len = strlen(dst), n = strlen(s);

	if (len + 1 >= size)
		return;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(dst + len, s, n);
	dst[len + n] = '\0';
}

__attribute__((format(printf, 3, 0)))
static void vset(struct fc_err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	one_line(e->msg);
}

int fc_errf(struct fc_err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vset(e, code, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

int fc_errnof(struct fc_err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	char buf[128];
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vset(e, code, fmt, ap);
		va_end(ap);
		append(e->msg, sizeof(e->msg), ": ");
		append(e->msg, sizeof(e->msg),
		       strerror_r(saved, buf, sizeof(buf)));
	}
	errno = saved;
	return -1;
}

int fc_errctx(struct fc_err *e, const char *fmt, ...)
{
	int saved = errno;
	char out[sizeof(e->msg)];
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(out, sizeof(out), fmt, ap);
		va_end(ap);
		append(out, sizeof(out), ": ");
		append(out, sizeof(out), e->msg);
		memcpy(e->msg, out, sizeof(out));
		one_line(e->msg);
	}
	errno = saved;
	return -1;
}
