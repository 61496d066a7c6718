build-clang/engine/backend.o: engine/backend.c engine/backend.h \
  engine/lifeboat_engine.h engine/err.h

engine/backend.h:

engine/lifeboat_engine.h:

engine/err.h:
