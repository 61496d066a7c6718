build-clang/engine/http.o: engine/http.c engine/http.h \
  engine/lifeboat_engine.h engine/err.h

engine/http.h:

engine/lifeboat_engine.h:

engine/err.h:
