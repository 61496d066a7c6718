/* url.c — parsing store URLs. See url.h. */
#include "url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

bool eng_url_is_remote(const char *text)
{
	const char *sep = strstr(text, "://");
	return sep && strncmp(text, "file://", 7) != 0;
}

/* Copies [s, s+n) into out (cap bytes); false when it does not fit. */
static bool take(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

static const char *bucket_problem(const char *scheme, const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return "must be 3 to 63 characters";
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      (*p == '.' && !strcmp(scheme, "s3"))))
			return !strcmp(scheme, "s3") ? "may hold only lowercase letters, digits, '.' and '-'"
						     : "may hold only lowercase letters, digits and '-'";
	if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return "must start and end with a letter or digit";
	if (strstr(b, "--") && strcmp(scheme, "s3"))
		return "may not hold '--'";
	return NULL;
}

/* The prefix after BUCKET/: slashes at the ends dropped, no empty, "." or ".." parts. */
static int take_prefix(eng_url *u, const char *text, const char *s, eng_err *err)
{
	while (*s == '/')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		n--;
	if (!take(u->path, sizeof(u->path), s, n))
		return eng_fail(err, ENG_EINPUT, "%s: the prefix is too long", text);
	for (char *part = u->path; *part;) {
		char *slash = strchr(part, '/');
		size_t len = slash ? (size_t)(slash - part) : strlen(part);
		if (!len || (len == 1 && part[0] == '.') || (len == 2 && !strncmp(part, "..", 2)))
			return eng_fail(err, ENG_EINPUT, "%s: the prefix has an empty, '.' or '..' part", text);
		part += len + (slash ? 1 : 0);
	}
	return ENG_OK;
}

int eng_url_parse(const char *text, eng_url *u, eng_err *err)
{
	memset(u, 0, sizeof(*u));
	if (!text || !*text)
		return eng_fail(err, ENG_EINPUT, "empty store URL");
	const char *sep = strstr(text, "://");
	if (!sep || !strncmp(text, "file://", 7)) {
		const char *p = sep ? text + 7 : text;
		if (!*p)
			return eng_fail(err, ENG_EINPUT, "%s: no path", text);
		strcpy(u->scheme, "file");
		size_t n = strlen(p);
		while (n > 1 && p[n - 1] == '/')
			n--;
		if (!take(u->path, sizeof(u->path), p, n))
			return eng_fail(err, ENG_EINPUT, "store path too long");
		return ENG_OK;
	}
	size_t sl = (size_t)(sep - text);
	const char *rest = sep + 3;
	if (sl == 5 && !strncmp(text, "azure", 5))
		strcpy(u->scheme, "az");
	else if ((sl == 2 && (!strncmp(text, "s3", 2) || !strncmp(text, "az", 2))) || (sl == 4 && !strncmp(text, "sftp", 4)))
		take(u->scheme, sizeof(u->scheme), text, sl);
	else
		return eng_fail(err, ENG_EINPUT, "%s: unknown kind of store '%.*s://' (use a path, s3://, az:// or sftp://)",
				text, (int)(sl > 16 ? 16 : sl), text);
	if (!strcmp(u->scheme, "sftp")) {
		const char *at = strchr(rest, '@'), *slash = strchr(rest, '/');
		if (!at || (slash && at > slash))
			return eng_fail(err, ENG_EINPUT, "%s: give the user, as sftp://USER@HOST[:PORT]/PATH", text);
		if (strchr(rest, ':') && strchr(rest, ':') < at)
			return eng_fail(err, ENG_EINPUT, "%s: a password does not belong in the URL (use a key: LIFEBOAT_SSH_KEY)", text);
		if (!take(u->user, sizeof(u->user), rest, (size_t)(at - rest)) || !u->user[0])
			return eng_fail(err, ENG_EINPUT, "%s: bad user name", text);
		const char *h = at + 1, *hend = slash ? slash : h + strlen(h);
		const char *colon = memchr(h, ':', (size_t)(hend - h));
		if (!take(u->host, sizeof(u->host), h, (size_t)((colon ? colon : hend) - h)) || !u->host[0])
			return eng_fail(err, ENG_EINPUT, "%s: no host", text);
		if (colon) {
			char *end;
			long port = strtol(colon + 1, &end, 10);
			if (end != hend || port < 1 || port > 65535)
				return eng_fail(err, ENG_EINPUT, "%s: bad port", text);
			u->port = (int)port;
		}
		if (!slash || !slash[1])
			return eng_fail(err, ENG_EINPUT, "%s: give the store's folder, as sftp://USER@HOST[:PORT]/PATH", text);
		size_t n = strlen(slash);
		while (n > 1 && slash[n - 1] == '/')
			n--;
		if (!take(u->path, sizeof(u->path), slash, n))
			return eng_fail(err, ENG_EINPUT, "%s: path too long", text);
		return ENG_OK;
	}
	const char *slash = strchr(rest, '/');
	size_t bl = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *what = !strcmp(u->scheme, "s3") ? "bucket" : "container";
	if (!bl)
		return eng_fail(err, ENG_EINPUT, "%s: no %s name", text, what);
	if (!take(u->bucket, sizeof(u->bucket), rest, bl))
		return eng_fail(err, ENG_EINPUT, "%s: the %s name must be 3 to 63 characters", text, what);
	const char *why = bucket_problem(u->scheme, u->bucket);
	if (why)
		return eng_fail(err, ENG_EINPUT, "%s: %s name '%s' %s", text, what, u->bucket, why);
	return slash ? take_prefix(u, text, slash, err) : ENG_OK;
}
