build-review/engine/parallel.o: engine/parallel.c engine/parallel.h \
 engine/lifeboat_engine.h engine/err.h
engine/parallel.h:
engine/lifeboat_engine.h:
engine/err.h:
