/* backend_sftp.c — a store in a folder of an SFTP server (libcurl with
 * libssh2).
 *
 * Key authentication only: LIFEBOAT_SSH_KEY names the private key (its
 * .pub beside it is used when present). The server's host key is checked
 * against LIFEBOAT_SSH_KNOWN_HOSTS (default ~/.ssh/known_hosts): an
 * unknown or changed key is refused, and a missing known_hosts file is an
 * error (libcurl would otherwise accept any key). An object is uploaded
 * under a hidden temporary name in its own folder and renamed into place,
 * so it appears whole. SFTP (version 3) cannot rename over an existing
 * file; the store only ever writes an existing name again with the same
 * content (names are content hashes or random), so a rename that finds
 * its target there has nothing left to do. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_remote.h"
#include "bytes.h"
#include "crypto.h"
#include "err.h"
#include "http.h"

typedef struct sftp_backend {
	eng_backend base;
	eng_http_pool *pool;
	char *base_url;   /* sftp://HOST:PORT */
	char *root;       /* /PATH, no slash at the end */
	char user[64];
	char *key, *pubkey, *known_hosts;
	char host[256];
} sftp_backend;

/* What the host key check found, for the message. */
struct hostkey_check {
	enum curl_khmatch match;
};

static int on_hostkey(CURL *c, const struct curl_khkey *known, const struct curl_khkey *found, enum curl_khmatch match,
		      void *ctx)
{
	(void)c; (void)known; (void)found;
	struct hostkey_check *k = ctx;
	k->match = match;
	return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

struct sink {
	void *into;
	size_t len, got;
	char *text;       /* listings */
	size_t tlen, tcap;
	bool overflow;
};

static size_t on_write(char *src, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;
	if (s->into) {
		if (s->got + len > s->len) {
			s->overflow = true;
			return 0;
		}
		memcpy((uint8_t *)s->into + s->got, src, len);
		s->got += len;
		return len;
	}
	if (s->tlen + len + 1 > (64u << 20) || !eng_reserve(&s->text, &s->tcap, s->tlen + len + 1, 8192))
		return 0;
	memcpy(s->text + s->tlen, src, len);
	s->tlen += len;
	s->text[s->tlen] = 0;
	return len;
}

struct source {
	const uint8_t *data;
	int fd;
	uint64_t len, sent;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ctx)
{
	struct source *s = ctx;
	size_t want = size * n;
	if (want > s->len - s->sent)
		want = (size_t)(s->len - s->sent);
	if (!want)
		return 0;
	if (s->data) {
		memcpy(dst, s->data + s->sent, want);
	} else {
		ssize_t got = pread(s->fd, dst, want, (off_t)s->sent);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	s->sent += want;
	return want;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a; (void)b; (void)c; (void)d;
	const volatile int *const *cancel = ctx;
	return cancel && *cancel && **cancel;
}

/* An escaped URL for a path on the server. */
static int path_url(sftp_backend *b, const char *path, char *out, size_t cap, eng_err *err)
{
	char esc[8192];
	if (!eng_url_escape(path, true, esc, sizeof(esc)) || snprintf(out, cap, "%s%s", b->base_url, esc) >= (int)cap)
		return eng_fail(err, ENG_EINPUT, "path too long: %s", path);
	return ENG_OK;
}

/* Runs one transfer on a pooled handle after the caller's options. */
typedef void (*setup_fn)(CURL *c, void *ctx);

static int perform(sftp_backend *b, const char *url, const char *what, setup_fn setup, void *ctx, struct sink *sink,
		   CURLcode *code, curl_off_t *size, eng_err *err)
{
	eng_http *h = eng_http_get(b->pool);
	if (!h)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	CURL *c = eng_http_curl(h);
	char cerr[CURL_ERROR_SIZE] = "";
	struct hostkey_check hk = { CURLKHMATCH_OK };
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "sftp");
	curl_easy_setopt(c, CURLOPT_USERNAME, b->user);
	curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
	/* libssh2 keeps as many SFTP reads and writes in flight as the buffer
	 * it is handed holds: small buffers mean a round trip per 16 KiB */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
	curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, b->key);
	if (b->pubkey)
		curl_easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, b->pubkey);
	curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, b->known_hosts);
	curl_easy_setopt(c, CURLOPT_SSH_KEYFUNCTION, on_hostkey);
	curl_easy_setopt(c, CURLOPT_SSH_KEYDATA, &hk);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, eng_http_stall_seconds(b->pool));
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)&b->base.cancel);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	if (setup)
		setup(c, ctx);
	CURLcode cc = curl_easy_perform(c);
	if (size)
		curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, size);
	eng_http_put(b->pool, h);
	*code = cc;
	switch (cc) {
	case CURLE_OK:
		return ENG_OK;
	case CURLE_ABORTED_BY_CALLBACK:
		return eng_fail(err, ENG_ECANCEL, "interrupted");
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSH:
		if (hk.match != CURLKHMATCH_OK)
			return eng_fail(err, ENG_EKEY, "%s: the host key of %s is %s in %s: refusing to connect", b->base.where,
					b->host, hk.match == CURLKHMATCH_MISMATCH ? "NOT the one recorded" : "not recorded",
					b->known_hosts);
		break;
	case CURLE_LOGIN_DENIED:
		return eng_fail(err, ENG_EKEY, "%s: the server refused the key %s for user %s", b->base.where, b->key, b->user);
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return eng_fail(err, ENG_ENOTFOUND, "%s is missing from store %s", what, b->base.where);
	case CURLE_REMOTE_ACCESS_DENIED:
		return eng_fail(err, ENG_EKEY, "%s: permission denied on %s", b->base.where, what);
	case CURLE_COULDNT_RESOLVE_HOST:
		return eng_fail(err, ENG_EINPUT, "%s: cannot resolve host %s", b->base.where, b->host);
	case CURLE_QUOTE_ERROR:
	case CURLE_REMOTE_DISK_FULL:
	case CURLE_WRITE_ERROR:
		return eng_fail(err, ENG_EIO, "%s: %s: %s", b->base.where, what, cerr[0] ? cerr : curl_easy_strerror(cc));
	default:
		break;
	}
	return eng_fail(err, ENG_EAGAIN, "%s: %s: %s", b->base.where, what, cerr[0] ? cerr : curl_easy_strerror(cc));
}

struct put_ctx {
	struct source src;
	struct curl_slist *post;
};

static void setup_put(CURL *c, void *ctx)
{
	struct put_ctx *p = ctx;
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &p->src);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->src.len);
	curl_easy_setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
	curl_easy_setopt(c, CURLOPT_NEW_FILE_PERMS, 0644L);
	curl_easy_setopt(c, CURLOPT_POSTQUOTE, p->post);
}

static void setup_nobody(CURL *c, void *ctx)
{
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (ctx)
		curl_easy_setopt(c, CURLOPT_QUOTE, (struct curl_slist *)ctx);
}

static int sftp_stat(eng_backend *base, const char *name, uint64_t *size, eng_err *err)
{
	sftp_backend *b = (sftp_backend *)base;
	char path[4096], url[8192];
	CURLcode cc;
	curl_off_t len = -1;
	struct sink s = { 0 };
	if (snprintf(path, sizeof(path), "%s/%s", b->root, name) >= (int)sizeof(path))
		return eng_fail(err, ENG_EINPUT, "path too long");
	int rc = path_url(b, path, url, sizeof(url), err);
	if (!rc)
		rc = perform(b, url, name, setup_nobody, NULL, &s, &cc, &len, err);
	free(s.text);
	if (!rc)
		*size = len < 0 ? 0 : (uint64_t)len;
	return rc;
}

/* Uploads to a hidden name beside name, then renames it into place. */
static int upload(sftp_backend *b, const char *name, const void *data, int fd, uint64_t len, eng_err *err)
{
	char path[4096], tmp[4200], url[8192], cmd[8500];
	char hex[13];
	int rc = eng_random_hex(hex, 6, err);
	if (rc)
		return rc;
	const char *slash = strrchr(name, '/');
	if (snprintf(path, sizeof(path), "%s/%s", b->root, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%.*s%s.%s.%s.tmp", b->root, slash ? (int)(slash - name + 1) : 0, name,
		     slash ? "" : "", slash ? slash + 1 : name, hex) >= (int)sizeof(tmp))
		return eng_fail(err, ENG_EINPUT, "path too long");
	/* the hidden name: a dot before the base name */
	char *base = strrchr(tmp, '/') + 1;
	memmove(base + 1, base, strlen(base) + 1);
	*base = '.';
	if ((rc = path_url(b, tmp, url, sizeof(url), err)))
		return rc;
	snprintf(cmd, sizeof(cmd), "rename \"%s\" \"%s\"", tmp, path);
	struct put_ctx p = { .src = { .data = data, .fd = fd, .len = len } };
	p.post = curl_slist_append(NULL, cmd);
	if (!p.post)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	struct sink s = { 0 };
	CURLcode cc;
	rc = perform(b, url, name, setup_put, &p, &s, &cc, NULL, err);
	curl_slist_free_all(p.post);
	free(s.text);
	if (rc && cc == CURLE_QUOTE_ERROR) {
		/* the rename failed: fine when name is already there (same content) */
		uint64_t size;
		eng_err e;
		bool there = sftp_stat(&b->base, name, &size, &e) == ENG_OK && size == len;
		char rm[4300];
		snprintf(rm, sizeof(rm), "*rm \"%s\"", tmp);
		struct curl_slist *q = curl_slist_append(NULL, rm);
		char dir[8192];
		if (q && path_url(b, b->root, dir, sizeof(dir), &e) == ENG_OK) {
			strcat(dir, "/");
			perform(b, dir, name, setup_nobody, q, &s, &cc, NULL, &e);
		}
		curl_slist_free_all(q);
		free(s.text);
		if (there)
			rc = ENG_OK;
	}
	return rc;
}

static int sftp_put(eng_backend *base, const char *name, const void *data, size_t len, eng_err *err)
{
	return upload((sftp_backend *)base, name, data, -1, len, err);
}

static int sftp_put_file(eng_backend *base, const char *name, int fd, uint64_t len, eng_err *err)
{
	return upload((sftp_backend *)base, name, NULL, fd, len, err);
}

static void setup_range(CURL *c, void *ctx)
{
	curl_easy_setopt(c, CURLOPT_RANGE, (const char *)ctx);
}

static int sftp_get(eng_backend *base, const char *name, uint64_t off, void *buf, size_t len, eng_err *err)
{
	sftp_backend *b = (sftp_backend *)base;
	if (!len)
		return ENG_OK;
	char path[4096], url[8192], range[64];
	if (snprintf(path, sizeof(path), "%s/%s", b->root, name) >= (int)sizeof(path))
		return eng_fail(err, ENG_EINPUT, "path too long");
	int rc = path_url(b, path, url, sizeof(url), err);
	if (rc)
		return rc;
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off, (unsigned long long)(off + len - 1));
	struct sink s = { .into = buf, .len = len };
	CURLcode cc;
	rc = perform(b, url, name, setup_range, range, &s, &cc, NULL, err);
	if (!rc && s.got != len)
		rc = eng_fail(err, s.got < len ? ENG_ECORRUPT : ENG_EIO, "%s in store %s is truncated (wanted %zu bytes at %llu)",
			      name, b->base.where, len, (unsigned long long)off);
	return rc;
}

/* Lists one folder (rel is relative to the root, "" for the root) and
 * recurses; hidden says whether to report the hidden temporary files of
 * uploads instead of the objects. */
static int list_dir(sftp_backend *b, const char *rel, eng_list_fn fn, void *ctx, int depth, bool hidden, eng_err *err)
{
	char path[4096], url[8192];
	if (depth > 8)
		return ENG_OK;
	if (snprintf(path, sizeof(path), "%s/%s%s", b->root, rel, *rel ? "/" : "") >= (int)sizeof(path))
		return eng_fail(err, ENG_EINPUT, "path too long");
	int rc = path_url(b, path, url, sizeof(url), err);
	if (rc)
		return rc;
	struct sink s = { 0 };
	CURLcode cc;
	rc = perform(b, url, rel, NULL, NULL, &s, &cc, NULL, err);
	if (rc == ENG_ENOTFOUND) {
		free(s.text);
		return ENG_OK;
	}
	for (char *line = s.text; !rc && line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[--ll] = 0;
		/* "-rw-r--r--    1 user  group   1234 Nov 29 12:00 name" */
		char perms[16];
		unsigned long long size = 0;
		int name_at = 0;
		if (sscanf(line, "%15s %*s %*s %*s %llu %*s %*s %*s %n", perms, &size, &name_at) >= 2 && name_at > 0 &&
		    line[name_at] && strcmp(line + name_at, ".") && strcmp(line + name_at, "..")) {
			char child[4096];
			const char *nm = line + name_at;
			bool tmp = nm[0] == '.' && strlen(nm) > 4 && !strcmp(nm + strlen(nm) - 4, ".tmp");
			if (snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", nm) < (int)sizeof(child)) {
				if (perms[0] == 'd' && nm[0] != '.')
					rc = list_dir(b, child, fn, ctx, depth + 1, hidden, err);
				else if (perms[0] == '-' && (hidden ? tmp : nm[0] != '.'))
					rc = fn(ctx, child, size);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(s.text);
	return rc;
}

static int sftp_list(eng_backend *base, const char *prefix, eng_list_fn fn, void *ctx, eng_err *err)
{
	char rel[2048];
	size_t n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	if (n >= sizeof(rel))
		return eng_fail(err, ENG_EINPUT, "prefix too long");
	memcpy(rel, prefix, n);
	rel[n] = 0;
	return list_dir((sftp_backend *)base, rel, fn, ctx, 0, false, err);
}

static int quote(sftp_backend *b, const char *cmd, const char *what, eng_err *err)
{
	char url[8192];
	int rc = path_url(b, b->root, url, sizeof(url) - 1, err);
	if (rc)
		return rc;
	strcat(url, "/");
	struct curl_slist *q = curl_slist_append(NULL, cmd);
	if (!q)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	struct sink s = { 0 };
	CURLcode cc;
	rc = perform(b, url, what, setup_nobody, q, &s, &cc, NULL, err);
	curl_slist_free_all(q);
	free(s.text);
	return rc;
}

static int sftp_remove(eng_backend *base, const char *name, eng_err *err)
{
	sftp_backend *b = (sftp_backend *)base;
	char cmd[4200];
	if (snprintf(cmd, sizeof(cmd), "rm \"%s/%s\"", b->root, name) >= (int)sizeof(cmd))
		return eng_fail(err, ENG_EINPUT, "path too long");
	int rc = quote(b, cmd, name, err);
	if (rc == ENG_EIO) { /* gone already is fine */
		uint64_t size;
		eng_err e;
		if (sftp_stat(base, name, &size, &e) == ENG_ENOTFOUND)
			return ENG_OK;
	}
	return rc;
}

static int sftp_create(eng_backend *base, eng_err *err)
{
	sftp_backend *b = (sftp_backend *)base;
	char dir[4096] = "", url[8192];
	/* mkdir each part of the root (those that exist already fail harmlessly) */
	struct curl_slist *q = NULL;
	for (const char *p = b->root; *p;) {
		const char *slash = strchr(p + 1, '/');
		size_t n = slash ? (size_t)(slash - b->root) : strlen(b->root);
		char cmd[4200];
		snprintf(dir, sizeof(dir), "%.*s", (int)n, b->root);
		snprintf(cmd, sizeof(cmd), "*mkdir \"%s\"", dir);
		struct curl_slist *nq = curl_slist_append(q, cmd);
		if (!nq) {
			curl_slist_free_all(q);
			return eng_fail(err, ENG_ENOMEM, "out of memory");
		}
		q = nq;
		p = slash ? slash : p + strlen(p);
	}
	int rc = path_url(b, "/", url, sizeof(url), err);
	struct sink s = { 0 };
	CURLcode cc;
	if (!rc)
		rc = perform(b, url, "the store folder", setup_nobody, q, &s, &cc, NULL, err);
	curl_slist_free_all(q);
	free(s.text);
	return rc;
}

/* Removes the hidden temporary files that interrupted uploads left
 * (clean runs under the exclusive lock: no upload is under way). */
struct clean_ctx {
	sftp_backend *b;
	uint64_t *removed;
	eng_err *err;
};

static int remove_tmp(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	struct clean_ctx *c = ctx;
	int rc = sftp_remove(&c->b->base, name, c->err);
	if (!rc)
		(*c->removed)++;
	return rc;
}

static int sftp_clean(eng_backend *base, uint64_t *removed, eng_err *err)
{
	struct clean_ctx c = { (sftp_backend *)base, removed, err };
	return list_dir(c.b, "", remove_tmp, &c, 0, true, err);
}

static void sftp_close(eng_backend *base)
{
	sftp_backend *b = (sftp_backend *)base;
	eng_http_pool_free(b->pool);
	free(b->base_url);
	free(b->root);
	free(b->key);
	free(b->pubkey);
	free(b->known_hosts);
	free(b->base.where);
	free(b);
}

static const struct eng_backend_ops sftp_ops = {
	.kind = "sftp",
	.create = sftp_create,
	.put = sftp_put,
	.put_file = sftp_put_file,
	.get = sftp_get,
	.stat = sftp_stat,
	.list = sftp_list,
	.remove = sftp_remove,
	.close = sftp_close,
	.clean = sftp_clean,
};

int eng_sftp_open(const eng_url *u, eng_backend **out, eng_err *err)
{
	char where[4500], kh[4096], pub[4200];
	snprintf(where, sizeof(where), "sftp://%s@%s%s%.0d%s", u->user, u->host, u->port ? ":" : "", u->port, u->path);
	if (u->port)
		snprintf(where, sizeof(where), "sftp://%s@%s:%d%s", u->user, u->host, u->port, u->path);
	const char *key = getenv("LIFEBOAT_SSH_KEY");
	if (!key || !*key)
		return eng_fail(err, ENG_EKEY, "%s: no key: set LIFEBOAT_SSH_KEY to the private key file", where);
	if (access(key, R_OK) != 0)
		return eng_fail(err, ENG_EKEY, "%s: cannot read the key %s (LIFEBOAT_SSH_KEY)", where, key);
	const char *k = getenv("LIFEBOAT_SSH_KNOWN_HOSTS");
	if (k && *k)
		snprintf(kh, sizeof(kh), "%s", k);
	else
		snprintf(kh, sizeof(kh), "%s/.ssh/known_hosts", getenv("HOME") ? getenv("HOME") : "");
	struct stat st;
	if (stat(kh, &st) != 0 || !S_ISREG(st.st_mode))
		return eng_fail(err, ENG_EKEY, "%s: no known_hosts file %s (set LIFEBOAT_SSH_KNOWN_HOSTS): the server's host "
				"key cannot be checked, so lifeboat refuses to connect", where, kh);
	sftp_backend *b = calloc(1, sizeof(*b));
	if (!b)
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	b->base.ops = &sftp_ops;
	b->base.remote = true;
	snprintf(b->user, sizeof(b->user), "%s", u->user);
	snprintf(b->host, sizeof(b->host), "%s", u->host);
	char base_url[400];
	snprintf(base_url, sizeof(base_url), "sftp://%s%s%s%s:%d", strchr(u->host, ':') ? "[" : "", u->host,
		 strchr(u->host, ':') ? "]" : "", "", u->port ? u->port : 22);
	b->base_url = strdup(base_url);
	b->root = strdup(u->path);
	b->key = strdup(key);
	snprintf(pub, sizeof(pub), "%s.pub", key);
	b->pubkey = access(pub, R_OK) == 0 ? strdup(pub) : NULL;
	b->known_hosts = strdup(kh);
	b->base.where = strdup(where);
	b->pool = eng_http_pool_new(&b->base.cancel);
	if (!b->base_url || !b->root || !b->key || !b->known_hosts || !b->base.where || !b->pool) {
		sftp_close(&b->base);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	*out = &b->base;
	return ENG_OK;
}
