build-review/runtime/cmd_version.o: runtime/cmd_version.c \
 /usr/include/cjson/cJSON.h /usr/include/lua5.4/lua.h \
 /usr/include/lua5.4/luaconf.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h runtime/version.h \
 /usr/include/libxml2/libxml/xmlversion.h \
 /usr/include/libxml2/libxml/xmlexports.h
/usr/include/cjson/cJSON.h:
/usr/include/lua5.4/lua.h:
/usr/include/lua5.4/luaconf.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
runtime/version.h:
/usr/include/libxml2/libxml/xmlversion.h:
/usr/include/libxml2/libxml/xmlexports.h:
