/* qmp.c - a minimal QEMU Machine Protocol client: one command at a time */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "qmp.h"
#include "sock.h"
#include "util.h"

/* Read one line (without the newline) into line; lines are small. */
static int read_line(int fd, int64_t deadline, struct buf *line,
		     struct fc_err *e)
{
	char c;

	line->len = 0;
	for (;;) {
		if (wait_readable(fd, -1, deadline) != 1)
			return fc_errf(e, FC_ETIMEOUT, "QMP: no answer in time");
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fc_errnof(e, FC_EVMM, "QMP");
		if (r == 0)
			return fc_errf(e, FC_EVMM, "QMP: QEMU closed the connection");
		if (c == '\n')
			break;
		if (line->len > (1 << 20) || buf_add(line, &c, 1) < 0)
			return fc_errf(e, FC_EVMM, "QMP: reply too long");
	}
	return buf_add(line, "", 1) < 0 ? -1 : 0;
}

/* A QMP error reply's description, or the raw line. */
static int qmp_error(struct buf *line, struct fc_err *e)
{
	struct json_doc d;
	struct fc_err ignore;
	char *desc = NULL;

	if (json_parse(&d, line->p, strlen(line->p), "QMP", &ignore) == 0) {
		int err = json_get(&d, 0, "error");
		int i = err >= 0 ? json_get(&d, err, "desc") : -1;
		desc = i >= 0 ? json_str(&d, i) : NULL;
		json_free(&d);
	}
	fc_errf(e, FC_EVMM, "QEMU: %s", desc ? desc : line->p);
	free(desc);
	return -1;
}

int qmp_cmd(int fd, const char *cmd, int64_t deadline, struct buf *reply,
	    struct fc_err *e)
{
	struct buf line = { 0 };
	int rc = -1;

	if (write_all(fd, cmd, strlen(cmd)) < 0 || write_all(fd, "\n", 1) < 0)
		return fc_errnof(e, FC_EVMM, "QMP");
	while (read_line(fd, deadline, &line, e) == 0) {
		if (strncmp(line.p, "{\"return\"", 9) == 0) {
			rc = 0;
			if (reply) {
				reply->len = 0;
				buf_puts(reply, line.p);
			}
			break;
		}
		if (strncmp(line.p, "{\"error\"", 8) == 0) {
			qmp_error(&line, e);
			break;
		}
		/* an event or the greeting: skip */
	}
	buf_free(&line);
	return rc;
}

int qmp_open(const char *path, int watch_fd, int64_t deadline,
	     struct fc_err *e)
{
	struct buf line = { 0 };
	int fd = unix_connect(path, watch_fd, deadline, e);

	if (fd < 0)
		return -1;
	if (read_line(fd, deadline, &line, e) < 0 ||
	    strncmp(line.p, "{\"QMP\"", 6) != 0 ||
	    qmp_cmd(fd, "{\"execute\":\"qmp_capabilities\"}", deadline, NULL, e) < 0) {
		if (line.p && strncmp(line.p, "{\"QMP\"", 6) != 0)
			fc_errf(e, FC_EVMM, "%s: not a QMP socket", path);
		buf_free(&line);
		close(fd);
		return -1;
	}
	buf_free(&line);
	return fd;
}
