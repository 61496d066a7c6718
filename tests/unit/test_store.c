/* Packs, the index, points and block lists, through a real store in a
 * temporary folder. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "envelope.h"
#include "packer.h"
#include "store.h"
#include "testhelp.h"

static char root[] = "/tmp/lifeboat-unit-XXXXXX";

static eng_store *open_store(void)
{
	eng_store *s = NULL;
	eng_err e;
	if (eng_store_open(root, NULL, &s, &e))
		printf("# open: %s\n", e.msg);
	return s;
}

/* Incompressible but reproducible bytes, so packs fill up. */
static uint8_t noise(size_t i, size_t k)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ (k * 0xBF58476D1CE4E5B9ULL);
	x ^= x >> 31;
	x *= 0x94D049BB133111EBULL;
	return (uint8_t)(x >> 40);
}

static void test_packs_and_index(void)
{
	eng_err e;
	eng_store *s = open_store();
	CHECK(s && eng_store_load_index(s, &e) == 0, "a new store has an empty, loadable index");
	s->pack_target = 1 << 20; /* small packs: exercise pack rollover */
	eng_packer *pk = eng_packer_new(s);
	eng_pack_writer *w = eng_pack_writer_new(pk);
	eng_codec *c = eng_codec_new(&s->keys, 1);
	size_t n = 200, len = 16384;
	uint8_t (*ids)[ENG_ID_LEN] = malloc(n * ENG_ID_LEN);
	uint8_t *data = malloc(len), *seal = malloc(eng_codec_bound(len));
	int failures = 0;
	eng_put_stats added = { 0 };
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < len; k++)
			data[k] = noise(i, k);
		eng_codec_id(c, data, len, ids[i]);
		failures += eng_packer_store(w, c, ids[i], ENG_CHUNK_DATA, data, len, seal, &added, &e) != 0;
		/* the same chunk again: stored once */
		failures += eng_packer_store(w, c, ids[i], ENG_CHUNK_DATA, data, len, seal, &added, &e) != 0;
		failures += added.chunks != i + 1;
	}
	CHECK(failures == 0, "200 chunks stored, each duplicate skipped");
	CHECK(eng_pack_writer_close(w, false, &added, &e) == 0 && eng_packer_finish(pk, &e) == 0, "packer finishes");
	CHECK(added.bytes > n * len, "random chunks are stored raw: added bytes exceed their plain size");
	eng_packer_free(pk);
	size_t packs = eng_cindex_packs(s->ci);
	eng_store_close(s);

	s = open_store();
	CHECK(s && eng_store_load_index(s, &e) == 0, "index loads after reopening");
	CHECK(eng_cindex_count(s->ci) == n, "index holds every chunk once");
	CHECK(eng_cindex_packs(s->ci) == packs && packs > 1, "chunks spread over several packs");
	uint8_t *blob = malloc(eng_codec_bound(len)), *out = malloc(len);
	failures = 0;
	for (size_t i = 0; i < n; i++) {
		size_t got;
		for (size_t k = 0; k < len; k++)
			data[k] = noise(i, k);
		failures += eng_chunk_read(s, c, ids[i], blob, out, len, &got, &e) != 0 || got != len ||
			    memcmp(out, data, len) != 0;
	}
	CHECK(failures == 0, "every chunk reads back identical from its pack");

	eng_verify_opts vo = { .full = true };
	eng_verify_result vr;
	CHECK(eng_verify(s, &vo, &vr, &e) == 0 && vr.chunks == n, "full verify reads every pack header and chunk");
	free(blob); free(out); free(ids); free(data); free(seal);
	eng_codec_free(c);
	eng_store_close(s);
}

static void test_points(void)
{
	eng_err e;
	eng_store *s = open_store();
	eng_point p = { 0 };
	strcpy(p.info.machine, "db");
	strcpy(p.info.dataset, "disk0");
	strcpy(p.info.kind, "image");
	strcpy(p.info.consistency, "app");
	p.info.time_us = 1795000000123456;
	eng_format_time(p.info.time_us, p.info.time);
	p.info.size = 3 * 16384 * ENG_SEGMENT_BLOCKS + 5;
	p.info.block_size = 16384;
	p.blocks = 3 * ENG_SEGMENT_BLOCKS + 1;
	p.n_lists = 4;
	p.lists = calloc(4, ENG_ID_LEN);
	for (int i = 0; i < 4; i++)
		p.lists[i][0] = (uint8_t)i;
	CHECK(eng_point_write(s, &p, &e) == 0 && strlen(p.info.id) == 16, "a point is written with a 16-digit id");
	eng_point q;
	CHECK(eng_point_load(s, "db", "disk0", p.info.id, &q, &e) == 0, "the point reads back");
	CHECK(q.n_lists == 4 && !memcmp(q.lists, p.lists, 4 * ENG_ID_LEN) && q.info.size == p.info.size &&
	      !strcmp(q.info.consistency, "app") && q.info.time_us == p.info.time_us &&
	      !strcmp(q.info.time, "2026-11-18T11:06:40Z"),
	      "decoded point equals the encoded one");
	eng_point_release(&q);
	eng_point_info found;
	CHECK(eng_point_find(s, "db", "disk0", "latest", &found, &e) == 0 && !strcmp(found.id, p.info.id), "latest finds it");
	char prefix[5];
	memcpy(prefix, p.info.id, 4);
	prefix[4] = 0;
	CHECK(eng_point_find(s, "db", "disk0", prefix, &found, &e) == 0, "a unique id prefix finds it");
	CHECK(eng_point_find(s, "db", "disk0", "ffffffffffffffff", &found, &e) == ENG_EINPUT, "an unknown id is bad input");
	CHECK(eng_point_find(s, "web", "disk0", NULL, &found, &e) == ENG_EINPUT, "no points is bad input");

	/* A point whose block count disagrees with its size is refused. */
	p.blocks = 7;
	CHECK(eng_point_write(s, &p, &e) == 0, "a malformed point can be written by a buggy writer");
	char name[600];
	snprintf(name, sizeof(name), "points/db/disk0/%s", p.info.id);
	CHECK(eng_point_read(s, name, &q, &e) == ENG_ECORRUPT && strstr(e.msg, p.info.id), "and is refused on read, named");
	eng_be_remove(s->be, name, &e);
	free(p.lists);
	eng_store_close(s);
}

static void test_names(void)
{
	CHECK(eng_name_valid("db-01", NULL) && eng_name_valid("disk 0", NULL), "ordinary names are valid");
	CHECK(!eng_name_valid("", NULL) && !eng_name_valid("a/b", NULL) && !eng_name_valid("..", NULL) &&
	      !eng_name_valid("a..b", NULL) && !eng_name_valid("a\nb", NULL) && !eng_name_valid(".hidden", NULL),
	      "empty, slash, dot-dot, control and dot-leading names are refused");
}

/* Block lists: a file with known blocks gives the ids expected, holes are
 * zero ids, and an unchanged segment reuses its list chunk. */
static void test_block_lists(void)
{
	char img[64];
	snprintf(img, sizeof(img), "%s.img", root);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint32_t bs = 4096;
	size_t nblocks = 2 * ENG_SEGMENT_BLOCKS + 10;
	uint8_t *blk = calloc(1, bs);
	for (size_t i = 0; i < nblocks; i++) {
		memset(blk, 0, bs);
		if (i % 3)
			snprintf((char *)blk, bs, "block %zu", i);
		if (pwrite(fd, blk, bs, (off_t)(i * bs)) != (ssize_t)bs)
			break;
	}
	close(fd);
	eng_err e;
	eng_store *s = open_store();
	eng_sync_opts o = { .machine = "m", .dataset = "d", .block_size = bs, .run = { .threads = 2 } };
	eng_sync_result r1, r2;
	CHECK(eng_sync(s, img, &o, &r1, &e) == 0, "sync a 4 KiB-block image");
	CHECK(r1.holes == (nblocks + 2) / 3, "every third block (zeros) is a hole");
	eng_point p;
	eng_point_load(s, "m", "d", r1.point_id, &p, &e);
	CHECK(p.n_lists == 3 && p.blocks == nblocks, "three block-list chunks for 2 segments + 10 blocks");
	eng_codec *c = eng_codec_new(&s->keys, 1);
	uint8_t *list = malloc(ENG_SEGMENT_BLOCKS * ENG_ID_LEN), *blob = malloc(eng_codec_bound(ENG_SEGMENT_BLOCKS * ENG_ID_LEN));
	size_t len;
	int bad = eng_chunk_read(s, c, p.lists[2], blob, list, ENG_SEGMENT_BLOCKS * ENG_ID_LEN, &len, &e) != 0 ||
		  len != 10 * ENG_ID_LEN;
	for (size_t i = 0; !bad && i < 10; i++) {
		size_t b = 2 * ENG_SEGMENT_BLOCKS + i;
		uint8_t want[ENG_ID_LEN] = { 0 };
		if (b % 3) {
			memset(blk, 0, bs);
			snprintf((char *)blk, bs, "block %zu", b);
			eng_codec_id(c, blk, bs, want);
		}
		bad |= memcmp(list + i * ENG_ID_LEN, want, ENG_ID_LEN) != 0;
	}
	CHECK(!bad, "the last block list holds the SHA-256 of each block, zeros for holes");
	eng_store_close(s);

	/* change one block in the middle segment */
	fd = open(img, O_WRONLY);
	memset(blk, 0xab, bs);
	if (pwrite(fd, blk, bs, (off_t)((ENG_SEGMENT_BLOCKS + 5) * bs)) != (ssize_t)bs)
		CHECK(0, "mutate");
	close(fd);
	s = open_store();
	CHECK(eng_sync(s, img, &o, &r2, &e) == 0, "second sync");
	eng_point q;
	eng_point_load(s, "m", "d", r2.point_id, &q, &e);
	CHECK(!memcmp(q.lists[0], p.lists[0], ENG_ID_LEN) && !memcmp(q.lists[2], p.lists[2], ENG_ID_LEN) &&
	      memcmp(q.lists[1], p.lists[1], ENG_ID_LEN) != 0, "unchanged segments keep their list chunk");
	CHECK(r2.chunks_added == 2, "one changed block adds one block and one list chunk");
	CHECK(!strcmp(q.info.parent, r1.point_id), "the second point's parent is the first");
	eng_point_release(&p);
	eng_point_release(&q);
	eng_codec_free(c);
	free(list); free(blob); free(blk);
	eng_store_close(s);
	unlink(img);
}

int main(void)
{
	eng_err e;
	if (!mkdtemp(root) || eng_store_init(root, NULL, &e) != 0) {
		printf("not ok 1 - create a store\n");
		return 1;
	}
	test_packs_and_index();
	test_points();
	test_names();
	test_block_lists();
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return TEST_DONE();
}
