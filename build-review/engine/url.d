build-review/engine/url.o: engine/url.c engine/url.h \
 engine/lifeboat_engine.h engine/err.h
engine/url.h:
engine/lifeboat_engine.h:
engine/err.h:
