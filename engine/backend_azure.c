/* backend_azure.c — a store in an Azure Blob Storage container.
 *
 * Configured the way the Azure CLI is: AZURE_STORAGE_CONNECTION_STRING
 * (AccountName, AccountKey, BlobEndpoint, SharedAccessSignature,
 * DefaultEndpointsProtocol, EndpointSuffix, or UseDevelopmentStorage=true),
 * or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, or a SAS token in
 * AZURE_STORAGE_SAS_TOKEN. Requests are signed with SharedKey (HMAC-SHA256
 * of the canonical request, OpenSSL) or carry the SAS token. Objects are
 * block blobs: small ones one Put Blob, packs a few Put Block and one Put
 * Block List, which makes them visible at once and whole. Every upload
 * carries Content-MD5, which the service checks. */
#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_remote.h"
#include "err.h"
#include "http.h"

#define API_VERSION "2021-08-06"
#define BLOCK_SIZE (8u << 20)
#define BLOCKS_OVER (8u << 20)

typedef struct az_backend {
	eng_backend base;
	eng_http_pool *pool;
	char account[128];
	uint8_t key[128];
	size_t key_len;
	char *sas;            /* without '?' */
	char *container_url;  /* ENDPOINT/CONTAINER */
	char *url_path;       /* the path part of container_url, for signing */
	char *prefix;         /* "" or "a/b/" */
} az_backend;

static int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (4 * ((n + 2) / 3) + 1 > cap)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(in);
	if (n % 4 || n / 4 * 3 > cap)
		return -1;
	int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (got < 0)
		return -1;
	while (n && in[n - 1] == '=')
		n--, got--;
	*len = (size_t)got;
	return 0;
}

struct hdr {
	char name[64];
	char value[512];
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

struct qparam {
	char name[32];
	char value[2100]; /* unescaped */
};

static int by_qname(const void *a, const void *b)
{
	return strcmp(((const struct qparam *)a)->name, ((const struct qparam *)b)->name);
}

/* A request in the making: its x-ms headers, query and the standard
 * headers that take part in the signature. */
struct az_req {
	const char *method;
	char path[6144];        /* escaped, from the container on ("" for the container itself) */
	struct qparam q[4];
	size_t nq;
	struct hdr x[6];
	size_t nx;
	char content_md5[32];
	char content_type[64];
	uint64_t content_length;
};

static void add_x(struct az_req *r, const char *name, const char *value)
{
	snprintf(r->x[r->nx].name, sizeof(r->x[r->nx].name), "%s", name);
	snprintf(r->x[r->nx].value, sizeof(r->x[r->nx].value), "%s", value);
	r->nx++;
}

static void add_q(struct az_req *r, const char *name, const char *value)
{
	snprintf(r->q[r->nq].name, sizeof(r->q[r->nq].name), "%s", name);
	snprintf(r->q[r->nq].value, sizeof(r->q[r->nq].value), "%s", value);
	r->nq++;
}

/* SharedKey: base64(HMAC-SHA256(key, string-to-sign)). */
static int sign(az_backend *b, struct az_req *r, char *auth, size_t cap)
{
	char sts[16384], len[32] = "";
	size_t o = 0;
	if (r->content_length)
		snprintf(len, sizeof(len), "%llu", (unsigned long long)r->content_length);
	o += (size_t)snprintf(sts + o, sizeof(sts) - o, "%s\n\n\n%s\n%s\n%s\n\n\n\n\n\n\n", r->method, len, r->content_md5,
			      r->content_type);
	qsort(r->x, r->nx, sizeof(r->x[0]), by_name);
	for (size_t i = 0; i < r->nx && o < sizeof(sts); i++)
		o += (size_t)snprintf(sts + o, sizeof(sts) - o, "%s:%s\n", r->x[i].name, r->x[i].value);
	if (o < sizeof(sts))
		o += (size_t)snprintf(sts + o, sizeof(sts) - o, "/%s%s%s%s", b->account, b->url_path, r->path[0] ? "/" : "",
				      r->path);
	qsort(r->q, r->nq, sizeof(r->q[0]), by_qname);
	for (size_t i = 0; i < r->nq && o < sizeof(sts); i++)
		o += (size_t)snprintf(sts + o, sizeof(sts) - o, "\n%s:%s", r->q[i].name, r->q[i].value);
	if (o >= sizeof(sts))
		return -1;
	uint8_t mac[32];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), b->key, (int)b->key_len, (const unsigned char *)sts, o, mac, &mac_len))
		return -1;
	char sig[64];
	b64_encode(mac, mac_len, sig, sizeof(sig));
	return snprintf(auth, cap, "Authorization: SharedKey %s:%s", b->account, sig) >= (int)cap ? -1 : 0;
}

static int run(az_backend *b, struct az_req *r, eng_http_req *h, eng_http_resp *resp, eng_http **keep, eng_err *err)
{
	char date[64], url[16384], auth[512];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	add_x(r, "x-ms-date", date);
	add_x(r, "x-ms-version", API_VERSION);
	size_t o = (size_t)snprintf(url, sizeof(url), "%s%s%s", b->container_url, r->path[0] ? "/" : "", r->path);
	for (size_t i = 0; i < r->nq && o < sizeof(url); i++) {
		char esc[3072];
		if (!eng_url_escape(r->q[i].value, false, esc, sizeof(esc)))
			return eng_fail(err, ENG_EINPUT, "query too long");
		o += (size_t)snprintf(url + o, sizeof(url) - o, "%c%s=%s", i ? '&' : '?', r->q[i].name, esc);
	}
	if (b->sas && o < sizeof(url))
		o += (size_t)snprintf(url + o, sizeof(url) - o, "%c%s", r->nq ? '&' : '?', b->sas);
	if (o >= sizeof(url))
		return eng_fail(err, ENG_EINPUT, "object name too long");
	if (!b->sas && sign(b, r, auth, sizeof(auth)) != 0)
		return eng_fail(err, ENG_EINPUT, "request too long to sign");
	struct curl_slist *hl = eng_http_header(NULL, "Expect:");
	for (size_t i = 0; hl && i < r->nx; i++)
		hl = eng_http_header(hl, "%s: %s", r->x[i].name, r->x[i].value);
	if (hl && !b->sas)
		hl = eng_http_header(hl, "%s", auth);
	if (hl && r->content_md5[0])
		hl = eng_http_header(hl, "Content-MD5: %s", r->content_md5);
	if (hl && r->content_type[0])
		hl = eng_http_header(hl, "Content-Type: %s", r->content_type);
	eng_http *c = eng_http_get(b->pool);
	if (!hl || !c) {
		curl_slist_free_all(hl);
		eng_http_put(b->pool, c);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	h->method = r->method;
	h->url = url;
	h->headers = hl;
	int rc = eng_http_do(c, h, resp, err);
	curl_slist_free_all(hl);
	if (rc == ENG_EKEY)
		rc = eng_fail(err, ENG_EKEY, "%s: access denied (HTTP %ld %s): check the account key or SAS token",
			      b->base.where, resp->status, resp->error_code);
	else if (rc == ENG_ENOTFOUND && !strcmp(resp->error_code, "ContainerNotFound"))
		rc = eng_fail(err, ENG_EFORMAT, "%s: no such container (create the store with 'lifeboat store init')",
			      b->base.where);
	if (keep && !rc)
		*keep = c;
	else
		eng_http_put(b->pool, c);
	return rc;
}

static int blob_path(az_backend *b, const char *name, struct az_req *r, const char *method, eng_err *err)
{
	char key[2048];
	memset(r, 0, sizeof(*r));
	r->method = method;
	if (snprintf(key, sizeof(key), "%s%s", b->prefix, name) >= (int)sizeof(key) ||
	    !eng_url_escape(key, true, r->path, sizeof(r->path)))
		return eng_fail(err, ENG_EINPUT, "object name too long: %s", name);
	return ENG_OK;
}

static void md5_b64(const void *data, size_t len, char out[32])
{
	uint8_t d[16];
	EVP_Digest(data, len, d, NULL, EVP_md5(), NULL);
	b64_encode(d, 16, out, 32);
}

static int upload(az_backend *b, const char *name, const char *block_id, const void *data, int fd, uint64_t off,
		  size_t len, eng_err *err)
{
	struct az_req r;
	int rc = blob_path(b, name, &r, "PUT", err);
	if (rc)
		return rc;
	uint8_t *buf = NULL;
	if (!data) { /* a file range: read it to compute its MD5 */
		if (!(buf = malloc(len ? len : 1)))
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		ssize_t got = pread(fd, buf, len, (off_t)off);
		if (got < 0 || (size_t)got != len) {
			free(buf);
			return eng_fail_errno(err, "cannot read a spool file");
		}
		data = buf;
	}
	md5_b64(data, len, r.content_md5);
	snprintf(r.content_type, sizeof(r.content_type), "application/octet-stream");
	r.content_length = len;
	if (block_id) {
		add_q(&r, "comp", "block");
		add_q(&r, "blockid", block_id);
	} else {
		add_x(&r, "x-ms-blob-type", "BlockBlob");
	}
	eng_http_req h = { .what = name, .body = data, .body_len = len, .body_fd = -1 };
	eng_http_resp resp;
	rc = run(b, &r, &h, &resp, NULL, err);
	free(buf);
	return rc;
}

static int az_put(eng_backend *base, const char *name, const void *data, size_t len, eng_err *err)
{
	return upload((az_backend *)base, name, NULL, data, -1, 0, len, err);
}

static int az_put_file(eng_backend *base, const char *name, int fd, uint64_t len, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	if (len <= BLOCKS_OVER)
		return upload(b, name, NULL, NULL, fd, 0, (size_t)len, err);
	size_t n = (size_t)((len + BLOCK_SIZE - 1) / BLOCK_SIZE);
	char (*ids)[16] = calloc(n, 16);
	if (!ids)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	int rc = ENG_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		char raw[24];
		snprintf(raw, sizeof(raw), "b%06zu", i % 1000000);
		b64_encode((const uint8_t *)raw, 7, ids[i], 16);
		uint64_t off = (uint64_t)i * BLOCK_SIZE;
		size_t part = len - off < BLOCK_SIZE ? (size_t)(len - off) : BLOCK_SIZE;
		/* each block is retried here: the whole put is retried by the caller too */
		for (int attempt = 0;; attempt++) {
			rc = upload(b, name, ids[i], NULL, fd, off, part, err);
			if (rc != ENG_EAGAIN || attempt >= 5)
				break;
			sleep(1u << attempt > 8 ? 8 : 1u << attempt);
		}
	}
	char *xml = rc ? NULL : malloc(64 + n * 40);
	size_t xl = 0;
	if (!rc && !xml)
		rc = eng_fail(err, ENG_ENOMEM, "out of memory");
	if (!rc) {
		xl += (size_t)sprintf(xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
		for (size_t i = 0; i < n; i++)
			xl += (size_t)sprintf(xml + xl, "<Latest>%s</Latest>", ids[i]);
		xl += (size_t)sprintf(xml + xl, "</BlockList>");
		struct az_req r;
		rc = blob_path(b, name, &r, "PUT", err);
		if (!rc) {
			add_q(&r, "comp", "blocklist");
			md5_b64(xml, xl, r.content_md5);
			snprintf(r.content_type, sizeof(r.content_type), "application/xml");
			r.content_length = xl;
			eng_http_req h = { .what = name, .body = xml, .body_len = xl, .body_fd = -1 };
			eng_http_resp resp;
			rc = run(b, &r, &h, &resp, NULL, err);
		}
	}
	free(xml);
	free(ids);
	return rc;
}

static int az_get(eng_backend *base, const char *name, uint64_t off, void *buf, size_t len, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	if (!len)
		return ENG_OK;
	struct az_req r;
	int rc = blob_path(b, name, &r, "GET", err);
	if (rc)
		return rc;
	char range[64];
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off, (unsigned long long)(off + len - 1));
	add_x(&r, "x-ms-range", range);
	eng_http_req h = { .what = name, .into = buf, .into_len = len, .body_fd = -1 };
	eng_http_resp resp;
	rc = run(b, &r, &h, &resp, NULL, err);
	if (rc == ENG_ENOTFOUND)
		return eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->base.where);
	return rc;
}

