/* cmd_store_info.c — `lifeboat store info URL`: whether URL holds a store,
 * and its settings, read without a key. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat store info URL [--json]\n\n"
	"Says whether URL holds a replica store, and its format, whether it is\n"
	"encrypted, its id and when it was made; no key is needed. Exit 0 either\n"
	"way (1 when the place cannot be reached or read, 2 for a bad URL or\n"
	"credentials).\n\n"
	"  --json   {\"exists\": true, \"kind\": \"s3\", \"format\": 2, \"encrypted\": true,\n"
	"            \"store_id\": \"...\", \"created\": \"...\", \"pack_size\": 16777216}\n"
	"           or {\"exists\": false, \"why\": \"...\"}\n";

int cmd_store_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		default: return rt_usage("store info", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return rt_usage("store info", "give exactly one URL");
	eng_store_info info;
	eng_err err;
	int rc = eng_store_info_get(argv[optind], &info, &err);
	if (rc)
		return rt_fail("store info", rc, "%s", err.msg);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "exists", info.exists);
		if (info.exists) {
			cJSON_AddStringToObject(o, "kind", info.kind);
			cJSON_AddNumberToObject(o, "format", (double)info.format);
			cJSON_AddBoolToObject(o, "encrypted", info.encrypted);
			cJSON_AddStringToObject(o, "store_id", info.store_id);
			cJSON_AddStringToObject(o, "created", info.created);
			cJSON_AddNumberToObject(o, "pack_size", (double)info.pack_size);
		} else {
			cJSON_AddStringToObject(o, "why", info.why);
		}
		char *text = cJSON_PrintUnformatted(o);
		puts(text ? text : "{}");
		free(text);
		cJSON_Delete(o);
	} else if (info.exists) {
		printf("%s: a %s store of format %llu, %s, made %s (id %s)\n", argv[optind], info.kind,
		       (unsigned long long)info.format, info.encrypted ? "encrypted" : "not encrypted", info.created,
		       info.store_id);
	} else {
		printf("%s: not a store (%s)\n", argv[optind], info.why);
	}
	return EXIT_DONE;
}
