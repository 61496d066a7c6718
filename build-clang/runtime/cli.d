build-clang/runtime/cli.o: runtime/cli.c runtime/cli.h \
  engine/lifeboat_engine.h runtime/tasks.h

runtime/cli.h:

engine/lifeboat_engine.h:

runtime/tasks.h:
