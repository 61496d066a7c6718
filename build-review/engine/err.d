build-review/engine/err.o: engine/err.c engine/err.h \
 engine/lifeboat_engine.h
engine/err.h:
engine/lifeboat_engine.h:
