build-review/runtime/main.o: runtime/main.c runtime/cli.h \
 engine/lifeboat_engine.h runtime/commands.h runtime/luacore.h
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
runtime/luacore.h:
