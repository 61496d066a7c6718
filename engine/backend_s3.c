/* backend_s3.c — a store in an S3 bucket (AWS or an S3-compatible server).
 *
 * Configured the way the AWS CLI is: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or
 * AWS_DEFAULT_REGION; default us-east-1) and AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL for S3-compatible servers, which are addressed
 * path-style (ENDPOINT/BUCKET/KEY), and AWS_CA_BUNDLE for a server whose
 * certificate a private CA signed; AWS itself is addressed virtual-hosted
 * (https://BUCKET.s3.REGION.amazonaws.com/KEY). Requests are signed by
 * libcurl (SigV4) with the payload's SHA-256, which S3 checks (packs sent
 * over https are signed UNSIGNED-PAYLOAD: TLS guards them). A PUT of
 * one object is atomic in S3, so objects need no temporary names; objects
 * larger than MULTIPART_OVER go up as multipart uploads, and interrupted
 * ones are aborted by clean(). */
#include <cJSON.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_remote.h"
#include "bytes.h"
#include "err.h"
#include "http.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MULTIPART_OVER (64u << 20)
#define PART_SIZE (16u << 20)

typedef struct s3_backend {
	eng_backend base;
	eng_http_pool *pool;
	char *bucket_url;   /* .../BUCKET, no slash at the end */
	char *prefix;       /* "" or "a/b/" */
	char sigv4[96];
	char *userpwd;      /* KEY:SECRET */
	char *token;
	char region[64];
	time_t fixed_time;  /* tests: sign as if it were this time */
	bool https;         /* TLS protects what goes over the wire */
} s3_backend;

static void hex32(const uint8_t *d, char out[65])
{
	eng_hex(d, 32, out);
}

/* The SHA-256 of len bytes of a file at off, in hex. */
static int sha256_fd(int fd, uint64_t start, uint64_t len, char out[65], eng_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(1 << 20), d[32];
	int rc = !ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? eng_fail(err, ENG_ENOMEM, "out of memory")
									      : ENG_OK;
	for (uint64_t off = 0; !rc && off < len;) {
		size_t want = len - off < (1 << 20) ? (size_t)(len - off) : (1 << 20);
		ssize_t got = pread(fd, buf, want, (off_t)(start + off));
		if (got <= 0)
			rc = eng_fail_errno(err, "cannot read a spool file");
		else
			EVP_DigestUpdate(ctx, buf, (size_t)got), off += (uint64_t)got;
	}
	if (!rc) {
		EVP_DigestFinal_ex(ctx, d, NULL);
		hex32(d, out);
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* The payload hash a file's upload is signed with: over https TLS already
 * guards the bytes in transit (and every blob in a pack is authenticated
 * on reading), so a second pass over a pack only to hash it is spared. */
static int file_payload_hash(s3_backend *b, int fd, uint64_t off, uint64_t len, char out[65], eng_err *err)
{
	if (b->https) {
		strcpy(out, "UNSIGNED-PAYLOAD");
		return ENG_OK;
	}
	return sha256_fd(fd, off, len, out, err);
}

/* The URL of an object (name relative to the store), or of the bucket when name is NULL. */
static int object_url(s3_backend *b, const char *name, const char *query, char *out, size_t cap, eng_err *err)
{
	char key[2048], esc[6144];
	if (snprintf(key, sizeof(key), "%s%s", b->prefix, name ? name : "") >= (int)sizeof(key) ||
	    !eng_url_escape(key, true, esc, sizeof(esc)) ||
	    snprintf(out, cap, "%s/%s%s%s", b->bucket_url, esc, query ? "?" : "", query ? query : "") >= (int)cap)
		return eng_fail(err, ENG_EINPUT, "object name too long: %s", name ? name : "");
	return ENG_OK;
}

/* Headers every request carries: payload hash, token. libcurl adds the
 * date it signs with, or takes ours when a test fixed the time. */
static struct curl_slist *base_headers(s3_backend *b, const char *payload_sha)
{
	struct curl_slist *h = eng_http_header(NULL, "x-amz-content-sha256: %s", payload_sha);
	if (h && b->fixed_time) {
		char date[32];
		struct tm tm;
		gmtime_r(&b->fixed_time, &tm);
		strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
		h = eng_http_header(h, "x-amz-date: %s", date);
	}
	if (h && b->token)
		h = eng_http_header(h, "x-amz-security-token: %s", b->token);
	/* no "Expect:" to turn 100-continue off: libcurl would sign it though
	 * it sends no such header, and S3 would refuse the signature */
	return h;
}

/* One request; extra headers are added after the base ones. */
static int request(s3_backend *b, eng_http_req *r, const char *payload_sha, struct curl_slist *extra,
		   eng_http_resp *resp, eng_http **keep, eng_err *err)
{
	struct curl_slist *h = base_headers(b, payload_sha);
	for (struct curl_slist *e = extra; h && e; e = e->next)
		h = eng_http_header(h, "%s", e->data);
	eng_http *c = eng_http_get(b->pool);
	if (!h || !c) {
		curl_slist_free_all(h);
		eng_http_put(b->pool, c);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	r->headers = h;
	r->aws_sigv4 = b->sigv4;
	r->userpwd = b->userpwd;
	int rc = eng_http_do(c, r, resp, err);
	curl_slist_free_all(h);
	if (rc == ENG_EKEY)
		rc = eng_fail(err, ENG_EKEY, "%s: access denied (HTTP %ld %s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
			      b->base.where, resp->status, resp->error_code);
	else if (rc == ENG_ENOTFOUND && !strcmp(resp->error_code, "NoSuchBucket"))
		rc = eng_fail(err, ENG_EFORMAT, "%s: no such bucket (create the store with 'lifeboat store init')", b->base.where);
	if (keep && !rc)
		*keep = c; /* the caller reads the answer, then gives the handle back */
	else
		eng_http_put(b->pool, c);
	return rc;
}

static int s3_put(eng_backend *base, const char *name, const void *data, size_t len, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char url[8192], sha[65];
	uint8_t d[32];
	int rc = object_url(b, name, NULL, url, sizeof(url), err);
	if (rc)
		return rc;
	EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
	hex32(d, sha);
	eng_http_req r = { .method = "PUT", .url = url, .what = name, .body = data, .body_len = len, .body_fd = -1 };
	eng_http_resp resp;
	return request(b, &r, sha, NULL, &resp, NULL, err);
}

/* The text of the first element called tag under node (depth first), or NULL. */
static const xmlNode *find(const xmlNode *n, const char *tag)
{
	for (; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, tag))
			return n;
		const xmlNode *c = find(n->children, tag);
		if (c)
			return c;
	}
	return NULL;
}

static void node_text(const xmlNode *n, char *out, size_t cap)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	snprintf(out, cap, "%s", t ? (const char *)t : "");
	xmlFree(t);
}

static int multipart(s3_backend *b, const char *name, int fd, uint64_t len, eng_err *err)
{
	char url[8192], query[4096], id[1024] = "", sha[65];
	eng_http_resp resp;
	eng_http *c = NULL;
	int rc = object_url(b, name, "uploads", url, sizeof(url), err);
	eng_http_req r = { .method = "POST", .url = url, .what = name, .body_fd = -1, .body = "", .body_len = 0 };
	if (!rc)
		rc = request(b, &r, EMPTY_SHA256, NULL, &resp, &c, err);
	if (rc)
		return rc;
	xmlDoc *doc = xmlReadMemory((const char *)resp.body, (int)resp.len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
	eng_http_put(b->pool, c);
	node_text(doc ? find(xmlDocGetRootElement(doc), "UploadId") : NULL, id, sizeof(id));
	xmlFreeDoc(doc);
	char esc_id[3072];
	if (!id[0] || !eng_url_escape(id, false, esc_id, sizeof(esc_id)))
		return eng_fail(err, ENG_EIO, "%s: S3 started no multipart upload of %s", b->base.where, name);
	size_t parts = (size_t)((len + PART_SIZE - 1) / PART_SIZE);
	size_t xml_cap = 128 + parts * 200, xl = 0;
	char *xml = malloc(xml_cap);
	if (!xml)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	else
		xl += (size_t)snprintf(xml, xml_cap, "<CompleteMultipartUpload>");
	for (size_t i = 0; !rc && i < parts; i++) {
		uint64_t off = (uint64_t)i * PART_SIZE, n = len - off < PART_SIZE ? len - off : PART_SIZE;
		/* each part is retried here: the upload as a whole is not idempotent */
		for (int attempt = 0;; attempt++) {
			snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s", i + 1, esc_id);
			rc = object_url(b, name, query, url, sizeof(url), err);
			if (!rc) {
				char psha[65];
				rc = file_payload_hash(b, fd, off, n, psha, err);
				eng_http_req pr = { .method = "PUT", .url = url, .what = name, .body_fd = fd,
						    .body_off = off, .body_len = (size_t)n };
				if (!rc)
					rc = request(b, &pr, psha, NULL, &resp, NULL, err);
			}
			if (rc != ENG_EAGAIN || attempt >= 5)
				break;
			sleep(1u << attempt > 8 ? 8 : 1u << attempt);
		}
		if (!rc)
			xl += (size_t)snprintf(xml + xl, xml_cap - xl, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
					       i + 1, resp.etag);
	}
	if (!rc) {
		xl += (size_t)snprintf(xml + xl, xml_cap - xl, "</CompleteMultipartUpload>");
		snprintf(query, sizeof(query), "uploadId=%s", esc_id);
		uint8_t d[32];
		EVP_Digest(xml, xl, d, NULL, EVP_sha256(), NULL);
		hex32(d, sha);
		rc = object_url(b, name, query, url, sizeof(url), err);
		eng_http_req cr = { .method = "POST", .url = url, .what = name, .body = xml, .body_len = xl, .body_fd = -1 };
		if (!rc)
			rc = request(b, &cr, sha, NULL, &resp, NULL, err);
	}
	if (rc) { /* abort: the parts cost storage until then */
		eng_err e;
		snprintf(query, sizeof(query), "uploadId=%s", esc_id);
		if (!object_url(b, name, query, url, sizeof(url), &e)) {
			eng_http_req ar = { .method = "DELETE", .url = url, .what = name, .body_fd = -1 };
			request(b, &ar, EMPTY_SHA256, NULL, &resp, NULL, &e);
		}
	}
	free(xml);
	return rc;
}

static int s3_put_file(eng_backend *base, const char *name, int fd, uint64_t len, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	if (len > MULTIPART_OVER)
		return multipart(b, name, fd, len, err);
	char url[8192], sha[65];
	int rc = object_url(b, name, NULL, url, sizeof(url), err);
	if (!rc)
		rc = file_payload_hash(b, fd, 0, len, sha, err);
	if (rc)
		return rc;
	eng_http_req r = { .method = "PUT", .url = url, .what = name, .body_fd = fd, .body_len = (size_t)len };
	eng_http_resp resp;
	return request(b, &r, sha, NULL, &resp, NULL, err);
}

static int s3_get(eng_backend *base, const char *name, uint64_t off, void *buf, size_t len, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	if (!len)
		return ENG_OK;
	char url[8192];
	int rc = object_url(b, name, NULL, url, sizeof(url), err);
	if (rc)
		return rc;
	struct curl_slist *range = eng_http_header(NULL, "Range: bytes=%llu-%llu", (unsigned long long)off,
						   (unsigned long long)(off + len - 1));
	if (!range)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	eng_http_req r = { .method = "GET", .url = url, .what = name, .into = buf, .into_len = len, .body_fd = -1 };
	eng_http_resp resp;
	rc = request(b, &r, EMPTY_SHA256, range, &resp, NULL, err);
	curl_slist_free_all(range);
	if (rc == ENG_ENOTFOUND)
		rc = eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->base.where);
	else if (!rc && resp.status == 200 && off != 0)
		rc = eng_fail(err, ENG_EIO, "%s: the server ignored the byte range", b->base.where);
	return rc;
}

/* A HEAD answer has no body to tell a missing object from a missing
 * bucket; asking about the bucket itself does. */
static bool bucket_exists(s3_backend *b)
{
	eng_http_req r = { .method = "HEAD", .url = b->bucket_url, .what = "the bucket", .body_fd = -1 };
	eng_http_resp resp;
	eng_err e;
	return request(b, &r, EMPTY_SHA256, NULL, &resp, NULL, &e) != ENG_ENOTFOUND;
}

static int s3_stat(eng_backend *base, const char *name, uint64_t *size, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char url[8192];
	int rc = object_url(b, name, NULL, url, sizeof(url), err);
	if (rc)
		return rc;
	eng_http_req r = { .method = "HEAD", .url = url, .what = name, .body_fd = -1 };
	eng_http_resp resp;
	rc = request(b, &r, EMPTY_SHA256, NULL, &resp, NULL, err);
	if (rc == ENG_ENOTFOUND && !strcmp(name, "config") && !bucket_exists(b))
		return eng_fail(err, ENG_EFORMAT, "%s: no such bucket (create the store with 'lifeboat store init')", b->base.where);
	if (rc == ENG_ENOTFOUND)
		return eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->base.where);
	if (!rc)
		*size = resp.content_length;
	return rc;
}

static int s3_list(eng_backend *base, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char key[2048], esc_key[6144], token[2048] = "", esc_tok[6144], query[16384], url[16384];
	size_t plen = strlen(b->prefix);
	snprintf(key, sizeof(key), "%s%s%s", b->prefix, prefix, *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "");
	if (!eng_url_escape(key, false, esc_key, sizeof(esc_key)))
		return eng_fail(err, ENG_EINPUT, "prefix too long");
	int rc = ENG_OK;
	do {
		if (token[0] && !eng_url_escape(token, false, esc_tok, sizeof(esc_tok)))
			return eng_fail(err, ENG_EIO, "%s: implausible continuation token", b->base.where);
		snprintf(query, sizeof(query), "list-type=2&prefix=%s%s%s", esc_key, token[0] ? "&continuation-token=" : "",
			 token[0] ? esc_tok : "");
		if (snprintf(url, sizeof(url), "%s?%s", b->bucket_url, query) >= (int)sizeof(url))
			return eng_fail(err, ENG_EINPUT, "prefix too long");
		eng_http_req r = { .method = "GET", .url = url, .what = prefix, .body_fd = -1 };
		eng_http_resp resp;
		eng_http *c = NULL;
		if ((rc = request(b, &r, EMPTY_SHA256, NULL, &resp, &c, err)))
			return rc;
		xmlDoc *doc = xmlReadMemory((const char *)resp.body, (int)resp.len, NULL, NULL,
					    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		eng_http_put(b->pool, c);
		const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
		if (!root) {
			xmlFreeDoc(doc);
			return eng_fail(err, ENG_EAGAIN, "%s: listing %s: the answer is not XML", b->base.where, prefix);
		}
		token[0] = 0;
		char trunc[16] = "";
		for (const xmlNode *n = root->children; n && !rc; n = n->next) {
			if (n->type != XML_ELEMENT_NODE)
				continue;
			if (!strcmp((const char *)n->name, "NextContinuationToken"))
				node_text(n, token, sizeof(token));
			else if (!strcmp((const char *)n->name, "IsTruncated"))
				node_text(n, trunc, sizeof(trunc));
			else if (!strcmp((const char *)n->name, "Contents")) {
				char k[2048], sz[32];
				node_text(find(n->children, "Key"), k, sizeof(k));
				node_text(find(n->children, "Size"), sz, sizeof(sz));
				if (strncmp(k, b->prefix, plen) == 0 && k[plen])
					rc = fn(ctx, k + plen, strtoull(sz, NULL, 10));
			}
		}
		xmlFreeDoc(doc);
		if (strcmp(trunc, "true"))
			token[0] = 0;
	} while (!rc && token[0]);
	return rc;
}

static int s3_remove(eng_backend *base, const char *name, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char url[8192];
	int rc = object_url(b, name, NULL, url, sizeof(url), err);
	if (rc)
		return rc;
	eng_http_req r = { .method = "DELETE", .url = url, .what = name, .body_fd = -1 };
	eng_http_resp resp;
	rc = request(b, &r, EMPTY_SHA256, NULL, &resp, NULL, err);
	return rc == ENG_ENOTFOUND ? ENG_OK : rc;
}

static int s3_create(eng_backend *base, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char body[256] = "", sha[65] = EMPTY_SHA256;
	size_t len = 0;
	if (strcmp(b->region, "us-east-1")) {
		len = (size_t)snprintf(body, sizeof(body),
				       "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
				       b->region);
		uint8_t d[32];
		EVP_Digest(body, len, d, NULL, EVP_sha256(), NULL);
		hex32(d, sha);
	}
	eng_http_req r = { .method = "PUT", .url = b->bucket_url, .what = "the bucket", .body = body, .body_len = len,
			   .body_fd = -1 };
	eng_http_resp resp;
	eng_err e;
	int rc = request(b, &r, sha, NULL, &resp, NULL, &e);
	/* servers differ in how they say "you have it already": a bucket we
	 * can read is ours to use */
	if (rc == ENG_EEXIST && bucket_exists(b))
		return ENG_OK;
	if (rc == ENG_EEXIST)
		return eng_fail(err, ENG_EINPUT, "%s: the bucket name is taken by another account", b->base.where);
	if (rc && err)
		*err = e;
	return rc;
}

/* Aborts multipart uploads under the store's prefix that a killed process left. */
static int s3_clean(eng_backend *base, uint64_t *removed, eng_err *err)
{
	s3_backend *b = (s3_backend *)base;
	char esc[6144], url[8192];
	if (!eng_url_escape(b->prefix, false, esc, sizeof(esc)) ||
	    snprintf(url, sizeof(url), "%s?uploads&prefix=%s", b->bucket_url, esc) >= (int)sizeof(url))
		return eng_fail(err, ENG_EINPUT, "prefix too long");
	eng_http_req r = { .method = "GET", .url = url, .what = "multipart uploads", .body_fd = -1 };
	eng_http_resp resp;
	eng_http *c = NULL;
	eng_err e;
	if (request(b, &r, EMPTY_SHA256, NULL, &resp, &c, &e))
		return ENG_OK; /* a server without multipart listing has nothing to clean */
	xmlDoc *doc = xmlReadMemory((const char *)resp.body, (int)resp.len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
	eng_http_put(b->pool, c);
	const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	int rc = ENG_OK;
	for (const xmlNode *n = root ? root->children : NULL; n && !rc; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Upload"))
			continue;
		char key[2048], id[1024], esc_id[3072], query[3200];
		node_text(find(n->children, "Key"), key, sizeof(key));
		node_text(find(n->children, "UploadId"), id, sizeof(id));
		if (strncmp(key, b->prefix, strlen(b->prefix)) || !eng_url_escape(id, false, esc_id, sizeof(esc_id)))
			continue;
		snprintf(query, sizeof(query), "uploadId=%s", esc_id);
		if (object_url(b, key + strlen(b->prefix), query, url, sizeof(url), err))
			continue;
		eng_http_req ar = { .method = "DELETE", .url = url, .what = key, .body_fd = -1 };
		if (!request(b, &ar, EMPTY_SHA256, NULL, &resp, NULL, &e))
			(*removed)++;
	}
	xmlFreeDoc(doc);
	return rc;
}

static void s3_close(eng_backend *base)
{
	s3_backend *b = (s3_backend *)base;
	eng_http_pool_free(b->pool);
	free(b->bucket_url);
	free(b->prefix);
	if (b->userpwd)
		memset(b->userpwd, 0, strlen(b->userpwd));
	free(b->userpwd);
	free(b->token);
	free(b->base.where);
	free(b);
}

static const struct eng_backend_ops s3_ops = {
	.kind = "s3",
	.create = s3_create,
	.put = s3_put,
	.put_file = s3_put_file,
	.get = s3_get,
	.stat = s3_stat,
	.list = s3_list,
	.remove = s3_remove,
	.close = s3_close,
	.clean = s3_clean,
};

static const char *env(const char *a, const char *b)
{
	const char *v = getenv(a);
	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

int eng_s3_open(const eng_url *u, eng_backend **out, eng_err *err)
{
	const char *key = env("AWS_ACCESS_KEY_ID", NULL), *secret = env("AWS_SECRET_ACCESS_KEY", NULL);
	const char *endpoint = env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	const char *region = env("AWS_REGION", "AWS_DEFAULT_REGION");
	char where[4200];
	if (snprintf(where, sizeof(where), "s3://%s%s%s", u->bucket, u->path[0] ? "/" : "", u->path) >= (int)sizeof(where))
		return eng_fail(err, ENG_EINPUT, "store URL too long");
	if (!key || !secret)
		return eng_fail(err, ENG_EKEY, "%s: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", where);
	if (region && (strlen(region) > 40 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)))
		return eng_fail(err, ENG_EINPUT, "AWS_REGION '%s' is not a region name", region);
	if (endpoint && strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
		return eng_fail(err, ENG_EINPUT, "AWS_ENDPOINT_URL '%s' is not an http:// or https:// URL", endpoint);
	s3_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	b->base.ops = &s3_ops;
	b->base.remote = true;
	snprintf(b->region, sizeof(b->region), "%s", region ? region : "us-east-1");
	snprintf(b->sigv4, sizeof(b->sigv4), "aws:amz:%s:s3", b->region);
	size_t cap = strlen(key) + strlen(secret) + 2;
	b->userpwd = malloc(cap);
	b->base.where = strdup(where);
	b->prefix = malloc(strlen(u->path) + 2);
	char bucket_url[1024];
	if (endpoint) {
		size_t n = strlen(endpoint);
		while (n && endpoint[n - 1] == '/')
			n--;
		snprintf(bucket_url, sizeof(bucket_url), "%.*s/%s", (int)n, endpoint, u->bucket);
	} else {
		snprintf(bucket_url, sizeof(bucket_url), "https://%s.s3.%s.amazonaws.com", u->bucket, b->region);
	}
	b->bucket_url = strdup(bucket_url);
	b->https = !strncmp(bucket_url, "https://", 8);
	b->token = env("AWS_SESSION_TOKEN", NULL) ? strdup(env("AWS_SESSION_TOKEN", NULL)) : NULL;
	b->pool = eng_http_pool_new(&b->base.cancel);
	if (!b->userpwd || !b->base.where || !b->prefix || !b->bucket_url || !b->pool ||
	    (env("AWS_SESSION_TOKEN", NULL) && !b->token)) {
		s3_close(&b->base);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	const char *ca = env("AWS_CA_BUNDLE", NULL);
	if (ca && eng_http_pool_ca(b->pool, ca)) {
		s3_close(&b->base);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	snprintf(b->userpwd, cap, "%s:%s", key, secret);
	sprintf(b->prefix, "%s%s", u->path, u->path[0] ? "/" : "");
	*out = &b->base;
	return ENG_OK;
}

void eng_s3_fix_time(eng_backend *base, time_t t)
{
	((s3_backend *)base)->fixed_time = t;
}
