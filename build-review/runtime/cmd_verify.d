build-review/runtime/cmd_verify.o: runtime/cmd_verify.c \
 /usr/include/cjson/cJSON.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h
/usr/include/cjson/cJSON.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
