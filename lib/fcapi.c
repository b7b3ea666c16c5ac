/* fcapi.c - a client for Firecracker's REST API on its Unix socket (libcurl) */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fcapi.h"
#include "json.h"

/* Replies are small JSON objects; anything bigger is not Firecracker. */
#define REPLY_MAX (1u << 20)

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	n *= size;
	if (b->len + n > REPLY_MAX || buf_add(b, p, n) < 0)
		return 0;	/* curl then fails with a write error */
	return n;
}

/* curl_global_init once, before any thread's first handle. */
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_NOTHING);
}

int fcapi_open(struct fcapi *a, const char *path, struct fc_err *e)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct curl_slist *h = NULL, *next;
	CURL *c;

	pthread_once(&once, curl_init);
	memset(a, 0, sizeof(*a));
	a->sock = strdup(path);
	c = a->curl = curl_easy_init();
	if (!a->sock || !c) {
		fcapi_close(a);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	/* "Expect:" (empty) saves curl's 100-continue round trip. */
	static const char *const hdrs[] = {
		"Content-Type: application/json", "Accept: application/json",
		"Expect:",
	};
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(*hdrs); i++) {
		next = curl_slist_append(h, hdrs[i]);
		if (!next) {
			curl_slist_free_all(h);
			fcapi_close(a);
			return fc_errf(e, FC_EVMM, "out of memory");
		}
		h = next;
	}
	a->headers = h;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, a->sock);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* http_proxy in the environment must not reroute a local socket. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	return 0;
}

void fcapi_close(struct fcapi *a)
{
	if (a->curl)
		curl_easy_cleanup(a->curl);
	curl_slist_free_all(a->headers);
	free(a->sock);
	a->curl = a->headers = NULL;
	a->sock = NULL;
}

/* Copy n bytes of s into out[size] on one line, trimmed. */
static void one_line(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	for (size_t i = 0; i < n && o + 1 < size; i++)
		out[o++] = (unsigned char)s[i] < ' ' ? ' ' : s[i];
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = 0;
}

/*
 * The string value of "key" in text that may not be valid JSON (the HTTP
 * layer's error text embeds a raw newline). 0 if found.
 */
static int loose_string(const char *s, size_t n, const char *key, char *out,
			size_t size)
{
	const char *end = s + n, *p = memmem(s, n, key, strlen(key));
	size_t o = 0;

	if (!p)
		return -1;
	p += strlen(key);
	while (p < end && (*p == ' ' || *p == ':' || *p == '\t'))
		p++;
	if (p >= end || *p != '"')
		return -1;
	for (p++; p < end && *p != '"' && o + 1 < size; p++) {
		char c = *p;
		if (c == '\\' && p + 1 < end) {
			c = *++p;
			if (c == 'n' || c == 't' || c == 'r')
				c = ' ';
		}
		out[o++] = (unsigned char)c < ' ' ? ' ' : c;
	}
	out[o] = 0;
	one_line(out, o, out, size);
	return 0;
}

void fcapi_fault_text(const char *body, size_t n, char *out, size_t size)
{
	static const char *const keys[] = { "fault_message", "error" };
	struct json_doc d;
	struct fc_err ignore;

	out[0] = 0;
	if (json_parse(&d, body, n, "reply", &ignore) == 0) {
		for (size_t k = 0; k < 2 && d.tok[0].type == JSMN_OBJECT; k++) {
			int i = json_get(&d, 0, keys[k]);
			char *s = i >= 0 ? json_str(&d, i) : NULL;
			if (s) {
				one_line(s, strlen(s), out, size);
				free(s);
				json_free(&d);
				return;
			}
		}
		json_free(&d);
	}
	if (loose_string(body, n, "\"fault_message\"", out, size) == 0 ||
	    loose_string(body, n, "\"error\"", out, size) == 0)
		return;
	one_line(body, n, out, size);
}

/* Set up the handle for one request. */
static void set_request(CURL *c, const char *method, const char *body)
{
	if (!body && strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
		return;
	}
	/* POSTFIELDS + SIZE: a Content-Length body, never chunked. */
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
			 (long)(body ? strlen(body) : 0));
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* Turn a failed transfer into an error naming the request. */
static int transfer_error(struct fcapi *a, CURLcode rc, const char *method,
			  const char *path, long timeout_ms, struct fc_err *e)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return fc_errf(e, FC_ETIMEOUT, "%s %s: no reply within %.1f s",
			       method, path, timeout_ms / 1000.0);
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(a->curl, CURLINFO_OS_ERRNO, &os_errno);
		errno = os_errno ? (int)os_errno : ECONNREFUSED;
		return fc_errnof(e, FC_EVMM, "%s %s: cannot connect to %s",
				 method, path, a->sock);
	case CURLE_GOT_NOTHING:
		return fc_errf(e, FC_EVMM, "%s %s: the API socket closed "
			       "without a reply", method, path);
	default:
		return fc_errf(e, FC_EVMM, "%s %s: %s", method, path,
			       a->errbuf[0] ? a->errbuf :
			       curl_easy_strerror(rc));
	}
}

int fcapi_call(struct fcapi *a, const char *method, const char *path,
	       const char *body, long timeout_ms, struct buf *reply,
	       struct fc_err *e)
{
	struct buf got = { 0 };
	char url[1100], why[512];
	long status = 0;
	CURLcode rc;

	if (strlen(path) > 1000)
		return fc_errf(e, FC_EVMM, "%s: path too long", method);
	if (timeout_ms <= 0)
		return fc_errf(e, FC_ETIMEOUT, "%s %s: out of time before "
			       "sending", method, path);
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	set_request(a->curl, method, body);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, &got);
	a->errbuf[0] = 0;
	a->status = 0;
	rc = curl_easy_perform(a->curl);
	if (rc != CURLE_OK) {
		buf_free(&got);
		return transfer_error(a, rc, method, path, timeout_ms, e);
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	a->status = status;
	if (status >= 200 && status < 300) {
		if (reply && got.len)
			buf_add(reply, got.p, got.len);
		buf_free(&got);
		return 0;
	}
	fcapi_fault_text(got.p ? got.p : "", got.len, why, sizeof(why));
	buf_free(&got);
	if (!why[0])
		return fc_errf(e, FC_EVMM, "%s %s: HTTP status %ld without a "
			       "message", method, path, status);
	return fc_errf(e, FC_EVMM, "%s %s: %s", method, path, why);
}
