build-review/runtime/cli.o: runtime/cli.c runtime/cli.h \
 engine/lifeboat_engine.h runtime/tasks.h /usr/include/cjson/cJSON.h
runtime/cli.h:
engine/lifeboat_engine.h:
runtime/tasks.h:
/usr/include/cjson/cJSON.h:
