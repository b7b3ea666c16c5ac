/* tap.h - a tiny TAP producer for the lib/ unit tests (header only) */
#ifndef FC_TAP_H
#define FC_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;

/* Announce how many tests will run (optional: done_testing() can count). */
static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

/* Skip the whole file with a reason; exits 77 after a TAP skip line. */
static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

__attribute__((format(printf, 4, 0)))
static inline int tap_vok(int pass, const char *file, int line,
			  const char *fmt, va_list ap)
{
	tap_run++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   Failed test at %s line %d.\n", file, line);
	}
	fflush(stdout);
	return pass;
}

__attribute__((format(printf, 4, 5)))
static inline int tap_ok(int pass, const char *file, int line,
			 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 5, 6)))
static inline int tap_is_int(long long got, long long want, const char *file,
			     int line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(got == want, file, line, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return r;
}

__attribute__((format(printf, 5, 6)))
static inline int tap_is_str(const char *got, const char *want,
			     const char *file, int line, const char *fmt, ...)
{
	int pass = got && want ? strcmp(got, want) == 0 : got == want;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#          got: '%s'\n#     expected: '%s'\n",
		       got ? got : "(null)", want ? want : "(null)");
	return r;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
	tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

/* Print a diagnostic line (TAP comment). */
__attribute__((format(printf, 1, 2)))
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Close the plan; the exit status for main(): 0 when all passed. */
static inline int done_testing(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_run);
	else if (tap_run != tap_planned)
		diag("planned %d tests but ran %d", tap_planned, tap_run);
	if (tap_failed)
		diag("failed %d of %d tests", tap_failed, tap_run);
	return tap_failed || (tap_planned && tap_run != tap_planned);
}

#endif
