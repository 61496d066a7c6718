/* main.c — the lifeboat program: finds the command and runs it. */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "cli.h"
#include "commands.h"
#include "luacore.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "store", cmd_store, "create a replica store (store init)" },
	{ "sync", cmd_sync, "take a recovery point of a disk image, block device or folder" },
	{ "points", cmd_points, "list the recovery points in a store" },
	{ "restore", cmd_restore, "write a recovery point back, bit-exact and sparse" },
	{ "verify", cmd_verify, "check a store's structure, or every chunk with --full" },
	{ "prune", cmd_prune, "forget points outside a retention policy and free their space" },
	{ "repair", cmd_repair, "rebuild a lost or damaged index from the packs" },
	{ "version", cmd_version, "print the versions of lifeboat and its libraries" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lifeboat COMMAND [OPTIONS]\n\n"
		   "lifeboat runs recovery plans (replication, drills, failover, failback of\n"
		   "machines) on encrypted, deduplicated recovery points in a replica store.\n\n"
		   "replication core:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nrecovery plans:\n");
	fflush(f);
	/* the plan commands are Lua's (stdlib/lifeboat/cli.lua): it lists them */
	char *list_argv[] = { "--list", f == stderr ? "2" : "1", NULL };
	rt_lua_command("--list", 2, list_argv);
	fprintf(f, "\n'lifeboat COMMAND --help' describes a command.\n"
		   "exit codes: 0 done, 1 failed or done with failures, 2 bad input, 3 paused, 130 interrupted\n");
}

int main(int argc, char **argv)
{
	/* Keys, passphrases and secrets live in this process's environment and
	 * memory: not dumpable, no other process of the same user (a step's
	 * command, an app a plan starts) may read /proc/PID/environ or mem, or
	 * attach to it. Children are dumpable again after their exec. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc < 2) {
		usage(stderr);
		return EXIT_BAD_INPUT;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		if (argc > 2 && strcmp(cmd, "help") == 0) {
			char *help_argv[] = { argv[2], "--help", NULL };
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].run(2, help_argv);
			return rt_lua_command(argv[2], 2, help_argv);
		}
		usage(stdout);
		return EXIT_DONE;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd)) {
			rt_install_signals();
			return commands[i].run(argc - 1, argv + 1);
		}
	return rt_lua_command(cmd, argc - 1, argv + 1); /* a plan command, or Lua says it is unknown */
}
