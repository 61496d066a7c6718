build-review/runtime/netns.o: runtime/netns.c runtime/netns.h
runtime/netns.h:
