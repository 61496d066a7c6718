/* cmd_points.c — `lifeboat points`: the recovery points in a store. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat points --store URL [MACHINE[/DATASET]] [--json]\n\n"
	"Lists recovery points, oldest first: id, time (UTC), consistency, image\n"
	"size and the bytes that point added to the store.\n\n"
	"  --store URL      the replica store (default: LIFEBOAT_STORE)\n"
	"  --key-file FILE  key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --json           an array of objects: id, machine, dataset, kind, time\n"
	"                   (RFC 3339, UTC), consistency, size, added_bytes,\n"
	"                   block_size, parent, run (the replicate job that made it)\n";

static cJSON *point_json(const eng_point_info *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "machine", p->machine);
	cJSON_AddStringToObject(o, "dataset", p->dataset);
	cJSON_AddStringToObject(o, "kind", p->kind);
	cJSON_AddStringToObject(o, "time", p->time);
	cJSON_AddStringToObject(o, "consistency", p->consistency);
	if (p->run[0])
		cJSON_AddStringToObject(o, "run", p->run);
	cJSON_AddNumberToObject(o, "size", (double)p->size);
	cJSON_AddNumberToObject(o, "added_bytes", (double)p->added_bytes);
	cJSON_AddNumberToObject(o, "block_size", p->block_size);
	if (p->parent[0])
		cJSON_AddStringToObject(o, "parent", p->parent);
	else
		cJSON_AddNullToObject(o, "parent");
	return o;
}

int cmd_points(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("points", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("points", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return rt_usage("points", "give at most one MACHINE[/DATASET]");
	char machine[256], dataset[256];
	if (!rt_parse_scope("points", optind < argc ? argv[optind] : NULL, machine, dataset))
		return EXIT_BAD_INPUT;
	eng_store *s;
	int rc = rt_open_store("points", &so, &s);
	if (rc)
		return rc;
	eng_point_info *pts;
	size_t n;
	eng_err err;
	rc = eng_points_list(s, machine[0] ? machine : NULL, dataset[0] ? dataset : NULL, &pts, &n, &err);
	eng_store_close(s);
	if (rc)
		return rt_fail("points", rc, "%s", err.msg);
	if (so.json) {
		cJSON *list = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(list, point_json(&pts[i]));
		if (!rt_json_print(list)) {
			free(pts);
			return EXIT_FAILED;
		}
	} else if (n == 0) {
		fprintf(stderr, "no points\n");
	} else {
		printf("%-16s  %-24s  %-20s  %-11s  %10s  %10s\n", "ID", "MACHINE/DATASET", "TIME (UTC)",
		       "CONSISTENCY", "SIZE", "ADDED");
		for (size_t i = 0; i < n; i++) {
			const eng_point_info *p = &pts[i];
			char md[520], a[32], b[32];
			snprintf(md, sizeof(md), "%s/%s", p->machine, p->dataset);
			printf("%-16s  %-24s  %-20s  %-11s  %10s  %10s\n", p->id, md, p->time, p->consistency,
			       rt_size(p->size, a), rt_size(p->added_bytes, b));
		}
	}
	free(pts);
	return EXIT_DONE;
}
