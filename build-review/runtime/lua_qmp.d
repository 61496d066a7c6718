build-review/runtime/lua_qmp.o: runtime/lua_qmp.c \
 /usr/include/lua5.4/lauxlib.h /usr/include/lua5.4/luaconf.h \
 /usr/include/lua5.4/lua.h /usr/include/lua5.4/lua.h runtime/luacore.h \
 runtime/tasks.h
/usr/include/lua5.4/lauxlib.h:
/usr/include/lua5.4/luaconf.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/lua.h:
runtime/luacore.h:
runtime/tasks.h:
