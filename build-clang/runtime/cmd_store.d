build-clang/runtime/cmd_store.o: runtime/cmd_store.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/commands.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/commands.h:
