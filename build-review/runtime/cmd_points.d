build-review/runtime/cmd_points.o: runtime/cmd_points.c \
 /usr/include/cjson/cJSON.h runtime/cli.h engine/lifeboat_engine.h \
 runtime/commands.h
/usr/include/cjson/cJSON.h:
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/commands.h:
