build-review/runtime/watchdog.o: runtime/watchdog.c runtime/cli.h \
 engine/lifeboat_engine.h runtime/luacore.h runtime/tasks.h \
 runtime/watchdog.h
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/luacore.h:
runtime/tasks.h:
runtime/watchdog.h:
