/* test_poolproto.c - pool requests and errors (lib/poolproto.c), handles (lib/handle.c) */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "handle.h"
#include "json.h"
#include "poolproto.h"
#include "tap.h"

/* The event span of a parsed request, as a string. */
static char *event_of(const char *req, const struct poolreq *r)
{
	char *s = malloc(r->ev_len + 1);

	memcpy(s, req + r->ev_off, r->ev_len);
	s[r->ev_len] = 0;
	return s;
}

static void parses(const char *req, const char *fn, const char *id,
		   long timeout, const char *event)
{
	struct poolreq r;
	struct fc_err e = { 0 };
	int rc = poolproto_parse(req, strlen(req), &r, &e);
	char *ev;

	if (!ok(rc == 0, "parses: %s", req)) {
		diag("%s", e.msg);
		return;
	}
	ev = event_of(req, &r);
	ok(strcmp(r.function, fn) == 0 && strcmp(r.id, id) == 0 &&
	   r.timeout_ms == timeout && strcmp(ev, event) == 0,
	   "  fields and the event span '%s'", ev);
	free(ev);
}

static void refuses(const char *req, const char *why)
{
	struct poolreq r;
	struct fc_err e = { 0 };

	ok(poolproto_parse(req, strlen(req), &r, &e) < 0 && e.code == FC_EINPUT &&
	   strstr(e.msg, why), "refuses %s (%s)", req, why);
}

static void requests(void)
{
	parses("{\"event\":{}}", "", "", 0, "{}");
	parses(" { \"function\" : \"fn\" , \"id\":\"r-1\",\"timeout_ms\":2500,"
	       "\"event\": [1,{\"a\":\"}]\\\"\"},3] } ", "fn", "r-1", 2500,
	       "[1,{\"a\":\"}]\\\"\"},3]");
	parses("{\"event\":\"a \\\" b\",\"x\":{\"event\":1}}", "", "", 0,
	       "\"a \\\" b\"");
	parses("{\"event\":-1.5e3}", "", "", 0, "-1.5e3");
	parses("{\"event\":null,\"unknown\":[true]}", "", "", 0, "null");
	refuses("{\"id\":\"x\"}", "no \"event\"");
	refuses("[1]", "not a JSON object");
	refuses("{\"event\":", "invalid JSON");
	refuses("{\"event\":1,\"function\":\"a b\"}", "\"function\" must be a string");
	refuses("{\"event\":1,\"function\":\".hidden\"}", "bad function name");
	refuses("{\"event\":1,\"function\":7}", "\"function\" must be a string");
	refuses("{\"event\":1,\"id\":\"a\\\"b\"}", "\"id\" must be a string");
	refuses("{\"event\":1,\"timeout_ms\":0}", "timeout_ms");
	refuses("{\"event\":1,\"timeout_ms\":1.5}", "timeout_ms");
}

static void round_trip(void)
{
	struct buf b = { 0 };
	struct poolreq r;
	struct fc_err e = { 0 };

	poolproto_request(&b, "fn", "id-9", 1200, "{\"k\":[1,2]}", 11);
	ok(poolproto_parse(b.p, b.len, &r, &e) == 0 &&
	   strcmp(r.function, "fn") == 0 && strcmp(r.id, "id-9") == 0 &&
	   r.timeout_ms == 1200 && r.ev_len == 11 &&
	   memcmp(b.p + r.ev_off, "{\"k\":[1,2]}", 11) == 0,
	   "a request built by poolproto_request parses back");
	buf_free(&b);

	poolproto_error(&b, FC_ETHROTTLED, "fn: \"throttled\"");
	poolproto_read_error(b.p, b.len, &e);
	is_int(e.code, FC_ETHROTTLED, "an X frame carries its code");
	is_str(e.msg, "fn: \"throttled\"", "and its message");
	buf_free(&b);
	poolproto_read_error("junk", 4, &e);
	is_int(e.code, FC_EVMM, "an unreadable X frame is a VMM failure");
}

static void names(void)
{
	ok(poolproto_name_ok("hello-world_2.v1"), "a good function name");
	ok(!poolproto_name_ok("") && !poolproto_name_ok(".hidden") &&
	   !poolproto_name_ok("a/b") && !poolproto_name_ok("a b"),
	   "bad function names");
	ok(poolproto_id_ok("req-1.a_b:c", 11), "ids of letters, digits and .-_:");
	ok(!poolproto_id_ok("req \xc3\xa9", 6), "no spaces or UTF-8 in ids");
	ok(!poolproto_id_ok("a\"b", 3) && !poolproto_id_ok("a\nb", 3) &&
	   !poolproto_id_ok("", 0), "ids hold no quote or control character");
}

static void handles(void)
{
	struct handle h = { .vmm = "qemu", .pid = 4321,
		.channel = "/tmp/fc-restore.abc/agent.sock",
		.rundir = "/tmp/fc-restore.abc", .snapshot = "/s/fn.snap",
		.function = "fn", .timeout = 3, .memory_mib = 256,
		.started_ns = 1796401794293000000LL, .restore_ms = 98.5 };
	struct handle back;
	struct buf b = { 0 };
	struct fc_err e = { 0 };

	ok(handle_format(&h, &b, &e) == 0, "a handle formats");
	ok(!strchr(b.p, '\n'), "  on one line");
	ok(strstr(b.p, "\"started\":\"2026-12-04T16:29:54Z\"") != NULL,
	   "  with its start in UTC");
	ok(handle_parse(&back, b.p, b.len, "h", &e) == 0 && back.pid == 4321 &&
	   strcmp(back.channel, h.channel) == 0 && back.timeout == 3 &&
	   back.memory_mib == 256 && strcmp(back.function, "fn") == 0,
	   "and parses back");
	handle_free(&back);
	buf_free(&b);

	const char *bad[] = {
		"{\"vmm\":\"qemu\"}",
		"{\"handle\":1,\"vmm\":\"qemu\",\"pid\":5,\"channel\":\"/x/a\","
		"\"rundir\":\"rel\",\"snapshot\":\"/s\"}",
		"{\"handle\":1,\"vmm\":\"qemu\",\"pid\":5,\"channel\":\"/y/a\","
		"\"rundir\":\"/x\",\"snapshot\":\"/s\"}",
		"{\"handle\":1,\"vmm\":\"qemu\",\"pid\":5,\"channel\":\"/x/../a\","
		"\"rundir\":\"/x\",\"snapshot\":\"/s\"}",
		"{\"handle\":1,\"vmm\":\"qemu\",\"pid\":-5,\"channel\":\"/x/a\","
		"\"rundir\":\"/x\",\"snapshot\":\"/s\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ok(handle_parse(&back, bad[i], strlen(bad[i]), "h", &e) < 0 &&
		   e.code == FC_EINPUT, "refuses handle %zu: %s", i, e.msg);
}

int main(void)
{
	requests();
	round_trip();
	names();
	handles();
	return done_testing();
}
