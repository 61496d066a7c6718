build-review/runtime/cmd_store_state.o: runtime/cmd_store_state.c \
 runtime/cli.h engine/lifeboat_engine.h runtime/commands.h
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
