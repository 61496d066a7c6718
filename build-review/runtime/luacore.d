build-review/runtime/luacore.o: runtime/luacore.c \
 /usr/include/lua5.4/lauxlib.h /usr/include/lua5.4/luaconf.h \
 /usr/include/lua5.4/lua.h /usr/include/lua5.4/lua.h runtime/child_env.h \
 runtime/cli.h engine/lifeboat_engine.h runtime/luacore.h runtime/tasks.h
/usr/include/lua5.4/lauxlib.h:
/usr/include/lua5.4/luaconf.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/lua.h:
runtime/child_env.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/luacore.h:
runtime/tasks.h:
