/* cmd_store_copy.c — `lifeboat store copy SRC DST`: copies recovery points
 * (and the chunks they need) that DST lacks, re-encrypting when the keys differ. */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat store copy SRC DST [MACHINE[/DATASET]] [options]\n\n"
	"Copies the recovery points of store SRC that store DST does not have yet,\n"
	"with every chunk they need, oldest first: a second region, an offline copy.\n"
	"Run it again to bring DST up to date; only what is new is sent. When the two\n"
	"stores have different keys, every chunk is opened with SRC's key and sealed\n"
	"again with DST's. DST must exist (lifeboat store init). A copy that is\n"
	"interrupted leaves DST sound; the next one resumes.\n\n"
	"  --key-file FILE      key of SRC (default: LIFEBOAT_KEY_FILE, or the passphrase\n"
	"                       in LIFEBOAT_PASSPHRASE)\n"
	"  --to-key-file FILE   key of DST (default: LIFEBOAT_TO_KEY_FILE, or the\n"
	"                       passphrase in LIFEBOAT_TO_PASSPHRASE; without either,\n"
	"                       SRC's key when DST is encrypted)\n"
	"  --json               print a JSON summary\n";

/* DST's secret: given explicitly, else none (a plain DST), else SRC's. */
static int open_dst(const char *url, const char *to_key, const eng_secret *src_sec, eng_store **out)
{
	eng_secret sec = { 0 };
	eng_err err;
	const char *env_file = getenv("LIFEBOAT_TO_KEY_FILE"), *env_pass = getenv("LIFEBOAT_TO_PASSPHRASE");
	bool given = true;
	if (to_key)
		sec = (eng_secret){ .key_file = to_key, .origin = "--to-key-file" };
	else if (env_file && *env_file)
		sec = (eng_secret){ .key_file = env_file, .origin = "LIFEBOAT_TO_KEY_FILE in the environment" };
	else if (env_pass && *env_pass)
		sec = (eng_secret){ .passphrase = env_pass, .origin = "LIFEBOAT_TO_PASSPHRASE in the environment" };
	else
		given = false;
	int rc = eng_store_open(url, &sec, out, &err);
	if (rc == ENG_EKEY && !given && src_sec->origin)
		rc = eng_store_open(url, src_sec, out, &err);
	return rc ? rt_fail("store copy", rc, "%s", err.msg) : EXIT_DONE;
}

int cmd_store_copy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-file", required_argument, NULL, 'k' },
		{ "to-key-file", required_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	const char *to_key = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': so.key_file = optarg; break;
		case 'K': to_key = optarg; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("store copy", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("store copy", "unknown option '%s'", argv[optind - 1]);
		}
	}
	int nargs = argc - optind;
	if (nargs < 2 || nargs > 3)
		return rt_usage("store copy", "give SRC, DST and at most one MACHINE[/DATASET]");
	char machine[256], dataset[256];
	if (!rt_parse_scope("store copy", nargs == 3 ? argv[optind + 2] : NULL, machine, dataset))
		return EXIT_BAD_INPUT;
	if (!strcmp(argv[optind], argv[optind + 1]))
		return rt_usage("store copy", "SRC and DST are the same store");
	so.url = argv[optind];
	eng_store *src = NULL, *dst = NULL;
	int rc = rt_open_store("store copy", &so, &src);
	if (rc)
		return rc;
	eng_secret src_sec;
	rt_secret(&so, &src_sec);
	if ((rc = open_dst(argv[optind + 1], to_key, &src_sec, &dst))) {
		eng_store_close(src);
		return rc;
	}
	rt_progress prog;
	rt_progress_init(&prog, "copy", so.json);
	eng_copy_opts o = { .machine = machine[0] ? machine : NULL, .dataset = dataset[0] ? dataset : NULL,
			    .run = { .cancel = &rt_cancel, .progress = rt_progress_cb, .progress_ctx = &prog } };
	eng_copy_result r;
	eng_err err;
	rc = eng_copy(src, dst, &o, &r, &err);
	rt_progress_done(&prog);
	eng_store_close(src);
	eng_store_close(dst);
	if (rc)
		return rt_fail("store copy", rc, "%s", err.msg);
	if (so.json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "points_copied", (double)r.points_copied);
		cJSON_AddNumberToObject(j, "points_present", (double)r.points_present);
		cJSON_AddNumberToObject(j, "chunks_copied", (double)r.chunks_copied);
		cJSON_AddNumberToObject(j, "bytes_read", (double)r.bytes_read);
		cJSON_AddNumberToObject(j, "bytes_added", (double)r.bytes_added);
		cJSON_AddBoolToObject(j, "reencrypted", r.reencrypted);
		cJSON_AddNumberToObject(j, "seconds", r.seconds);
		char *text = cJSON_PrintUnformatted(j);
		puts(text ? text : "{}");
		free(text);
		cJSON_Delete(j);
	} else {
		char a[32], b[32];
		printf("copied %llu point%s (%llu already there), %s read, %s added%s, %.2fs\n",
		       (unsigned long long)r.points_copied, r.points_copied == 1 ? "" : "s",
		       (unsigned long long)r.points_present, rt_size(r.bytes_read, a), rt_size(r.bytes_added, b),
		       r.reencrypted ? ", re-encrypted" : "", r.seconds);
	}
	return EXIT_DONE;
}
