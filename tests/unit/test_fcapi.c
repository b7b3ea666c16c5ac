/* test_fcapi.c - the Firecracker API client (lib/fcapi.c) against a scripted server */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "fcapi.h"
#include "json.h"
#include "tap.h"
#include "util.h"

/* What the server answers, request by request; NULL: never answer. */
static const char *const replies[] = {
	"HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.1 400 \r\nConnection: keep-alive\r\nContent-Type: application/json\r\n"
	"Content-Length: 44\r\n\r\n{\"fault_message\":\"The kernel file is gone.\"}",
	"HTTP/1.1 200 \r\nConnection: keep-alive\r\nContent-Length: 32\r\n\r\n"
	"{\"firecracker_version\":\"1.16.1\"}",
	"HTTP/1.1 400 \r\nConnection: keep-alive\r\nContent-Length: 70\r\n\r\n"
	"{ \"error\": \"Invalid request.\nAll previous requests will be dropped.\" }",
	NULL,
};

static void test_fault_text(void)
{
	char out[64];

	fcapi_fault_text("{\"fault_message\":\"bad \\\"x\\\"\\nthing\"}", 35, out, sizeof(out));
	is_str(out, "bad \"x\" thing", "fault_message, escapes decoded, one line");
	fcapi_fault_text("{\"error\":\"too many\"}", 20, out, sizeof(out));
	is_str(out, "too many", "the HTTP layer's error key");
	fcapi_fault_text("{ \"error\": \"Bad.\nMore.\" }", 25, out, sizeof(out));
	is_str(out, "Bad. More.", "an error text with a raw newline (not JSON)");
	fcapi_fault_text("  plain text\r\n", 14, out, sizeof(out));
	is_str(out, "plain text", "any other body, trimmed");
	fcapi_fault_text("", 0, out, sizeof(out));
	is_str(out, "", "an empty body");
	fcapi_fault_text("{\"fault_message\":\"0123456789\"}", 30, out, 6);
	is_str(out, "01234", "cut to the buffer");
}

/* Read one request (headers and Content-Length body) into the log. */
static int serve_one(int c, int log, const char *reply)
{
	char buf[8192];
	size_t have = 0;
	char *end = NULL, *cl;

	while (!end) {
		ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	cl = strstr(buf, "Content-Length: ");
	size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
	while (have < want) {
		ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	write_all(log, buf, have);
	write_all(log, "\n--\n", 4);
	if (!reply)
		pause();
	return write_all(c, reply, strlen(reply));
}

static pid_t server(int lfd, int log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int c = accept(lfd, NULL, NULL);
		for (size_t i = 0; i < sizeof(replies) / sizeof(*replies); i++)
			if (serve_one(c, log, replies[i]) < 0)
				_exit(1);
		_exit(0);
	}
	return pid;
}

static void test_calls(void)
{
	char dir[] = "/tmp/test_fcapi.XXXXXX", sock[64], logp[64], *log = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fc_err e = { 0 };
	struct buf reply = { 0 };
	struct fcapi a;
	size_t n;
	int lfd, logfd;
	int64_t t0;
	pid_t pid;

	if (!mkdtemp(dir))
		return;
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	strcpy(sa.sun_path, sock);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ok(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0,
	   "a server on %s", sock);
	pid = server(lfd, logfd);

	is_int(fcapi_open(&a, sock, &e), 0, "open");
	t0 = now_ns();
	is_int(fcapi_call(&a, "PUT", "/machine-config",
			  "{\"vcpu_count\":1,\"mem_size_mib\":128}", 3000, NULL, &e), 0,
	       "a 204 without Content-Length is success");
	ok(now_ns() - t0 < 1000000000LL, "and it does not wait for the connection to close");
	is_int(fcapi_call(&a, "PUT", "/boot-source", "{\"kernel_image_path\":\"x\"}",
			  3000, NULL, &e), -1, "a 400 is a failure");
	is_str(e.msg, "PUT /boot-source: The kernel file is gone.", "with the fault_message");
	is_int(e.code, FC_EVMM, "FC_EVMM");
	is_int(a.status, 400, "the status is kept");
	is_int(fcapi_call(&a, "GET", "/version", NULL, 3000, &reply, &e), 0, "a GET");
	is_str(reply.p, "{\"firecracker_version\":\"1.16.1\"}", "its body");
	is_int(fcapi_call(&a, "PATCH", "/vm", "{\"state\":\"Paused\"}", 3000, NULL, &e),
	       -1, "the HTTP layer's 400");
	is_str(e.msg, "PATCH /vm: Invalid request. All previous requests will be dropped.",
	       "its error text on one line");
	t0 = now_ns();
	is_int(fcapi_call(&a, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
			  300, NULL, &e), -1, "no answer");
	is_int(e.code, FC_ETIMEOUT, "is a time-out");
	is_str(e.msg, "PUT /actions: no reply within 0.3 s", "saying how long it waited");
	ok(now_ns() - t0 < 2000000000LL, "after about that long");
	fcapi_close(&a);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (read_file(logp, 1 << 20, &log, &n, &e) == 0) {
		ok(strncmp(log, "PUT /machine-config HTTP/1.1\r\n", 30) == 0, "the request line");
		ok(strstr(log, "\r\nContent-Length: 35\r\n") != NULL, "a Content-Length body");
		ok(strstr(log, "\r\nContent-Type: application/json\r\n") != NULL, "JSON");
		ok(!strstr(log, "Transfer-Encoding") && !strstr(log, "Expect:"),
		   "neither chunked nor 100-continue");
		ok(strstr(log, "\r\n\r\n{\"vcpu_count\":1,\"mem_size_mib\":128}\n--\n") != NULL,
		   "the body as given");
		const char *get = strstr(log, "GET /version HTTP/1.1\r\n");
		const char *next = get ? strstr(get, "\n--\n") : NULL;
		ok(next && !memmem(get, (size_t)(next - get), "Content-Length", 14),
		   "a GET without a body");
	}
	free(log);
	buf_free(&reply);
	close(lfd);
	close(logfd);
	rmtree(dir);
}

static void test_no_server(void)
{
	struct fc_err e = { 0 };
	struct fcapi a;

	fcapi_open(&a, "/nonexistent/api.sock", &e);
	is_int(fcapi_call(&a, "PUT", "/vm", "{}", 1000, NULL, &e), -1, "no socket");
	is_str(e.msg, "PUT /vm: cannot connect to /nonexistent/api.sock: No such file or directory",
	       "says so");
	is_int(a.status, 0, "no status");
	fcapi_close(&a);
	fcapi_close(&a);
	ok(1, "closing twice is fine");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_fault_text();
	test_calls();
	test_no_server();
	return done_testing();
}
