/* poolproto.h - the fc-poold socket protocol, for the pool and its clients */
#ifndef FC_POOLPROTO_H
#define FC_POOLPROTO_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct fc_err;

/*
 * Frames as in fc-protocol(7). On connect the pool sends 'R'
 * {"server":"fc-poold","version":..,"protocol":1,"functions":[..]}.
 * Client to pool: 'I' {"function":..,"id":..,"timeout_ms":N,"event":E}
 * (function, id and timeout_ms optional) or 'S' (status, empty payload).
 * Pool to client, for an 'I': the VM's 'L' frames, then 'O', 'E' or 'F',
 * then 'P'; or, at any point, 'X' {"code":N,"message":".."}, which ends
 * the request. For an 'S': 'S' with the status JSON. A connection may
 * carry any number of requests, one at a time.
 */
#define POOL_PROTOCOL 1
#define POOL_SERVER "fc-poold"

/* How deeply an event may nest: as fc-invoke checks it. */
#define POOL_EVENT_DEPTH 10000

/* A request id or a function name: at most this long. */
#define POOL_NAME_MAX 64

/* An invocation request, as the pool reads it. */
struct poolreq {
	char function[POOL_NAME_MAX + 1];	/* "" when not named */
	char id[POOL_NAME_MAX + 1];		/* "" when not given */
	long timeout_ms;			/* 0 when not given */
	size_t ev_off, ev_len;			/* the event inside the payload */
};

/*
 * Parse and check an 'I' payload. FC_EINPUT with "bad request: ..." for
 * anything malformed; the event span is exact JSON text.
 */
int poolproto_parse(const char *p, size_t n, struct poolreq *r,
		    struct fc_err *e);

/* Build an 'I' payload (function may be NULL, id "" or NULL, timeout 0). */
int poolproto_request(struct buf *b, const char *function, const char *id,
		      long timeout_ms, const char *event, size_t n);

/* Is s a valid function name: 1-64 of [A-Za-z0-9._-], not starting with '.'? */
int poolproto_name_ok(const char *s);
/* Is s a valid request id: 1-64 bytes, no control character, '"' or '\\'? */
int poolproto_id_ok(const char *s, size_t n);

/* Build an 'X' payload. */
int poolproto_error(struct buf *b, int code, const char *msg);
/* Read an 'X' payload into e: its code (FC_EVMM if absent) and message. */
void poolproto_read_error(const char *p, size_t n, struct fc_err *e);

/*
 * Connect to a pool's socket and read its greeting (into hello if not
 * NULL), by deadline. A socket nobody listens on is FC_EVMM "no fc-poold
 * is listening"; a peer that does not greet as fc-poold is FC_EINPUT.
 * Returns a blocking fd.
 */
int poolproto_connect(const char *path, int64_t deadline, struct buf *hello,
		      struct fc_err *e);

#endif
