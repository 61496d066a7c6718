build-review/runtime/cmd_prune.o: runtime/cmd_prune.c \
 /usr/include/cjson/cJSON.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h
/usr/include/cjson/cJSON.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
