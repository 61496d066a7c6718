build-review/runtime/task_http.o: runtime/task_http.c \
 /usr/include/lua5.4/lauxlib.h /usr/include/lua5.4/luaconf.h \
 /usr/include/lua5.4/lua.h /usr/include/lua5.4/lua.h engine/bytes.h \
 runtime/luacore.h runtime/netns.h runtime/tasks.h
/usr/include/lua5.4/lauxlib.h:
/usr/include/lua5.4/luaconf.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/lua.h:
engine/bytes.h:
runtime/luacore.h:
runtime/netns.h:
runtime/tasks.h:
