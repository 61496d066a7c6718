build-clang/runtime/cmd_sync.o: runtime/cmd_sync.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/commands.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/commands.h:
