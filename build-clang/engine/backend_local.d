build-clang/engine/backend_local.o: engine/backend_local.c \
  engine/backend.h engine/lifeboat_engine.h engine/bytes.h \
  engine/crypto.h engine/err.h engine/fsutil.h

engine/backend.h:

engine/lifeboat_engine.h:

engine/bytes.h:

engine/crypto.h:

engine/err.h:

engine/fsutil.h:
