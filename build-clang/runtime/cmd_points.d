build-clang/runtime/cmd_points.o: runtime/cmd_points.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/commands.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/commands.h:
