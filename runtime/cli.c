/* cli.c — shared command-line plumbing. */
#include "cli.h"
#include "tasks.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

volatile int rt_cancel;
volatile int rt_reload;

static void on_signal(int sig)
{
	(void)sig;
	rt_cancel = 1;
	rt_tasks_wake();
}

void rt_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void on_hup(int sig)
{
	(void)sig;
	rt_reload = 1;
	rt_tasks_wake();
}

/* SIGHUP asks a long-running command (protect) to reload, instead of
 * ending the process. */
void rt_catch_hup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

int rt_exit_code(int status)
{
	switch (status) {
	case ENG_OK: return EXIT_DONE;
	case ENG_EINPUT:
	case ENG_EFORMAT:
	case ENG_EKEY:
	case ENG_EEXIST:
	case ENG_EFENCED: return EXIT_BAD_INPUT;
	case ENG_ECANCEL: return EXIT_INTERRUPTED;
	default: return EXIT_FAILED;
	}
}

int rt_fail(const char *cmd, int status, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "lifeboat %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rt_exit_code(status);
}

int rt_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "lifeboat %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'lifeboat %s --help')\n", cmd);
	return EXIT_BAD_INPUT;
}

void rt_secret(const rt_store_opts *o, eng_secret *sec)
{
	const char *env_file = getenv("LIFEBOAT_KEY_FILE");
	sec->key_file = o->key_file ? o->key_file : env_file && *env_file ? env_file : NULL;
	sec->passphrase = getenv("LIFEBOAT_PASSPHRASE");
	/* The key file wins over the passphrase; messages name where it came from. */
	if (o->key_file)
		sec->origin = "--key-file";
	else if (sec->key_file)
		sec->origin = "LIFEBOAT_KEY_FILE in the environment";
	else if (sec->passphrase && *sec->passphrase)
		sec->origin = "LIFEBOAT_PASSPHRASE in the environment";
	else
		sec->origin = NULL;
}

static void print_note(void *ctx, const char *line)
{
	fprintf(stderr, "lifeboat %s: note: %s\n", (const char *)ctx, line);
}

int rt_open_store(const char *cmd, rt_store_opts *o, eng_store **out)
{
	if (!o->url)
		o->url = getenv("LIFEBOAT_STORE");
	if (!o->url || !*o->url)
		return rt_usage(cmd, "no store given: use --store URL (or set LIFEBOAT_STORE)");
	eng_secret sec;
	eng_err err;
	rt_secret(o, &sec);
	int rc = eng_store_open(o->url, &sec, out, &err);
	if (rc)
		return rt_fail(cmd, rc, "%s", err.msg);
	eng_store_notes(*out, print_note, (void *)cmd);
	return EXIT_DONE;
}

const char *rt_size(uint64_t bytes, char buf[32])
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, 32, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

bool rt_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	static const struct { const char *suffix; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "K", 1024 }, { "KiB", 1024 }, { "M", 1 << 20 }, { "MiB", 1 << 20 },
		{ "G", 1 << 30 }, { "GiB", 1 << 30 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return false;
			*out = v * units[i].mul;
			return true;
		}
	}
	return false;
}

static int64_t now_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void rt_progress_init(rt_progress *p, const char *label, bool json)
{
	p->label = label;
	p->on = !json && isatty(STDERR_FILENO);
	p->start_us = now_us();
}

void rt_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	rt_progress *p = ctx;
	if (!p->on)
		return;
	char a[32], b[32], r[32];
	double secs = (double)(now_us() - p->start_us) / 1e6;
	double rate = secs > 0 ? (double)done / secs : 0;
	int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
	char eta[32] = "";
	if (rate > 0 && total > done)
		snprintf(eta, sizeof(eta), "  ETA %.0fs", (double)(total - done) / rate);
	int width = 24, fill = total ? (int)((double)width * (double)done / (double)total) : width;
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	fprintf(stderr, "\r\033[K%s [%s] %3d%%  %s / %s  %s/s%s", p->label, bar, pct, rt_size(done, a),
		rt_size(total, b), rt_size((uint64_t)rate, r), eta);
	fflush(stderr);
}

void rt_progress_done(rt_progress *p)
{
	if (p->on)
		fprintf(stderr, "\r\033[K");
}

bool rt_parse_threads(const char *cmd, const char *arg, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > RT_MAX_THREADS) {
		rt_usage(cmd, "--threads '%s' is not a count from 1 to %d", arg, RT_MAX_THREADS);
		return false;
	}
	*out = (int)v;
	return true;
}

bool rt_split_target(const char *cmd, const char *arg, char *machine, char *dataset, char *point, bool allow_point)
{
	const char *slash = strchr(arg, '/');
	const char *at = strchr(arg, '@');
	if (!slash || (at && at < slash)) {
		rt_usage(cmd, "'%s' is not MACHINE/DATASET%s", arg, allow_point ? "[@POINT]" : "");
		return false;
	}
	if (at && !allow_point) {
		rt_usage(cmd, "'%s': a point cannot be given here", arg);
		return false;
	}
	size_t ml = (size_t)(slash - arg), dl = at ? (size_t)(at - slash - 1) : strlen(slash + 1);
	if (ml > 255 || dl > 255 || (at && strlen(at + 1) > 63)) {
		rt_usage(cmd, "'%s' is too long", arg);
		return false;
	}
	memcpy(machine, arg, ml);
	machine[ml] = 0;
	memcpy(dataset, slash + 1, dl);
	dataset[dl] = 0;
	if (point)
		strcpy(point, at ? at + 1 : "latest");
	const char *why;
	if (!eng_name_valid(machine, &why)) {
		rt_usage(cmd, "machine name '%s' %s", machine, why);
		return false;
	}
	if (!eng_name_valid(dataset, &why)) {
		rt_usage(cmd, "dataset name '%s' %s", dataset, why);
		return false;
	}
	return true;
}

bool rt_parse_scope(const char *cmd, const char *arg, char machine[256], char dataset[256])
{
	const char *why;
	machine[0] = dataset[0] = 0;
	if (!arg)
		return true;
	if (strchr(arg, '/'))
		return rt_split_target(cmd, arg, machine, dataset, NULL, false);
	if (!eng_name_valid(arg, &why)) {
		rt_usage(cmd, "machine name '%s' %s", arg, why);
		return false;
	}
	snprintf(machine, 256, "%s", arg);
	return true;
}

bool rt_json_print(cJSON *v)
{
	char *text = v ? cJSON_PrintUnformatted(v) : NULL;
	cJSON_Delete(v);
	if (!text) {
		fprintf(stderr, "lifeboat: out of memory writing JSON\n");
		return false;
	}
	puts(text);
	free(text);
	return true;
}

double rt_seconds(double s)
{
	return round(s * 1000) / 1000;
}

#define MAX_DURATION_US 1000000000000000LL

bool rt_parse_duration(const char *s, int64_t *us)
{
	static const struct { const char *unit; int64_t us; } units[] = {
		{ "d", 86400000000LL }, { "h", 3600000000LL }, { "m", 60000000LL }, { "s", 1000000LL }, { "ms", 1000LL },
	};
	enum { N_UNITS = sizeof(units) / sizeof(units[0]) };
	int64_t total = 0;
	size_t next_unit = 0;
	if (!s || !*s)
		return false;
	while (*s) {
		if (*s < '0' || *s > '9')
			return false;
		int64_t v = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (v > 1000000000)
				return false;
		}
		/* "ms" before "m": the longest unit that matches */
		size_t u = N_UNITS, len = 0;
		for (size_t i = next_unit; i < N_UNITS; i++) {
			size_t n = strlen(units[i].unit);
			if (!strncmp(s, units[i].unit, n) && n > len && (s[n] == '\0' || (s[n] >= '0' && s[n] <= '9')))
				u = i, len = n;
		}
		if (u == N_UNITS)
			return false; /* a missing, unknown or out-of-order unit */
		/* at most 10^9 seconds in all (31 years): no product overflows */
		if (v > MAX_DURATION_US / units[u].us || total > MAX_DURATION_US - v * units[u].us)
			return false;
		total += v * units[u].us;
		next_unit = u + 1;
		s += len;
	}
	*us = total;
	return true;
}
