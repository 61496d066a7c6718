/* cmd_store.c — `lifeboat store init`: creates a replica store. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat store init URL [--encrypt [--key-file FILE]] [--pack-size SIZE] [--json]\n"
	"       lifeboat store info URL [--json]            (see 'lifeboat store info --help')\n"
	"       lifeboat store copy SRC DST ...             (see 'lifeboat store copy --help')\n"
	"       lifeboat store state PLAN --store URL ...   (see 'lifeboat store state --help')\n\n"
	"Creates an empty replica store at URL (a folder path or file://path).\n\n"
	"  --encrypt        encrypt the store: chunks with AES-256-GCM, chunk ids keyed\n"
	"                   (HMAC-SHA-256); the data keys are wrapped by a key derived\n"
	"                   with scrypt from the key file or passphrase\n"
	"  --key-file FILE  the key file (default: LIFEBOAT_KEY_FILE); created with 32\n"
	"                   random bytes (mode 0600) when it does not exist, and then\n"
	"                   derived from at scrypt's least cost (random bytes need no\n"
	"                   stretching). Without a key file the passphrase in\n"
	"                   LIFEBOAT_PASSPHRASE is used.\n"
	"  --pack-size SIZE the size packs grow to, 1MiB to 1GiB (default 16MiB); larger\n"
	"                   packs mean fewer requests to an object store\n"
	"  --json           print the result as JSON\n";

/* Writes 64 random hex digits into a new file of mode 0600. */
static int create_key_file(const char *path)
{
	unsigned char key[32];
	char hex[66];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return -1;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[64] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write(fd, hex, 65) == 65 && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

int cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "encrypt", no_argument, NULL, 'e' },
		{ "pack-size", required_argument, NULL, 'p' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	if (argc > 1 && !strcmp(argv[1], "state"))
		return cmd_store_state(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "copy"))
		return cmd_store_copy(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "info"))
		return cmd_store_info(argc - 1, argv + 1);
	eng_init_opts io = { 0 };
	rt_store_opts so = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'e': io.encrypt = true; break;
		case 'p':
			if (!rt_parse_size(optarg, &io.pack_size) || io.pack_size < (1u << 20) || io.pack_size > (1u << 30))
				return rt_usage("store init", "--pack-size '%s' is not a size from 1MiB to 1GiB", optarg);
			break;
		case 'k': so.key_file = optarg; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("store", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("store", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "init") != 0)
		return rt_usage("store", optind < argc ? "unknown subcommand '%s'" : "give a subcommand: init%s",
				optind < argc ? argv[optind] : "");
	if (argc - optind != 2)
		return rt_usage("store init", "give exactly one URL");
	so.url = argv[optind + 1];
	rt_secret(&so, &io.secret);
	if (so.key_file && !io.encrypt)
		return rt_usage("store init", "--key-file needs --encrypt");
	if (io.secret.origin && !io.encrypt)
		return rt_fail("store init", ENG_EINPUT,
			       "a key is given (%s), but --encrypt is not: give --encrypt to encrypt the store with it, "
			       "or give no key to create a store that is not encrypted", io.secret.origin);
	bool created = false;
	if (io.encrypt) {
		if (!io.secret.key_file && !(io.secret.passphrase && *io.secret.passphrase))
			return rt_usage("store init", "--encrypt needs --key-file FILE or LIFEBOAT_PASSPHRASE");
		if (io.secret.key_file && access(io.secret.key_file, F_OK) != 0) {
			if (create_key_file(io.secret.key_file) != 0)
				return rt_fail("store init", ENG_EINPUT, "cannot create key file %s: %s",
					       io.secret.key_file, strerror(errno));
			created = true;
			/* 256 random bits need no stretching: scrypt's least cost
			 * (1 MiB, a few ms) instead of 32 MiB and 0.15 s per command.
			 * A key file or passphrase the user brings keeps the default. */
			io.scrypt_log_n = 10;
		}
	}
	eng_err err;
	int rc = eng_store_init(so.url, &io, &err);
	if (rc) {
		if (created)
			unlink(io.secret.key_file);
		return rt_fail("store init", rc, "%s", err.msg);
	}
	if (so.json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "store", so.url);
		cJSON_AddBoolToObject(o, "encrypted", io.encrypt);
		cJSON_AddNumberToObject(o, "format", ENG_FORMAT_VERSION);
		if (io.encrypt && io.secret.key_file)
			cJSON_AddStringToObject(o, "key_file", io.secret.key_file);
		else
			cJSON_AddNullToObject(o, "key_file");
		cJSON_AddBoolToObject(o, "key_file_created", created);
		if (!rt_json_print(o))
			return EXIT_FAILED;
	} else {
		printf("created store %s (%s)\n", so.url, io.encrypt ? "encrypted" : "not encrypted");
		if (created)
			printf("created key file %s: keep a copy elsewhere, the store cannot be read without it\n",
			       io.secret.key_file);
	}
	return EXIT_DONE;
}
