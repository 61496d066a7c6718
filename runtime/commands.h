/* commands.h — the entry point of each command: argv[0] is the command name. */
#ifndef RT_COMMANDS_H
#define RT_COMMANDS_H

int cmd_store(int argc, char **argv);
/* store's subcommands other than init: argv[0] is the subcommand. */
int cmd_store_state(int argc, char **argv);
int cmd_store_copy(int argc, char **argv);
int cmd_store_info(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_points(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
