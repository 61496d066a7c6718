build-review/runtime/lua_host.o: runtime/lua_host.c \
 /usr/include/lua5.4/lauxlib.h /usr/include/lua5.4/luaconf.h \
 /usr/include/lua5.4/lua.h /usr/include/lua5.4/lua.h \
 /usr/include/lua5.4/lualib.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/luacore.h runtime/tasks.h runtime/watchdog.h
/usr/include/lua5.4/lauxlib.h:
/usr/include/lua5.4/luaconf.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/lualib.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/luacore.h:
runtime/tasks.h:
runtime/watchdog.h:
