build-review/engine/tree_format.o: engine/tree_format.c engine/tree.h \
 engine/crypto.h engine/lifeboat_engine.h engine/bytes.h
engine/tree.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/bytes.h:
