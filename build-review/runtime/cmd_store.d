build-review/runtime/cmd_store.o: runtime/cmd_store.c \
 /usr/include/cjson/cJSON.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h
/usr/include/cjson/cJSON.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
