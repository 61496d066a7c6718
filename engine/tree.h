/* tree.h — directory trees as recovery points. A tree is stored the way git
 * and restic store one: each directory is a *stream* (a list of chunk
 * refs) of its serialized entries, sorted by name, and a directory entry
 * refers to its child's stream, so an unchanged subtree has the same refs
 * and costs nothing new. A file entry's stream is its content, cut with
 * content-defined chunking; a ref with a zero id is a hole of that length.
 *
 * Entry layout (little-endian):
 *   type(u8) name_len(u16) name mode(u32) uid(u32) gid(u32) mtime_ns(i64)
 *   ctime_ns(i64) ino(u64) size(u64) rdev(u64) nrefs(u32) {id(32) len(u32)}*
 *   target_len(u16) target
 * target is a symlink's target, or for a hard link the path (from the tree
 * root) of the file it links to. ctime and ino only detect change. */
#ifndef ENG_TREE_H
#define ENG_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "lifeboat_engine.h"

enum {
	ENG_T_FILE = 1,
	ENG_T_DIR = 2,
	ENG_T_SYMLINK = 3,
	ENG_T_HARDLINK = 4,
	ENG_T_FIFO = 5,
	ENG_T_CHR = 6,
	ENG_T_BLK = 7,
};

typedef struct eng_ref {
	uint8_t id[ENG_ID_LEN]; /* zero: a hole */
	uint32_t len;
} eng_ref;

typedef struct eng_entry {
	uint8_t type;
	uint16_t name_len;
	const char *name;   /* not NUL-terminated when decoded in place */
	uint32_t mode, uid, gid;
	int64_t mtime_ns, ctime_ns;
	uint64_t ino, size, rdev;
	uint32_t nrefs;
	const uint8_t *refs; /* nrefs * 36 bytes, encoded */
	uint16_t target_len;
	const char *target;
} eng_entry;

#define ENG_REF_LEN (ENG_ID_LEN + 4)
#define ENG_DIR_STREAM_MAX (256u << 20) /* the largest folder listing a reader accepts */

/* A growable array of encoded refs (ENG_REF_LEN bytes each). */
typedef struct eng_refs {
	uint8_t *v;
	size_t n, cap;
} eng_refs;

int eng_refs_add(eng_refs *r, const uint8_t id[ENG_ID_LEN], uint32_t len);
void eng_refs_free(eng_refs *r);
#define ENG_ENTRY_FIXED (1 + 2 + 4 * 3 + 8 * 5 + 4 + 2)

/* Bytes an entry takes when encoded. */
size_t eng_entry_size(const eng_entry *e);
/* Encodes e at p (eng_entry_size bytes). */
void eng_entry_encode(const eng_entry *e, uint8_t *p);
/* Decodes the entry at p (avail bytes left); returns its size, 0 if malformed. */
size_t eng_entry_decode(const uint8_t *p, size_t avail, eng_entry *e);
void eng_ref_get(const uint8_t *p, eng_ref *r);
void eng_ref_put(uint8_t *p, const eng_ref *r);
/* A name a restore may create: not empty, ".", "..", no '/' or NUL. */
bool eng_entry_name_ok(const char *name, size_t len);

#endif
