/* http.c — HTTP requests for the object-store backends. See http.h. */
#include "http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bytes.h"
#include "err.h"

#define ANSWER_DEFAULT_MAX (64u << 20)

struct eng_http {
	CURL *curl;
	eng_http_pool *pool;
	eng_http *next;             /* in the pool's free list */
	const eng_http_req *req;    /* the request under way */
	uint64_t sent;              /* body bytes handed to curl */
	size_t got;                 /* answer bytes received */
	bool overflow;
	bool has_length;            /* the answer said how long its body is */
	uint8_t *buf;               /* the kept answer */
	size_t cap;
	eng_http_resp *resp;
	char curl_err[CURL_ERROR_SIZE];
};

struct eng_http_pool {
	pthread_mutex_t mu;
	eng_http *free;
	const volatile int *const *cancel;
	long stall, connect;
	char *ca_file;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

eng_http_pool *eng_http_pool_new(const volatile int *const *cancel)
{
	pthread_once(&global_once, global_init);
	eng_http_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->cancel = cancel;
	p->stall = 30;
	p->connect = 10;
	const char *t = getenv("LIFEBOAT_IO_TIMEOUT");
	if (t && atol(t) > 0)
		p->stall = atol(t);
	return p;
}

void eng_http_pool_timeouts(eng_http_pool *p, long stall_seconds, long connect_seconds)
{
	if (stall_seconds > 0)
		p->stall = stall_seconds;
	if (connect_seconds > 0)
		p->connect = connect_seconds;
}

int eng_http_pool_ca(eng_http_pool *p, const char *ca_file)
{
	free(p->ca_file);
	p->ca_file = ca_file ? strdup(ca_file) : NULL;
	return !ca_file || p->ca_file ? 0 : -1;
}

void eng_http_pool_free(eng_http_pool *p)
{
	if (!p)
		return;
	free(p->ca_file);
	while (p->free) {
		eng_http *h = p->free;
		p->free = h->next;
		curl_easy_cleanup(h->curl);
		free(h->buf);
		free(h);
	}
	pthread_mutex_destroy(&p->mu);
	free(p);
}

eng_http *eng_http_get(eng_http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	eng_http *h = p->free;
	if (h)
		p->free = h->next;
	pthread_mutex_unlock(&p->mu);
	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (h && !(h->curl = curl_easy_init())) {
		free(h);
		return NULL;
	}
	if (h)
		h->pool = p;
	return h;
}

CURL *eng_http_curl(eng_http *h)
{
	return h->curl;
}

long eng_http_stall_seconds(const eng_http_pool *p)
{
	return p->stall;
}

void eng_http_put(eng_http_pool *p, eng_http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&p->mu);
	h->next = p->free;
	p->free = h;
	pthread_mutex_unlock(&p->mu);
}

