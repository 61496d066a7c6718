build-review/engine/beneath.o: engine/beneath.c engine/beneath.h
engine/beneath.h:
