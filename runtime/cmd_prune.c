/* cmd_prune.c — `lifeboat prune`: retention and garbage collection. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat prune --store URL [MACHINE[/DATASET]] [--keep-within D]\n"
	"                      [--keep-last N] [--keep-app N] [--dry-run] [--json]\n\n"
	"Forgets the points of each dataset that the policy does not keep, then\n"
	"removes the chunks no remaining point needs, repacking packs that are\n"
	"mostly garbage. Each dataset's newest point and newest app-consistent point\n"
	"are always kept. Prune needs the store alone: a sync or restore running at\n"
	"the same time makes it fail (exit 1) without changing anything.\n\n"
	"  --store URL       the replica store (default: LIFEBOAT_STORE)\n"
	"  --keep-within D   keep points younger than D (90s, 15m, 24h, 7d, 1h30m)\n"
	"  --keep-last N     keep the newest N points of each dataset\n"
	"  --keep-app N      keep the newest N app-consistent points of each dataset\n"
	"  --forget-all      forget every point in the MACHINE[/DATASET] scope, newest\n"
	"                    too (what 'commit' does when a migration is complete)\n"
	"  --dry-run         print what would be forgotten and freed; change nothing\n"
	"  --key-file FILE   key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --json            print a JSON summary, with each point's verdict\n";

/* Each verdict: printed at once, or kept for the JSON summary (ctx non-NULL). */
static void on_verdict(void *ctx, const eng_point_info *p, bool keep, const char *why)
{
	cJSON *list = ctx;
	if (!list) {
		printf("%-6s %s  %s/%s  %s  %s  (%s)\n", keep ? "keep" : "forget", p->id, p->machine, p->dataset,
		       p->time, p->consistency, why);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "machine", p->machine);
	cJSON_AddStringToObject(o, "dataset", p->dataset);
	cJSON_AddStringToObject(o, "time", p->time);
	cJSON_AddStringToObject(o, "consistency", p->consistency);
	cJSON_AddBoolToObject(o, "keep", keep);
	cJSON_AddStringToObject(o, "why", why);
	cJSON_AddItemToArray(list, o);
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "keep-within", required_argument, NULL, 'w' },
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-app", required_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "forget-all", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_prune_opts o = { .verdict = on_verdict };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		char *end;
		long v;
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'w':
			if (!rt_parse_duration(optarg, &o.keep_within_us) || !o.keep_within_us)
				return rt_usage("prune", "--keep-within '%s' is not a duration such as 24h or 1h30m", optarg);
			break;
		case 'l':
		case 'a':
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 1000000)
				return rt_usage("prune", "%s '%s' is not a count from 1", c == 'l' ? "--keep-last" : "--keep-app",
						optarg);
			*(c == 'l' ? &o.keep_last : &o.keep_app) = (int)v;
			break;
		case 'n': o.dry_run = true; break;
		case 'F': o.forget_all = true; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("prune", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("prune", "unknown option '%s'", argv[optind - 1]);
		}
	}
	char machine[256], dataset[256];
	if (argc - optind > 1)
		return rt_usage("prune", "give at most one MACHINE[/DATASET]");
	if (!rt_parse_scope("prune", optind < argc ? argv[optind] : NULL, machine, dataset))
		return EXIT_BAD_INPUT;
	if (!o.keep_within_us && !o.keep_last && !o.keep_app && !o.forget_all)
		return rt_usage("prune", "give a policy: --keep-within, --keep-last, --keep-app or --forget-all");
	if (o.forget_all && !machine[0])
		return rt_usage("prune", "--forget-all needs a MACHINE[/DATASET] scope");
	o.machine = machine[0] ? machine : NULL;
	o.dataset = dataset[0] ? dataset : NULL;
	eng_store *s;
	int rc = rt_open_store("prune", &so, &s);
	if (rc)
		return rc;
	o.run.cancel = &rt_cancel;
	cJSON *verdicts = so.json ? cJSON_CreateArray() : NULL;
	o.verdict_ctx = verdicts;
	eng_prune_result r;
	eng_err err;
	rc = eng_prune(s, &o, &r, &err);
	eng_store_close(s);
	if (rc) {
		cJSON_Delete(verdicts);
		return rt_fail("prune", rc, "%s", err.msg);
	}
	char a[32], b[32];
	if (so.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddBoolToObject(j, "dry_run", o.dry_run);
		cJSON_AddNumberToObject(j, "points_kept", (double)r.points_kept);
		cJSON_AddNumberToObject(j, "points_forgotten", (double)r.points_forgotten);
		cJSON_AddNumberToObject(j, "packs_deleted", (double)r.packs_deleted);
		cJSON_AddNumberToObject(j, "packs_repacked", (double)r.packs_repacked);
		cJSON_AddNumberToObject(j, "packs_written", (double)r.packs_written);
		cJSON_AddNumberToObject(j, "bytes_freed", (double)r.bytes_freed);
		cJSON_AddNumberToObject(j, "bytes_repacked", (double)r.bytes_repacked);
		cJSON_AddNumberToObject(j, "leftovers_removed", (double)r.leftovers);
		cJSON_AddItemToObject(j, "verdicts", verdicts);
		if (!rt_json_print(j))
			return EXIT_FAILED;
	} else
		printf("%s %llu points, kept %llu; %s %s (%llu packs deleted, %llu repacked, %s of live data copied)\n",
		       o.dry_run ? "would forget" : "forgot", (unsigned long long)r.points_forgotten,
		       (unsigned long long)r.points_kept, o.dry_run ? "would free" : "freed", rt_size(r.bytes_freed, a),
		       (unsigned long long)r.packs_deleted, (unsigned long long)r.packs_repacked,
		       rt_size(r.bytes_repacked, b));
	return EXIT_DONE;
}
