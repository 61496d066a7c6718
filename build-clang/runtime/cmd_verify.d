build-clang/runtime/cmd_verify.o: runtime/cmd_verify.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/commands.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/commands.h:
