/* cmd_restore.c — `lifeboat restore`: a recovery point back to a file or device. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat restore --store URL MACHINE/DATASET[@POINT|@latest] DEST [options]\n\n"
	"Writes a recovery point to DEST, bit-exact; holes stay holes. An image\n"
	"point becomes a file (or is written onto a block device); a tree point\n"
	"becomes a new folder with its files, links, modes, times (and owners, as\n"
	"root). Everything is written beside DEST and renamed into place when\n"
	"complete, so DEST never holds a half-written restore. POINT is an id or a\n"
	"unique prefix of one.\n\n"
	"  --store URL      the replica store (default: LIFEBOAT_STORE)\n"
	"  --force          replace DEST if it exists (a block device is written in place)\n"
	"  --delta          update an existing DEST in place: read it, write only the\n"
	"                   blocks that differ (failback); DEST is not atomic then\n"
	"  --key-file FILE  key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --threads N      worker threads, 1 to 64 (default: by the number of cores)\n"
	"  --json           print a JSON summary\n";

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "delta", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_restore_opts o = { 0 };
	char machine[256], dataset[256], point[64];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'f': o.force = true; break;
		case 'd': o.delta = true; break;
		case 't':
			if (!rt_parse_threads("restore", optarg, &o.run.threads))
				return EXIT_BAD_INPUT;
			break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("restore", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("restore", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return rt_usage("restore", "give MACHINE/DATASET[@POINT] and DEST");
	if (!rt_split_target("restore", argv[optind], machine, dataset, point, true))
		return EXIT_BAD_INPUT;
	const char *dest = argv[optind + 1];
	if (!*dest)
		return rt_usage("restore", "DEST is empty");
	o.machine = machine;
	o.dataset = dataset;
	o.point = point;
	eng_store *s;
	int rc = rt_open_store("restore", &so, &s);
	if (rc)
		return rc;
	rt_progress prog;
	rt_progress_init(&prog, "restore", so.json);
	o.run.cancel = &rt_cancel;
	o.run.progress = rt_progress_cb;
	o.run.progress_ctx = &prog;
	eng_restore_result r;
	eng_err err;
	rc = eng_restore(s, dest, &o, &r, &err);
	rt_progress_done(&prog);
	eng_store_close(s);
	if (rc)
		return rt_fail("restore", rc, "%s", err.msg);
	if (so.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "point", r.point_id);
		cJSON_AddStringToObject(j, "dest", dest);
		cJSON_AddNumberToObject(j, "size", (double)r.size);
		cJSON_AddNumberToObject(j, "bytes_read", (double)r.bytes_read);
		cJSON_AddNumberToObject(j, "bytes_written", (double)r.bytes_written);
		cJSON_AddNumberToObject(j, "seconds", rt_seconds(r.seconds));
		if (!rt_json_print(j))
			return EXIT_FAILED;
	} else {
		char a[32], b[32];
		char d[32], readpart[64] = "";
		if (o.delta)
			snprintf(readpart, sizeof(readpart), "%s read and compared, ", rt_size(r.bytes_read, d));
		printf("restored %s/%s@%s to %s: %s, %s%s written, %.2fs\n", machine, dataset, r.point_id, dest,
		       rt_size(r.size, a), readpart, rt_size(r.bytes_written, b), r.seconds);
	}
	return EXIT_DONE;
}
