/* cmd_verify.c — `lifeboat verify`: checks a store. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat verify --store URL [--full] [--json]\n\n"
	"Checks that every index, pack and point of the store is present and\n"
	"readable and that every chunk a point needs is in the store. With --full\n"
	"it also reads every pack and authenticates every chunk. Each problem is\n"
	"printed on its own line naming the damaged object; exit code 1 if any.\n\n"
	"  --store URL      the replica store (default: LIFEBOAT_STORE)\n"
	"  --full           read and authenticate every chunk\n"
	"  --key-file FILE  key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --threads N      worker threads, 1 to 64 (default: by the number of cores)\n"
	"  --json           print a JSON summary\n";

static void print_problem(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "lifeboat verify: %s\n", line);
}

static void print_note(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "lifeboat verify: note: %s\n", line);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "full", no_argument, NULL, 'F' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_verify_opts o = { .report = print_problem, .note = print_note };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'F': o.full = true; break;
		case 't':
			if (!rt_parse_threads("verify", optarg, &o.run.threads))
				return EXIT_BAD_INPUT;
			break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("verify", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("verify", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return rt_usage("verify", "unexpected argument '%s'", argv[optind]);
	eng_store *s;
	int rc = rt_open_store("verify", &so, &s);
	if (rc)
		return rc;
	rt_progress prog;
	rt_progress_init(&prog, "verify", so.json);
	o.run.cancel = &rt_cancel;
	o.run.progress = rt_progress_cb;
	o.run.progress_ctx = &prog;
	eng_verify_result r;
	eng_err err;
	rc = eng_verify(s, &o, &r, &err);
	rt_progress_done(&prog);
	eng_store_close(s);
	if (so.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddBoolToObject(j, "ok", rc == ENG_OK);
		cJSON_AddBoolToObject(j, "full", o.full);
		cJSON_AddNumberToObject(j, "problems", (double)r.problems);
		cJSON_AddNumberToObject(j, "notes", (double)r.notes);
		cJSON_AddNumberToObject(j, "points", (double)r.points);
		cJSON_AddNumberToObject(j, "packs", (double)r.packs);
		cJSON_AddNumberToObject(j, "chunks", (double)r.chunks);
		cJSON_AddNumberToObject(j, "bytes_checked", (double)r.bytes_checked);
		if (!rt_json_print(j) && !rc)
			return EXIT_FAILED;
	}
	if (rc)
		return rt_fail("verify", rc, "%s", err.msg);
	if (!so.json)
		printf("store %s is sound: %llu points, %llu packs, %llu chunks%s\n", so.url,
		       (unsigned long long)r.points, (unsigned long long)r.packs, (unsigned long long)r.chunks,
		       o.full ? " read and authenticated" : " indexed");
	return EXIT_DONE;
}