static size_t on_read(char *dst, size_t size, size_t n, void *ctx)
{
	eng_http *h = ctx;
	const eng_http_req *r = h->req;
	size_t want = size * n, left = (size_t)(r->body_len - h->sent);
	if (want > left)
		want = left;
	if (!want)
		return 0;
	if (r->body) {
		memcpy(dst, (const uint8_t *)r->body + h->sent, want);
	} else {
		ssize_t got = pread(r->body_fd, dst, want, (off_t)(r->body_off + h->sent));
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	h->sent += want;
	return want;
}

static int on_seek(void *ctx, curl_off_t off, int origin)
{
	eng_http *h = ctx;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > h->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	h->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *src, size_t size, size_t n, void *ctx)
{
	eng_http *h = ctx;
	const eng_http_req *r = h->req;
	size_t len = size * n;
	if (r->into) {
		if (h->got + len > r->into_len) {
			h->overflow = true;
			return 0;
		}
		memcpy((uint8_t *)r->into + h->got, src, len);
		h->got += len;
		return len;
	}
	size_t max = r->max_answer ? r->max_answer : ANSWER_DEFAULT_MAX;
	if (h->got + len > max) {
		h->overflow = true;
		return 0;
	}
	if (!eng_reserve(&h->buf, &h->cap, h->got + len + 1, 16384))
		return 0;
	memcpy(h->buf + h->got, src, len);
	h->got += len;
	return len;
}

/* Copies a header's value (trimmed) into out when its name matches. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && isspace((unsigned char)*v))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	size_t vl = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
	memcpy(out, v, vl);
	out[vl] = 0;
	return true;
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
	eng_http *h = ctx;
	size_t len = size * n;
	char num[32];
	header_value(line, len, "ETag", h->resp->etag, sizeof(h->resp->etag));
	header_value(line, len, "x-ms-error-code", h->resp->error_code, sizeof(h->resp->error_code));
	if (header_value(line, len, "Content-Length", num, sizeof(num))) {
		h->resp->content_length = strtoull(num, NULL, 10);
		h->has_length = true;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a; (void)b; (void)c; (void)d;
	const volatile int *const *cancel = ctx;
	return cancel && *cancel && **cancel;
}

/* The <Code> of an S3 error document, when there is one. */
static void s3_error_code(eng_http_resp *resp)
{
	if (resp->error_code[0] || !resp->body)
		return;
	const char *a = strstr((const char *)resp->body, "<Code>");
	const char *b = a ? strstr(a, "</Code>") : NULL;
	if (a && b && b - a - 6 < (long)sizeof(resp->error_code)) {
		memcpy(resp->error_code, a + 6, (size_t)(b - a - 6));
		resp->error_code[b - a - 6] = 0;
	}
}

static int classify_curl(CURLcode c)
{
	switch (c) {
	case CURLE_ABORTED_BY_CALLBACK: return ENG_ECANCEL;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_LOGIN_DENIED:
		return ENG_EINPUT;
	case CURLE_OUT_OF_MEMORY: return ENG_ENOMEM;
	default: return ENG_EAGAIN; /* connect failures, resets, timeouts, cut answers */
	}
}

static int classify_status(long status)
{
	if (status == 404)
		return ENG_ENOTFOUND;
	if (status == 401 || status == 403)
		return ENG_EKEY;
	if (status == 408 || status == 429 || status >= 500)
		return ENG_EAGAIN;
	if (status == 409 || status == 412)
		return ENG_EEXIST;
	return ENG_EIO;
}

int eng_http_do(eng_http *h, const eng_http_req *r, eng_http_resp *resp, eng_err *err)
{
	CURL *c = h->curl;
	memset(resp, 0, sizeof(*resp));
	h->req = r;
	h->sent = 0;
	h->got = 0;
	h->overflow = false;
	h->has_length = false;
	h->resp = resp;
	h->curl_err[0] = 0;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (h->pool->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->pool->ca_file);
	if (r->aws_sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, r->aws_sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
	}
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (r->body || r->body_fd > 0 || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, h);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, h);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(r->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	}
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)h->pool->cancel);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->pool->connect);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->pool->stall);

	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!r->into && h->buf) {
		h->buf[h->got] = 0;
		resp->body = h->buf;
		resp->len = h->got;
	}
	const char *what = r->what ? r->what : r->url;
	if (cc == CURLE_WRITE_ERROR && h->overflow)
		return eng_fail(err, ENG_ECORRUPT, "%s %s: the answer is larger than expected", r->method, what);
	if (cc != CURLE_OK) {
		int st = classify_curl(cc);
		if (st == ENG_ECANCEL)
			return eng_fail(err, ENG_ECANCEL, "interrupted");
		return eng_fail(err, st, "%s %s: %s", r->method, what, h->curl_err[0] ? h->curl_err : curl_easy_strerror(cc));
	}
	if (resp->status < 200 || resp->status > 299) {
		s3_error_code(resp);
		return eng_fail(err, classify_status(resp->status), "%s %s: HTTP %ld%s%s", r->method, what, resp->status,
				resp->error_code[0] ? " " : "", resp->error_code);
	}
	/* an answer cut inside its headers can look complete to libcurl */
	if (!strcmp(r->method, "HEAD") && !h->has_length)
		return eng_fail(err, ENG_EAGAIN, "HEAD %s: the answer has no Content-Length (cut short?)", what);
	if (!r->into && h->has_length && h->got != resp->content_length && strcmp(r->method, "HEAD"))
		return eng_fail(err, ENG_EAGAIN, "%s %s: the answer was cut short (%zu of %llu bytes)", r->method, what,
				h->got, (unsigned long long)resp->content_length);
	if (r->into && h->got != r->into_len && strcmp(r->method, "HEAD"))
		return eng_fail(err, ENG_EAGAIN, "%s %s: the answer was cut short (%zu of %zu bytes)", r->method, what,
				h->got, r->into_len);
	return ENG_OK;
}

bool eng_url_escape(const char *s, bool keep_slash, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
		if (o + (plain ? 1 : 3) >= cap)
			return false;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
	return true;
}

struct curl_slist *eng_http_header(struct curl_slist *l, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct curl_slist *n = curl_slist_append(l, line);
	if (!n)
		curl_slist_free_all(l);
	return n;
}
