/* cmd_sync.c — `lifeboat sync`: a new recovery point of an image. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat sync SOURCE --store URL --as MACHINE/DATASET [options]\n\n"
	"Takes a recovery point of SOURCE, incremental against the newest point of\n"
	"MACHINE/DATASET, and prints its id. SOURCE is a disk image file or a block\n"
	"device (an image point: fixed blocks), or a folder (a tree point: files,\n"
	"folders, links, modes, times and owners; files whose size, mtime, ctime\n"
	"and inode match the previous point are not read again).\n\n"
	"  --store URL            the replica store (default: LIFEBOAT_STORE)\n"
	"  --as MACHINE/DATASET   which dataset this is\n"
	"  --site NAME            the site the data comes from; needed for a machine of\n"
	"                         a recovery plan, whose state in the store says which\n"
	"                         site may replicate it (a fenced site is refused)\n"
	"  --consistency C        crash (default), app (quiesce hooks ran) or planned\n"
	"                         (the machine was shut down)\n"
	"  --block-size N         image block size, a power of two from 4KiB to 4MiB\n"
	"                         (default: the previous point's, else 16KiB)\n"
	"  --key-file FILE        key of an encrypted store (default: LIFEBOAT_KEY_FILE,\n"
	"                         or the passphrase in LIFEBOAT_PASSPHRASE)\n"
	"  --changed FILE         image: read only these byte ranges (\"OFFSET LENGTH\" lines,\n"
	"                         e.g. from a VM's dirty bitmap); every other block is\n"
	"                         taken from the point given by --since\n"
	"                         folder: list only these folders (paths inside it, \".\"\n"
	"                         the folder itself, each ended by a NUL byte, e.g. from\n"
	"                         a watcher); every other folder is taken whole from the\n"
	"                         point given by --since\n"
	"  --since POINT          the point the changes are relative to: for an image it\n"
	"                         must be the dataset's newest; for a folder, against\n"
	"                         another point every folder is listed\n"
	"  --run ID               the replicate run this point is part of (a plan's job\n"
	"                         id): points of one run are a consistent set\n"
	"  --threads N            worker threads, 1 to 64 (default: one per core)\n"
	"  --json                 print a JSON summary instead of the id\n";

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "as", required_argument, NULL, 'a' },
		{ "site", required_argument, NULL, 'S' },
		{ "consistency", required_argument, NULL, 'c' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 't' },
		{ "changed", required_argument, NULL, 'C' },
		{ "since", required_argument, NULL, 'P' },
		{ "run", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_sync_opts o = { 0 };
	const char *as = NULL;
	char machine[256], dataset[256];
	uint64_t bs = 0;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'a': as = optarg; break;
		case 'S': o.site = optarg; break;
		case 'c': o.consistency = optarg; break;
		case 'b':
			if (!rt_parse_size(optarg, &bs) || bs > UINT32_MAX)
				return rt_usage("sync", "--block-size '%s' is not a size such as 16KiB", optarg);
			break;
		case 'k': so.key_file = optarg; break;
		case 't':
			if (!rt_parse_threads("sync", optarg, &o.run.threads))
				return EXIT_BAD_INPUT;
			break;
		case 'C': o.changed = optarg; break;
		case 'P': o.since = optarg; break;
		case 'R': o.run_id = optarg; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("sync", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("sync", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return rt_usage("sync", argc == optind ? "give the SOURCE to sync" : "give exactly one SOURCE");
	if (!as)
		return rt_usage("sync", "give --as MACHINE/DATASET");
	if (!rt_split_target("sync", as, machine, dataset, NULL, false))
		return EXIT_BAD_INPUT;
	o.machine = machine;
	o.dataset = dataset;
	o.block_size = (uint32_t)bs;
	if (o.consistency && strcmp(o.consistency, "crash") && strcmp(o.consistency, "app") &&
	    strcmp(o.consistency, "planned"))
		return rt_usage("sync", "--consistency '%s' is not one of crash, app, planned", o.consistency);
	if (!o.changed != !o.since)
		return rt_usage("sync", "--changed and --since go together");
	if (bs && (bs < 4096 || bs > (4u << 20) || (bs & (bs - 1))))
		return rt_usage("sync", "--block-size must be a power of two from 4KiB to 4MiB");

	eng_store *s;
	int rc = rt_open_store("sync", &so, &s);
	if (rc)
		return rc;
	rt_progress prog;
	rt_progress_init(&prog, "sync", so.json);
	o.run.cancel = &rt_cancel;
	o.run.progress = rt_progress_cb;
	o.run.progress_ctx = &prog;
	eng_sync_result r;
	eng_err err;
	rc = eng_sync(s, argv[optind], &o, &r, &err);
	rt_progress_done(&prog);
	eng_store_close(s);
	if (rc)
		return rt_fail("sync", rc, "%s", err.msg);
	if (so.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "point", r.point_id);
		cJSON_AddStringToObject(j, "machine", machine);
		cJSON_AddStringToObject(j, "dataset", dataset);
		cJSON_AddStringToObject(j, "kind", r.kind);
		cJSON_AddNumberToObject(j, "size", (double)r.size);
		cJSON_AddNumberToObject(j, "bytes_read", (double)r.bytes_read);
		cJSON_AddNumberToObject(j, "bytes_added", (double)r.bytes_added);
		cJSON_AddNumberToObject(j, "chunks_added", (double)r.chunks_added);
		cJSON_AddNumberToObject(j, "holes", (double)r.holes);
		cJSON_AddNumberToObject(j, "files", (double)r.files);
		cJSON_AddNumberToObject(j, "files_unchanged", (double)r.skipped);
		if (!strcmp(r.kind, "tree")) {
			cJSON_AddNumberToObject(j, "folders_listed", (double)r.folders_listed);
			cJSON_AddStringToObject(j, "walk", r.walked_changed ? "changed" : "full");
		}
		cJSON_AddNumberToObject(j, "seconds", rt_seconds(r.seconds));
		if (!rt_json_print(j))
			return EXIT_FAILED;
	} else {
		char a[32], b[32], d[32], e[32];
		printf("%s\n", r.point_id);
		char files[80] = "";
		if (!strcmp(r.kind, "tree"))
			snprintf(files, sizeof(files), " in %llu files (%llu unchanged, not read)", (unsigned long long)r.files,
				 (unsigned long long)r.skipped);
		fprintf(stderr, "point %s of %s/%s: %s %s%s, %s read, %s added, %.2fs (%s/s)\n", r.point_id, machine,
			dataset, rt_size(r.size, a), r.kind, files, rt_size(r.bytes_read, b), rt_size(r.bytes_added, d),
			r.seconds, rt_size(r.seconds > 0 ? (uint64_t)((double)r.size / r.seconds) : r.size, e));
	}
	return EXIT_DONE;
}
