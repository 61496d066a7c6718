build-review/engine/backend_sftp.o: engine/backend_sftp.c \
 engine/backend_remote.h engine/backend.h engine/lifeboat_engine.h \
 engine/url.h engine/bytes.h engine/crypto.h engine/err.h engine/http.h
engine/backend_remote.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/url.h:
engine/bytes.h:
engine/crypto.h:
engine/err.h:
engine/http.h:
