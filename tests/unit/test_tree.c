/* Tree points: entry encoding, chunking, and restores of crafted points
 * that try to write outside the destination. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc.h"
#include "packer.h"
#include "store.h"
#include "stream.h"
#include "sync.h"
#include "testhelp.h"

static char root[] = "/tmp/lifeboat-tree-XXXXXX";
static char store_path[128];

static void test_entries(void)
{
	uint8_t refs[2 * ENG_REF_LEN] = { 1, 2, 3 };
	eng_entry e = { .type = ENG_T_FILE, .name = "caf\xe9 menu", .name_len = 9, .mode = 0644, .uid = 7, .gid = 8,
			.mtime_ns = 1795000000123456789, .ctime_ns = 5, .ino = 99, .size = 12345, .nrefs = 2, .refs = refs };
	uint8_t buf[256];
	eng_entry_encode(&e, buf);
	eng_entry d;
	size_t n = eng_entry_decode(buf, eng_entry_size(&e), &d);
	CHECK(n == eng_entry_size(&e) && d.name_len == 9 && !memcmp(d.name, e.name, 9) && d.mtime_ns == e.mtime_ns &&
	      d.size == 12345 && d.nrefs == 2 && !memcmp(d.refs, refs, sizeof(refs)), "an entry round-trips");
	CHECK(eng_entry_decode(buf, eng_entry_size(&e) - 1, &d) == 0, "a truncated entry is refused");
	buf[0] = 42;
	CHECK(eng_entry_decode(buf, eng_entry_size(&e), &d) == 0, "an unknown entry type is refused");
	CHECK(!eng_entry_name_ok("..", 2) && !eng_entry_name_ok(".", 1) && !eng_entry_name_ok("a/b", 3) &&
	      !eng_entry_name_ok("a\0b", 3) && !eng_entry_name_ok("", 0) && eng_entry_name_ok("..a", 3),
	      "restore refuses '', '.', '..', slashes and NUL in names");
}

static void test_cdc(void)
{
	eng_cdc c;
	eng_cdc_init(&c);
	size_t len = 4 << 20;
	uint8_t *a = malloc(len + 100), *b = malloc(len + 100);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		a[i] = (uint8_t)x;
	}
	/* b = a with 100 bytes inserted at 1 MiB */
	memcpy(b, a, 1 << 20);
	memset(b + (1 << 20), 'Z', 100);
	memcpy(b + (1 << 20) + 100, a + (1 << 20), len - (1 << 20));
	size_t cuts_a[400], na = 0, cuts_b[400], nb = 0, bad = 0;
	for (size_t pos = 0; pos < len && na < 400;) {
		size_t n = eng_cdc_cut(&c, a + pos, len - pos, 1);
		bad += n < ENG_CDC_MIN && pos + n != len;
		bad += n > ENG_CDC_MAX;
		pos += n;
		cuts_a[na++] = pos;
	}
	for (size_t pos = 0; pos < len + 100 && nb < 400;) {
		pos += eng_cdc_cut(&c, b + pos, len + 100 - pos, 1);
		cuts_b[nb++] = pos;
	}
	size_t same = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t k = 0; k < nb; k++)
			if (cuts_a[i] >= (1 << 20) && cuts_b[k] == cuts_a[i] + 100)
				same++;
	CHECK(!bad, "chunks stay between the minimum and maximum size");
	char what[128];
	snprintf(what, sizeof(what), "average chunk %zu KiB is near 32 KiB", len / na / 1024);
	CHECK(len / na > 16384 && len / na < 65536, what);
	size_t after = 0;
	for (size_t i = 0; i < na; i++)
		after += cuts_a[i] >= (1 << 20);
	snprintf(what, sizeof(what), "an insert moves only nearby cuts (%zu of %zu later cuts kept)", same, after);
	CHECK(same + 2 >= after, what);
	free(a);
	free(b);
}

struct item {
	uint8_t type;
	const char *name;
	const char *target;
	const char *content;
	uint16_t target_len; /* 0: strlen(target) */
};

/* Stores a one-folder tree point of items; returns 0 or a status. */
static int make_point(eng_store *s, const struct item *items, size_t n, char *id_out)
{
	eng_err e;
	eng_packer *pk = eng_packer_new(s);
	eng_pack_writer *w = eng_pack_writer_new(pk);
	eng_codec *c = eng_codec_new(&s->keys, 1);
	eng_cdc cdc;
	eng_cdc_init(&cdc);
	uint8_t *seal = malloc(eng_codec_bound(ENG_CDC_MAX)), dir[8192];
	size_t pos = 0, used;
	eng_put_stats added = { 0 };
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		eng_refs refs = { 0 };
		size_t clen = items[i].content ? strlen(items[i].content) : 0;
		if (clen)
			rc = eng_stream_put(w, c, &cdc, ENG_CHUNK_DATA, (const uint8_t *)items[i].content, clen, true, seal,
					    &refs, &used, &added, &e);
		eng_entry en = { .type = items[i].type, .name = items[i].name, .name_len = (uint16_t)strlen(items[i].name),
				 .mode = 0644, .size = clen, .nrefs = (uint32_t)refs.n, .refs = refs.v,
				 .target = items[i].target,
				 .target_len = items[i].target_len ? items[i].target_len
								   : (uint16_t)(items[i].target ? strlen(items[i].target) : 0) };
		eng_entry_encode(&en, dir + pos);
		pos += eng_entry_size(&en);
		eng_refs_free(&refs);
	}
	eng_point pt = { 0 };
	if (!rc)
		rc = eng_stream_put(w, c, &cdc, ENG_CHUNK_META, dir, pos, true, seal, &pt.root_refs, &used, &added, &e);
	if (!rc)
		rc = eng_pack_writer_close(w, false, NULL, &e);
	if (!rc)
		rc = eng_packer_finish(pk, &e);
	strcpy(pt.info.machine, "evil");
	strcpy(pt.info.dataset, "tree");
	strcpy(pt.info.kind, "tree");
	strcpy(pt.info.consistency, "crash");
	pt.info.time_us = eng_now_us();
	eng_format_time(pt.info.time_us, pt.info.time);
	pt.root_mode = 0755;
	if (!rc)
		rc = eng_point_write(s, &pt, &e);
	strcpy(id_out, pt.info.id);
	eng_point_release(&pt);
	eng_packer_free(pk);
	eng_codec_free(c);
	free(seal);
	return rc;
}

static int restore(const char *id, const char *dest, eng_err *e)
{
	eng_store *s;
	if (eng_store_open(store_path, NULL, &s, e))
		return -100;
	eng_restore_opts o = { .machine = "evil", .dataset = "tree", .point = id };
	eng_restore_result r;
	int rc = eng_restore(s, dest, &o, &r, e);
	eng_store_close(s);
	return rc;
}

static void test_escapes(void)
{
	static const struct {
		const char *what;
		struct item items[3];
		size_t n;
	} cases[] = {
		{ "a folder named '..'", { { ENG_T_DIR, "..", NULL, NULL, 0 } }, 1 },
		{ "a name holding '/'", { { ENG_T_FILE, "x/../../escaped", NULL, "gotcha", 0 } }, 1 },
		{ "the same name twice", { { ENG_T_FILE, "x", NULL, "one", 0 }, { ENG_T_FILE, "x", NULL, "two", 0 } }, 2 },
		{ "a symlink and a folder of the same name",
		  { { ENG_T_SYMLINK, "a", "/tmp", NULL, 0 }, { ENG_T_DIR, "a", NULL, NULL, 0 } }, 2 },
		{ "a hard link to ../escaped", { { ENG_T_FILE, "f", NULL, "x", 0 }, { ENG_T_HARDLINK, "g", "../escaped", NULL, 0 } }, 2 },
		{ "a hard link to an absolute path", { { ENG_T_HARDLINK, "g", "/etc/passwd", NULL, 0 } }, 1 },
		{ "names out of order", { { ENG_T_FILE, "b", NULL, "1", 0 }, { ENG_T_FILE, "a", NULL, "2", 0 } }, 2 },
		{ "a hard link target holding a NUL",
		  { { ENG_T_FILE, "f", NULL, "x", 0 },
		    { ENG_T_HARDLINK, "g", "f\0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, 85 } }, 2 },
		{ "a symlink target holding a NUL", { { ENG_T_SYMLINK, "s", "/tmp\0/etc", NULL, 9 } }, 1 },
	};
	eng_err e;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		eng_store *s;
		char id[17], dest[256], what[1024];
		eng_store_open(store_path, NULL, &s, &e);
		eng_store_load_index(s, &e);
		int mk = make_point(s, cases[i].items, cases[i].n, id);
		eng_store_close(s);
		snprintf(dest, sizeof(dest), "%s/out/dest%zu", root, i);
		int rc = mk ? mk : restore(id, dest, &e);
		snprintf(what, sizeof(what), "a point with %s is refused (%s)", cases[i].what, rc ? e.msg : "restored!");
		CHECK(rc == ENG_ECORRUPT, what);
		char check[512];
		snprintf(check, sizeof(check), "%s/out/escaped", root);
		struct stat st;
		snprintf(what, sizeof(what), "%s: nothing written outside, no partial destination", cases[i].what);
		CHECK(stat(check, &st) != 0 && lstat(dest, &st) != 0, what);
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/out)\"", root);
	CHECK(system(cmd) == 0, "refused restores leave no temporary folders behind");
}

int main(void)
{
	eng_err e;
	if (!mkdtemp(root))
		return 1;
	snprintf(store_path, sizeof(store_path), "%s/store", root);
	char out[160];
	snprintf(out, sizeof(out), "%s/out", root);
	mkdir(out, 0755);
	if (eng_store_init(store_path, NULL, &e)) {
		printf("not ok 1 - init: %s\n", e.msg);
		return 1;
	}
	test_entries();
	test_cdc();
	test_escapes();
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return TEST_DONE();
}
