/* session.h - talking to the agent over a connected channel: hello, invoke */
#ifndef FC_SESSION_H
#define FC_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct fc_err;
struct buf;

/* Lambda's limit for events and responses: 6 MB. */
#define FC_PAYLOAD_MAX 6291556

/* How an invocation ended. */
enum result_kind { RESULT_OK = 'O', RESULT_ERROR = 'E', RESULT_FATAL = 'F' };

struct result {
	int kind;		/* enum result_kind */
	char *body;		/* response JSON or error JSON (malloc'd) */
	size_t len;
	long long duration_ns;	/* measured by the agent */
	long max_memory_kb;	/* runtime's peak RSS, -1 if unknown */
};

#include "frame.h"

/* One connected channel to an agent, reused across invocations. */
struct session {
	int fd;
	int watch_fd;		/* readable when the VM died, or -1 */
	struct frame_reader rd;
	char buf[65536];	/* bytes read but not yet decoded */
	size_t have, off;
};

/* Take over fd (closed by session_close). */
void session_init(struct session *s, int fd, int watch_fd);
void session_close(struct session *s);

/*
 * Greet the agent: send the host's time and fresh entropy, wait for R.
 * Output the runtime writes meanwhile goes to logfd (-1: dropped).
 * The session's watch_fd is polled too. The R
 * payload goes to ready when non-NULL. An F answer is FC_EFUNC with the
 * runtime's error in the message.
 */
int session_hello(struct session *s, int64_t deadline, int logfd,
		  struct buf *ready, struct fc_err *e);

/*
 * Run one invocation. Function logs are written to logfd as they arrive.
 * Returns 0 with r filled (a function error is still 0: see r->kind), or
 * -1 on a channel failure or the deadline (FC_ETIMEOUT).
 */
int session_invoke(struct session *s, const char *id, long timeout_ms,
		   const char *event, size_t n, int64_t deadline, int logfd,
		   struct result *r, struct fc_err *e);

/*
 * Run count warm-up invocations: the runtime takes its whole invocation
 * path (frames, JSON, logging, response) without calling the handler, so
 * that a snapshot taken afterwards holds compiled code, not cold code.
 */
int session_warmup(struct session *s, int count, int64_t deadline,
		   struct fc_err *e);

void result_free(struct result *r);

/* Is an F/E result a time-out (Sandbox.Timedout)? */
int result_is_timeout(const struct result *r);

#endif
