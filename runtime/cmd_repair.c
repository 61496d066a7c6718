/* cmd_repair.c — `lifeboat repair`: rebuilds a store's index from its packs. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat repair --store URL [--dry-run] [--key-file FILE] [--json]\n\n"
	"Rebuilds the store's index from the sealed headers of its packs, after an\n"
	"index file was lost or damaged (verify then reports missing chunks). The\n"
	"new index is written before the old index files are removed, so an\n"
	"interrupted repair is simply run again. Each pack that cannot be read and\n"
	"each point that still lacks chunks afterwards is printed; the exit code is\n"
	"1 when there is any. Repair needs the store alone (no sync, restore,\n"
	"verify or prune may run).\n\n"
	"  --store URL      the replica store (default: LIFEBOAT_STORE)\n"
	"  --dry-run        read and report what repair would do; change nothing\n"
	"  --key-file FILE  key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --json           print a JSON summary (problems in it, not on stderr)\n";

struct problems {
	bool json;
	cJSON *list;
};

static void on_problem(void *ctx, const char *line)
{
	struct problems *p = ctx;
	if (p->json)
		cJSON_AddItemToArray(p->list, cJSON_CreateString(line));
	else
		fprintf(stderr, "lifeboat repair: %s\n", line);
}

static cJSON *result_json(const eng_repair_result *r, bool dry_run, bool ok, cJSON *problems)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", ok);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	cJSON_AddNumberToObject(o, "packs", (double)r->packs);
	cJSON_AddNumberToObject(o, "packs_indexed", (double)r->packs_indexed);
	cJSON_AddNumberToObject(o, "packs_added", (double)r->packs_added);
	cJSON_AddNumberToObject(o, "packs_damaged", (double)r->packs_damaged);
	cJSON_AddNumberToObject(o, "chunks", (double)r->chunks);
	cJSON_AddNumberToObject(o, "index_files_damaged", (double)r->index_files_damaged);
	cJSON_AddNumberToObject(o, "index_files_removed", (double)r->index_files_removed);
	cJSON_AddNumberToObject(o, "points", (double)r->points);
	cJSON_AddNumberToObject(o, "points_incomplete", (double)r->points_incomplete);
	cJSON_AddItemToObject(o, "problems", problems);
	return o;
}

int cmd_repair(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_repair_opts o = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'n': o.dry_run = true; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("repair", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("repair", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return rt_usage("repair", "unexpected argument '%s'", argv[optind]);
	eng_store *s;
	int rc = rt_open_store("repair", &so, &s);
	if (rc)
		return rc;
	struct problems probs = { .json = so.json, .list = cJSON_CreateArray() };
	rt_progress prog;
	rt_progress_init(&prog, "repair", so.json);
	o.run.cancel = &rt_cancel;
	o.run.progress = rt_progress_cb;
	o.run.progress_ctx = &prog;
	o.report = on_problem;
	o.report_ctx = &probs;
	eng_repair_result r;
	eng_err err;
	rc = eng_repair(s, &o, &r, &err);
	rt_progress_done(&prog);
	eng_store_close(s);
	/* A repair that found damage still did its work: the summary is printed either way. */
	bool summary = rc == ENG_OK || rc == ENG_ECORRUPT;
	if (summary && so.json) {
		if (!rt_json_print(result_json(&r, o.dry_run, rc == ENG_OK, probs.list)))
			return EXIT_FAILED;
	} else {
		cJSON_Delete(probs.list);
	}
	if (summary && !so.json)
		printf("%s store %s: %llu of %llu packs indexed (%llu named by no index before), %llu chunks; "
		       "%llu index files replaced (%llu damaged); %llu points, %llu not whole\n",
		       o.dry_run ? "would repair" : "repaired", so.url, (unsigned long long)r.packs_indexed,
		       (unsigned long long)r.packs, (unsigned long long)r.packs_added, (unsigned long long)r.chunks,
		       (unsigned long long)r.index_files_removed, (unsigned long long)r.index_files_damaged,
		       (unsigned long long)r.points, (unsigned long long)r.points_incomplete);
	if (rc)
		return rt_fail("repair", rc, "%s", err.msg);
	return EXIT_DONE;
}
