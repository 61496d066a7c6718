/* test_s3sign.c — the S3 backend's requests carry the SigV4 signature that
 * botocore (the AWS SDK's signer) computes for the same request at the
 * same time. s3rver, the S3 server the other tests use, does not check
 * signatures; this test does. A one-shot HTTP listener on 127.0.0.1
 * captures what the backend sends for a PUT (with a session token and a
 * payload hash), a ranged GET and a listing; tests/tools/s3sign.py signs
 * each again with botocore and the two Authorization headers must be
 * equal. Run from the repository's top folder. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "backend_remote.h"
#include "testhelp.h"

#define FIXED_TIME 1795953600 /* 2026-11-29T12:00:00Z */
#define MAXREQ 8

struct captured {
	char head[8192];
	char body[4096];
	size_t body_len;
};

static struct captured reqs[MAXREQ];
static int nreq;
static int listen_fd;

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		for (;;) { /* keep-alive: several requests per connection */
			struct captured *r = &reqs[nreq < MAXREQ ? nreq : MAXREQ - 1];
			size_t got = 0;
			char *end = NULL;
			memset(r, 0, sizeof(*r));
			while (!(end = strstr(r->head, "\r\n\r\n"))) {
				ssize_t n = recv(c, r->head + got, sizeof(r->head) - 1 - got, 0);
				if (n <= 0)
					goto next;
				got += (size_t)n;
			}
			size_t head_len = (size_t)(end - r->head) + 4, extra = got - head_len;
			const char *cl = strcasestr(r->head, "\r\ncontent-length:");
			size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
			memcpy(r->body, r->head + head_len, extra);
			r->body_len = extra;
			while (r->body_len < want) {
				ssize_t n = recv(c, r->body + r->body_len, want - r->body_len, 0);
				if (n <= 0)
					goto next;
				r->body_len += (size_t)n;
			}
			r->head[head_len] = 0;
			nreq++;
			char answer[512];
			if (!strncmp(r->head, "GET /bucket/pre/packs", 21)) {
				snprintf(answer, sizeof(answer), "HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\n\r\n%0100d", 0);
			} else if (!strncmp(r->head, "GET /bucket?", 12)) {
				const char *xml = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
				snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(xml), xml);
			} else {
				snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
			}
			if (send(c, answer, strlen(answer), 0) < 0)
				break;
		}
	next:
		close(c);
	}
}

/* A header's value in a captured request ("" when absent). */
static void header(const struct captured *r, const char *name, char *out, size_t cap)
{
	char key[128];
	snprintf(key, sizeof(key), "\r\n%s:", name);
	const char *p = strcasestr(r->head, key);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(key);
	while (*p == ' ')
		p++;
	const char *e = strstr(p, "\r\n");
	snprintf(out, cap, "%.*s", (int)(e - p), p);
}

/* Signs the captured request again with botocore; true when it agrees. */
static bool same_signature(const struct captured *r, int port)
{
	char method[16], path[2048], auth[1024], signed_hdrs[512], url[2200], cmd[16384], ref[1024] = "";
	sscanf(r->head, "%15s %2047s", method, path);
	header(r, "Authorization", auth, sizeof(auth));
	const char *sh = strstr(auth, "SignedHeaders=");
	if (!sh)
		return false;
	sscanf(sh + 14, "%511[^,]", signed_hdrs);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	char body_file[] = "/tmp/lifeboat-s3sign-XXXXXX";
	int fd = mkstemp(body_file);
	if (fd < 0 || write(fd, r->body, r->body_len) != (ssize_t)r->body_len)
		return false;
	close(fd);
	char date[64];
	header(r, "x-amz-date", date, sizeof(date));
	date[16] = 0; /* libcurl repeats the header; one value */
	size_t o = (size_t)snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/tools/s3sign.py %s '%s' eu-west-1 AKIDEXAMPLE "
				    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY SESSIONTOKEN %s %s", method, url, date, body_file);
	for (char *h = strtok(signed_hdrs, ";"); h; h = strtok(NULL, ";")) {
		if (!strcmp(h, "host") || !strcmp(h, "x-amz-date") || !strcmp(h, "x-amz-security-token"))
			continue;
		char v[512];
		header(r, h, v, sizeof(v));
		o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, " '%s:%s'", h, v);
	}
	FILE *p = popen(cmd, "r");
	if (p) {
		if (!fgets(ref, sizeof(ref), p))
			ref[0] = 0;
		pclose(p);
	}
	unlink(body_file);
	ref[strcspn(ref, "\n")] = 0;
	if (strcmp(ref, auth))
		printf("# ours:      %s\n# reference: %s\n", auth, ref);
	return ref[0] && !strcmp(ref, auth);
}

static int count(void *ctx, const char *name, uint64_t size)
{
	(void)name;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(listen_fd, 4) ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &alen)) {
		perror("listen");
		return 1;
	}
	int port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, serve, NULL);
	char endpoint[64];
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_SESSION_TOKEN", "SESSIONTOKEN", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL", endpoint, 1);
	setenv("LIFEBOAT_RETRIES", "1", 1);

	eng_backend *b;
	eng_err err;
	int rc = eng_backend_open("s3://bucket/pre", false, &b, &err);
	CHECK(rc == ENG_OK, "an s3:// store opens with the AWS_* variables");
	if (rc)
		return TEST_DONE();
	eng_s3_fix_time(b, FIXED_TIME);
	uint8_t buf[100];
	int n = 0;
	CHECK(eng_be_put(b, "index/0123abcd", "hello, store", 12, &err) == ENG_OK, "PUT of an object");
	CHECK(eng_be_get(b, "packs/ab/abcd", 1000, buf, sizeof(buf), &err) == ENG_OK, "ranged GET of a pack");
	CHECK(eng_be_list(b, "points", count, &n, &err) == ENG_OK, "a listing");
	eng_backend_close(b);
	CHECK(nreq == 3, "three requests reached the listener");
	CHECK(strstr(reqs[0].head, "PUT /bucket/pre/index/0123abcd ") != NULL, "the PUT names the object under the prefix");
	CHECK(strcasestr(reqs[0].head, "x-amz-security-token: SESSIONTOKEN") != NULL, "the session token is sent");
	CHECK(strcasestr(reqs[1].head, "range: bytes=1000-1099") != NULL, "the GET asks for the byte range");
	for (int i = 0; i < nreq && i < 3; i++) {
		char what[64];
		snprintf(what, sizeof(what), "request %d is signed as botocore signs it", i + 1);
		CHECK(same_signature(&reqs[i], port), what);
	}
	close(listen_fd);
	return TEST_DONE();
}
