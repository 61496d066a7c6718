build-review/stdlib_embed.o: build-review/stdlib_embed.c \
 runtime/luacore.h
runtime/luacore.h:
