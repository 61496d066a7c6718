build-review/engine/http.o: engine/http.c engine/http.h \
 engine/lifeboat_engine.h engine/bytes.h engine/err.h
engine/http.h:
engine/lifeboat_engine.h:
engine/bytes.h:
engine/err.h:
