/* fcapi.h - a client for Firecracker's REST API on its Unix socket (libcurl) */
#ifndef FC_FCAPI_H
#define FC_FCAPI_H

#include <stddef.h>

struct fc_err;
struct buf;

/*
 * One API socket. The curl handle is reused, so calls share one kept-alive
 * connection; requests go one at a time, each waiting for its reply.
 * Everything here is owned by the struct and freed by fcapi_close.
 */
struct fcapi {
	void *curl;		/* CURL * */
	void *headers;		/* struct curl_slist * */
	char *sock;		/* the socket's path */
	long status;		/* the last reply's HTTP status, or 0 */
	char errbuf[256];	/* CURL_ERROR_SIZE */
};

/* Prepare a client for the socket at path (nothing is connected yet). */
int fcapi_open(struct fcapi *a, const char *path, struct fc_err *e);
/* Release it; a zeroed or closed struct is fine. */
void fcapi_close(struct fcapi *a);

/*
 * Send "method path" with body (JSON text sent with Content-Length, or
 * NULL for none) and wait at most timeout_ms for the whole reply. A 2xx
 * status is 0, the reply body appended to reply when it is non-NULL.
 * Otherwise -1 and "METHOD path: cause": for an HTTP error the cause is
 * Firecracker's fault_message (or its HTTP layer's error text) verbatim
 * (FC_EVMM); no reply in time is FC_ETIMEOUT; a socket failure FC_EVMM.
 */
int fcapi_call(struct fcapi *a, const char *method, const char *path,
	       const char *body, long timeout_ms, struct buf *reply,
	       struct fc_err *e);

/*
 * The message in an error reply body into out[size]: its fault_message,
 * else its error (the HTTP layer's key, whose text may hold a raw newline
 * and so not be valid JSON), else the body itself; "" for an empty body.
 */
void fcapi_fault_text(const char *body, size_t n, char *out, size_t size);

#endif
