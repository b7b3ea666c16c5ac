/* poold.h - fc-poold's parts: functions, warm VMs, clients, one event loop */
#ifndef FC_POOLD_H
#define FC_POOLD_H

#include <stdint.h>

#include "conn.h"
#include "err.h"
#include "frame.h"
#include "poolproto.h"
#include "restore.h"
#include "vmm.h"

/*
 * Ownership: the pool owns its functions, each function its VMs, the
 * pool its clients. Nothing is freed while the loop may still hold a
 * pointer to it: dead VMs and clients are only marked (dead = 1) and
 * swept at the end of each turn of the loop (pool_sweep).
 */

/* Latency samples: the last SAMPLES_MAX values, for percentiles. */
#define SAMPLES_MAX 1024
struct samples {
	int64_t v[SAMPLES_MAX];
	long n;			/* values seen in all (the ring holds the last) */
};

/*
 * A VM's life: STARTING (the VMM restores the snapshot; the agent has
 * been greeted, its R not yet in), IDLE (ready), BUSY (one invocation in
 * flight), then dead: stopped, never handed out again.
 */
enum pvm_state { PVM_STARTING, PVM_IDLE, PVM_BUSY };

struct client;
struct function;
struct pool;

struct pvm {
	struct pvm *next;
	struct pool *pool;
	struct function *fn;
	int id;			/* pool-wide serial number, for logs */
	enum pvm_state state;
	int dead;
	/*
	 * The VMM's start blocks (QEMU: spawn, then QMP): a thread of its
	 * own does it, and nothing else touches vm until it is done.
	 */
	int launching;
	int doomed;		/* retire once the launch is done */
	int launch_rc, launch_fd;
	struct fc_err launch_err;
	struct vm vm;
	struct conn ch;		/* the agent channel */
	int64_t t_start;	/* monotonic: restore began */
	int64_t restore_ns;	/* restore to the agent's R */
	int64_t t_ready;	/* monotonic: the R came */
	int64_t idle_since;
	int64_t deadline;	/* STARTING: for R; BUSY: backstop for P */
	int64_t hello_at, hello_wait;	/* STARTING: send H again then */
	long invocations;
	/* The invocation in flight (BUSY). */
	struct client *client;	/* NULL once its client has gone */
	int64_t t_sent, queued_ns;
	int fatal;		/* an F came: retire after the P */
	int result;		/* 'O', 'E' or 'F' once it came */
};

enum client_state { CL_IDLE, CL_QUEUED, CL_RUNNING };

struct client {
	struct client *next;
	struct client *qnext;	/* in its function's queue */
	struct conn c;
	int dead;
	int closing;		/* close once the output is written */
	int eof;		/* the client shut its side: answer, then close */
	enum client_state state;
	struct function *fn;
	struct frame req;	/* the I frame, while queued or running */
	struct poolreq pr;
	int64_t t_arrived;
	struct pvm *vm;		/* RUNNING: the VM serving it */
};

struct function {
	struct function *next;
	char name[POOL_NAME_MAX + 1];
	struct snapshot snap;
	/* settings */
	int min, max, queue;	/* warm VMs kept, VMs at most, waiting at most */
	long idle_s;		/* stop idle VMs beyond min after this */
	long timeout_s;		/* invocation time-out; 0: the snapshot's */
	int fresh;		/* one invocation per VM */
	/* state */
	struct pvm *vms;
	struct client *qhead, *qtail;
	int queued;
	int64_t backoff_until, backoff_ns;	/* after failed restores */
	char last_error[256];
	/* counters */
	long served, errors, throttled, restores, restore_failures;
	struct samples restore_lat, invoke_lat, wait_lat;
};

struct pool {
	struct function *fns;
	int nfns;
	struct client *clients;
	const char *socket;
	int listen_fd;
	int64_t accept_after;	/* out of descriptors: accept again then */
	int launched[2];	/* pipe: launch threads post their pvm here */
	int next_vm_id;
	int draining;		/* SIGTERM: finish what runs, then exit */
	int64_t started, drain_deadline;
};

/* log.c: messages on stderr, "fc-poold: ...", filtered by -q and -v. */
enum { LOG_ERROR, LOG_INFO, LOG_VERBOSE, LOG_DEBUG };
extern int log_level;
void say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pool.c: warm VMs. */
int pool_init(struct pool *p);
void pool_launched(struct pool *p);
void pool_balance(struct pool *p, struct function *fn, int64_t now);
void pool_dispatch(struct pool *p, struct function *fn);
void pool_vm_readable(struct pool *p, struct pvm *v);
void pool_vm_exited(struct pool *p, struct pvm *v);
void pool_vm_flush(struct pool *p, struct pvm *v);
void pool_retire(struct pool *p, struct pvm *v, int code, const char *why);
void pool_tick(struct pool *p, int64_t now);
int64_t pool_next_timer(const struct pool *p, int64_t now);
void pool_drain(struct pool *p, int now_too);
int pool_busy(const struct pool *p);
void pool_sweep(struct pool *p);
int pool_count(const struct function *fn, enum pvm_state s);
int pool_live(const struct function *fn);

/* client.c: connections to the pool's socket. */
void client_accept(struct pool *p);
void client_readable(struct pool *p, struct client *c);
void client_flush(struct pool *p, struct client *c);
void client_fail(struct pool *p, struct client *c, int code, const char *msg);
void client_send(struct pool *p, struct client *c, char type, const void *data,
		 size_t n);
void client_done(struct pool *p, struct client *c);
void client_unqueue(struct function *fn, struct client *c);

/* status.c: figures. */
void samples_add(struct samples *s, int64_t v);
int status_json(const struct pool *p, struct buf *out);
void status_log(const struct pool *p);

#endif
