build-clang/runtime/cmd_restore.o: runtime/cmd_restore.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/commands.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/commands.h:
