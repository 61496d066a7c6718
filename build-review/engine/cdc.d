build-review/engine/cdc.o: engine/cdc.c engine/cdc.h
engine/cdc.h:
