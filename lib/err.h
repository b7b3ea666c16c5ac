/* err.h - error records and the exit-code table shared by every program */
#ifndef FC_ERR_H
#define FC_ERR_H

#include <stdarg.h>

enum fc_exit {
	FC_OK = 0,		/* success */
	FC_EFUNC = 1,		/* the function returned an error */
	FC_EUSAGE = 2,		/* bad command line */
	FC_EINPUT = 3,		/* malformed zip, event, manifest or image */
	FC_ETIMEOUT = 4,	/* the function or VM missed its deadline */
	FC_EVMM = 5,		/* VMM or system failure */
	FC_ETHROTTLED = 6,	/* a pool's queue is full */
};

struct fc_err {
	int code;		/* an enum fc_exit value */
	char msg[1024];		/* one line, no trailing newline */
};

/*
 * Fill e with code and a formatted message; always returns -1. All three
 * leave errno as it was, accept e == NULL (nothing recorded), truncate to
 * the size of msg and turn newlines into spaces.
 */
int fc_errf(struct fc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, appending ": strerror(errno)" (errno read on entry). */
int fc_errnof(struct fc_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the message with "ctx: " (keeps the code); returns -1. */
int fc_errctx(struct fc_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The name of an exit code, e.g. "function error"; "unknown exit code". */
const char *fc_exit_name(int code);

#endif
