/* http.h — one HTTP request over libcurl, for the object-store backends.
 * A pool hands each calling thread its own curl handle, so connections are
 * kept alive between requests without locks around transfers. Failures
 * come back classified: ENG_EAGAIN for what trying again may cure
 * (connection errors, timeouts, a cut answer, 408, 429, 5xx),
 * ENG_ENOTFOUND for 404, ENG_EKEY for 401/403, ENG_ECANCEL when the
 * caller's flag was raised, ENG_EIO otherwise; the message names the
 * request and the server's own error code when it sent one. */
#ifndef ENG_HTTP_H
#define ENG_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifeboat_engine.h"

typedef struct eng_http_pool eng_http_pool;
typedef struct eng_http eng_http;

typedef struct eng_http_req {
	const char *method;            /* GET, HEAD, PUT, POST, DELETE */
	const char *url;
	const char *what;              /* the object, for messages */
	struct curl_slist *headers;    /* borrowed */
	const void *body;              /* request body from memory ... */
	int body_fd;                   /* ... or body_len bytes of a file at body_off (body NULL, fd >= 0) */
	uint64_t body_off;
	size_t body_len;
	void *into;                    /* GET: exactly into_len bytes of answer go here */
	size_t into_len;
	size_t max_answer;             /* otherwise: the answer is kept in memory, up to this (0: 64 MiB) */
	const char *aws_sigv4;         /* CURLOPT_AWS_SIGV4 provider, with userpwd "KEY:SECRET" */
	const char *userpwd;
} eng_http_req;

typedef struct eng_http_resp {
	long status;
	const uint8_t *body;           /* the kept answer (NUL-terminated), valid until the next request */
	size_t len;
	char etag[128];
	char error_code[96];           /* x-ms-error-code, or the <Code> of an S3 error body */
	uint64_t content_length;
} eng_http_resp;

/* A pool for one backend; *cancel (when cancel and *cancel are not NULL)
 * is the running operation's cancel flag, which stops transfers. */
eng_http_pool *eng_http_pool_new(const volatile int *const *cancel);
void eng_http_pool_free(eng_http_pool *p);
/* Seconds without progress after which a transfer is given up (default 30,
 * LIFEBOAT_IO_TIMEOUT overrides), and the connect timeout. */
void eng_http_pool_timeouts(eng_http_pool *p, long stall_seconds, long connect_seconds);

/* Trust the CA certificates in this file instead of the system's (may be NULL). */
int eng_http_pool_ca(eng_http_pool *p, const char *ca_file);

eng_http *eng_http_get(eng_http_pool *p);
/* The handle's curl easy handle, for protocols other than HTTP (SFTP). */
CURL *eng_http_curl(eng_http *h);
long eng_http_stall_seconds(const eng_http_pool *p);
void eng_http_put(eng_http_pool *p, eng_http *h);

/* Runs a request. 2xx is success; any other status is a failure classified
 * as above, with resp filled so callers can look at the status. */
int eng_http_do(eng_http *h, const eng_http_req *r, eng_http_resp *resp, eng_err *err);

/* URL-escapes s (keeping '/' when keep_slash) into out (cap bytes); false when it does not fit. */
bool eng_url_escape(const char *s, bool keep_slash, char *out, size_t cap);

/* A header list; NULL when out of memory (the old list is freed then). */
struct curl_slist *eng_http_header(struct curl_slist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
