build-review/runtime/cmd_repair.o: runtime/cmd_repair.c \
 /usr/include/cjson/cJSON.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h
/usr/include/cjson/cJSON.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