static int az_stat(eng_backend *base, const char *name, uint64_t *size, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	struct az_req r;
	int rc = blob_path(b, name, &r, "HEAD", err);
	if (rc)
		return rc;
	eng_http_req h = { .what = name, .body_fd = -1 };
	eng_http_resp resp;
	rc = run(b, &r, &h, &resp, NULL, err);
	if (rc == ENG_ENOTFOUND)
		return eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", name, b->base.where);
	if (!rc)
		*size = resp.content_length;
	return rc;
}

static void node_text(const xmlNode *n, const char *tag, char *out, size_t cap)
{
	out[0] = 0;
	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, tag)) {
			xmlChar *t = xmlNodeGetContent(n);
			snprintf(out, cap, "%s", t ? (const char *)t : "");
			xmlFree(t);
			return;
		}
}

static const xmlNode *child(const xmlNode *n, const char *tag)
{
	for (n = n ? n->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, tag))
			return n;
	return NULL;
}

static int az_list(eng_backend *base, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	char key[2048], marker[1024] = "";
	size_t plen = strlen(b->prefix);
	snprintf(key, sizeof(key), "%s%s%s", b->prefix, prefix, *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "");
	int rc = ENG_OK;
	do {
		struct az_req r;
		memset(&r, 0, sizeof(r));
		r.method = "GET";
		add_q(&r, "restype", "container");
		add_q(&r, "comp", "list");
		add_q(&r, "prefix", key);
		if (marker[0])
			add_q(&r, "marker", marker);
		eng_http_req h = { .what = prefix, .body_fd = -1 };
		eng_http_resp resp;
		eng_http *c = NULL;
		if ((rc = run(b, &r, &h, &resp, &c, err)))
			return rc;
		xmlDoc *doc = xmlReadMemory((const char *)resp.body, (int)resp.len, NULL, NULL,
					    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		eng_http_put(b->pool, c);
		const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
		if (!root) {
			xmlFreeDoc(doc);
			return eng_fail(err, ENG_EAGAIN, "%s: listing %s: the answer is not XML", b->base.where, prefix);
		}
		const xmlNode *blobs = child(root, "Blobs");
		for (const xmlNode *n = blobs ? blobs->children : NULL; n && !rc; n = n->next) {
			if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Blob"))
				continue;
			char name[2048], size[32];
			node_text(n->children, "Name", name, sizeof(name));
			node_text(child(n, "Properties") ? child(n, "Properties")->children : NULL, "Content-Length", size,
				  sizeof(size));
			if (!strncmp(name, b->prefix, plen) && name[plen])
				rc = fn(ctx, name + plen, strtoull(size, NULL, 10));
		}
		node_text(root->children, "NextMarker", marker, sizeof(marker));
		xmlFreeDoc(doc);
	} while (!rc && marker[0]);
	return rc;
}

static int az_remove(eng_backend *base, const char *name, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	struct az_req r;
	int rc = blob_path(b, name, &r, "DELETE", err);
	if (rc)
		return rc;
	eng_http_req h = { .what = name, .body_fd = -1 };
	eng_http_resp resp;
	rc = run(b, &r, &h, &resp, NULL, err);
	return rc == ENG_ENOTFOUND ? ENG_OK : rc;
}

static int az_create(eng_backend *base, eng_err *err)
{
	az_backend *b = (az_backend *)base;
	struct az_req r;
	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	add_q(&r, "restype", "container");
	eng_http_req h = { .what = "the container", .body = "", .body_len = 0, .body_fd = -1 };
	eng_http_resp resp;
	eng_err e;
	int rc = run(b, &r, &h, &resp, NULL, &e);
	if (rc == ENG_EEXIST && !strcmp(resp.error_code, "ContainerAlreadyExists"))
		return ENG_OK;
	if (rc && err)
		*err = e;
	return rc;
}

static void az_close(eng_backend *base)
{
	az_backend *b = (az_backend *)base;
	eng_http_pool_free(b->pool);
	memset(b->key, 0, sizeof(b->key));
	if (b->sas)
		memset(b->sas, 0, strlen(b->sas));
	free(b->sas);
	free(b->container_url);
	free(b->url_path);
	free(b->prefix);
	free(b->base.where);
	free(b);
}

static const struct eng_backend_ops az_ops = {
	.kind = "azure",
	.create = az_create,
	.put = az_put,
	.put_file = az_put_file,
	.get = az_get,
	.stat = az_stat,
	.list = az_list,
	.remove = az_remove,
	.close = az_close,
};

/* The value of key in a connection string ("K=V;K=V"); false when absent. */
static bool conn_value(const char *cs, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = cs; p && *p;) {
		while (*p == ';' || isspace((unsigned char)*p))
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > kl && !strncasecmp(p, key, kl) && p[kl] == '=') {
			size_t vl = len - kl - 1;
			if (vl >= cap)
				return false;
			memcpy(out, p + kl + 1, vl);
			out[vl] = 0;
			return true;
		}
		p = end;
	}
	return false;
}

#define AZURITE_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

int eng_az_open(const eng_url *u, eng_backend **out, eng_err *err)
{
	char where[4200], account[128] = "", key[256] = "", endpoint[1024] = "", sas[2048] = "", proto[16] = "https",
						    suffix[128] = "core.windows.net", dev[16] = "";
	if (snprintf(where, sizeof(where), "az://%s%s%s", u->bucket, u->path[0] ? "/" : "", u->path) >= (int)sizeof(where))
		return eng_fail(err, ENG_EINPUT, "store URL too long");
	const char *cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
	if (cs && *cs) {
		if (conn_value(cs, "UseDevelopmentStorage", dev, sizeof(dev)) && !strcasecmp(dev, "true")) {
			strcpy(account, "devstoreaccount1");
			strcpy(key, AZURITE_KEY);
			strcpy(endpoint, "http://127.0.0.1:10000/devstoreaccount1");
		}
		conn_value(cs, "AccountName", account, sizeof(account));
		conn_value(cs, "AccountKey", key, sizeof(key));
		conn_value(cs, "BlobEndpoint", endpoint, sizeof(endpoint));
		conn_value(cs, "SharedAccessSignature", sas, sizeof(sas));
		conn_value(cs, "DefaultEndpointsProtocol", proto, sizeof(proto));
		conn_value(cs, "EndpointSuffix", suffix, sizeof(suffix));
	} else {
		const char *a = getenv("AZURE_STORAGE_ACCOUNT"), *k = getenv("AZURE_STORAGE_KEY");
		snprintf(account, sizeof(account), "%s", a ? a : "");
		snprintf(key, sizeof(key), "%s", k ? k : "");
	}
	const char *st = getenv("AZURE_STORAGE_SAS_TOKEN");
	if (!sas[0] && st && *st)
		snprintf(sas, sizeof(sas), "%s", st[0] == '?' ? st + 1 : st);
	if (!account[0] && !endpoint[0])
		return eng_fail(err, ENG_EKEY, "%s: no account: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT "
				"with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN", where);
	if (!key[0] && !sas[0])
		return eng_fail(err, ENG_EKEY, "%s: no credentials: give an account key (AZURE_STORAGE_KEY or AccountKey in "
				"AZURE_STORAGE_CONNECTION_STRING) or a SAS token (AZURE_STORAGE_SAS_TOKEN)", where);
	if (strcmp(proto, "http") && strcmp(proto, "https"))
		return eng_fail(err, ENG_EINPUT, "DefaultEndpointsProtocol '%s' is not http or https", proto);
	if (!endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "%s://%s.blob.%s", proto, account, suffix);
	if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
		return eng_fail(err, ENG_EINPUT, "BlobEndpoint '%s' is not an http:// or https:// URL", endpoint);
	az_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	b->base.ops = &az_ops;
	b->base.remote = true;
	snprintf(b->account, sizeof(b->account), "%s", account);
	if (!sas[0] && b64_decode(key, b->key, sizeof(b->key), &b->key_len) != 0) {
		free(b);
		return eng_fail(err, ENG_EKEY, "%s: the account key is not base64", where);
	}
	size_t n = strlen(endpoint);
	while (n && endpoint[n - 1] == '/')
		n--;
	char curl[1200];
	snprintf(curl, sizeof(curl), "%.*s/%s", (int)n, endpoint, u->bucket);
	const char *path = strchr(curl + (curl[4] == 's' ? 8 : 7), '/');
	b->container_url = strdup(curl);
	b->url_path = strdup(path ? path : "/");
	b->prefix = malloc(strlen(u->path) + 2);
	b->base.where = strdup(where);
	b->sas = sas[0] ? strdup(sas) : NULL;
	b->pool = eng_http_pool_new(&b->base.cancel);
	memset(key, 0, sizeof(key));
	memset(sas, 0, sizeof(sas));
	if (!b->container_url || !b->url_path || !b->prefix || !b->base.where || !b->pool || (!b->sas && !b->key_len)) {
		az_close(&b->base);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	sprintf(b->prefix, "%s%s", u->path, u->path[0] ? "/" : "");
	*out = &b->base;
	return ENG_OK;
}
