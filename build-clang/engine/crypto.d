build-clang/engine/crypto.o: engine/crypto.c engine/crypto.h \
  engine/lifeboat_engine.h engine/err.h

engine/crypto.h:

engine/lifeboat_engine.h:

engine/err.h:
