/* cli.h — what every command shares: exit codes, the one-line error
 * format, option parsing helpers, store opening from options, human sizes
 * and the progress bar. */
#ifndef RT_CLI_H
#define RT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "lifeboat_engine.h"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_BAD_INPUT = 2,
	EXIT_PAUSED = 3,
	EXIT_INTERRUPTED = 130,
};

/* Set by SIGINT/SIGTERM; the engine polls it. */
extern volatile int rt_cancel;
extern volatile int rt_reload;
void rt_install_signals(void);
void rt_catch_hup(void);

/* Prints "lifeboat CMD: message" to stderr and returns the exit code for status. */
int rt_fail(const char *cmd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rt_exit_code(int engine_status);

/* Options every store command takes. */
typedef struct rt_store_opts {
	const char *url;
	const char *key_file;
	bool json;
} rt_store_opts;

/* Opens the store named by --store (or LIFEBOAT_STORE); on failure prints and returns the exit code. */
int rt_open_store(const char *cmd, rt_store_opts *o, eng_store **out);
/* Fills the secret from --key-file, LIFEBOAT_KEY_FILE or LIFEBOAT_PASSPHRASE;
 * sec->origin names the one in effect (NULL: none). */
void rt_secret(const rt_store_opts *o, eng_secret *sec);

/* "1.5 GiB" */
const char *rt_size(uint64_t bytes, char buf[32]);
/* Parses "16KiB", "4096", "1M": returns false on anything else. */
bool rt_parse_size(const char *s, uint64_t *out);

/* A progress bar on stderr when it is a terminal and output is not JSON. */
typedef struct rt_progress {
	const char *label;
	bool on;
	int64_t start_us;
} rt_progress;
void rt_progress_init(rt_progress *p, const char *label, bool json);
void rt_progress_cb(void *ctx, uint64_t done, uint64_t total);
void rt_progress_done(rt_progress *p);

/* Parses "90s", "15m", "24h", "7d", "1h30m", "500ms" (units largest first,
 * each once, at most 10^9 seconds) into microseconds. */
bool rt_parse_duration(const char *s, int64_t *us);

/* Parses --threads N (1 to RT_MAX_THREADS, the engine's limit); false (with
 * a message printed) otherwise. */
#define RT_MAX_THREADS 64
bool rt_parse_threads(const char *cmd, const char *arg, int *out);

/* Splits MACHINE/DATASET[@POINT]; false (with a message printed) when malformed. */
bool rt_split_target(const char *cmd, const char *arg, char *machine, char *dataset, char *point, bool allow_point);

/* Parses an optional MACHINE or MACHINE/DATASET scope (arg may be NULL);
 * false (with a message printed) when malformed. Empty strings mean "all". */
bool rt_parse_scope(const char *cmd, const char *arg, char machine[256], char dataset[256]);

/* Prints a JSON value on one line to stdout and frees it; false when out of memory. */
struct cJSON;
bool rt_json_print(struct cJSON *v);
/* Seconds rounded to the millisecond, for JSON. */
double rt_seconds(double s);

#endif
