build-review/engine/backend_local.o: engine/backend_local.c \
 engine/backend_remote.h engine/backend.h engine/lifeboat_engine.h \
 engine/url.h engine/bytes.h engine/crypto.h engine/err.h engine/fsutil.h
engine/backend_remote.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/url.h:
engine/bytes.h:
engine/crypto.h:
engine/err.h:
engine/fsutil.h:
