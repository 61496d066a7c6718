/* fuzz_pack — pack files: the tail ("LBPKEND1" and the header envelope's
 * length), the "LBPKHDR1" header envelope, its entries and the blobs they
 * locate, as `verify --full` reads a pack (engine/verify.c verify_pack,
 * static: the engine file is compiled into this target). The input is
 * written as the one pack of a real plain store in a scratch folder and
 * verified twice:
 *   - as it is;
 *   - with its header re-sealed: the bytes where the header envelope would
 *     be are taken as the header's plain bytes (count(u32) entry(45)*count)
 *     and sealed, so mutated entries get past the header's checksum.
 * Seeds of the second kind are real packs with their header opened
 * (the files of corpus/pack/ ending in .plain, made by seeds.c). */
#include "../../engine/verify.c"

#include <limits.h>
#include <sys/stat.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void verify_one(const uint8_t *pack, size_t size)
{
	static struct full_tls *tls;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static const uint8_t name[ENG_ID_LEN] = { 0xab };
	eng_store *s = fuzz_store();
	char obj[128], path[PATH_MAX];
	eng_pack_object(name, obj);
	snprintf(path, sizeof(path), "%s/%.8s", s->be->where, obj);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s", s->be->where, obj);
	fuzz_write(path, pack, size);
	eng_cindex_free(s->ci);
	if (!(s->ci = eng_cindex_new()) || eng_cindex_add_pack(s->ci, name, size) == UINT32_MAX)
		fuzz_die("out of memory");
	const char *names[] = { obj };
	eng_verify_opts o = { 0 };
	eng_verify_result r = { 0 };
	struct verify_job j = { .s = s, .o = &o, .r = &r, .mu = &mu, .pack_names = names };
	if (!tls && !(tls = full_tls_new(&j)))
		fuzz_die("out of memory");
	eng_err e;
	verify_pack(&j, tls, 0, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static eng_codec *plain;
	if (!plain) {
		eng_keys none = fuzz_keys(false);
		if (!(plain = eng_codec_new(&none, 1)))
			fuzz_die("out of memory");
	}
	verify_one(data, size);
	if (size < 20 || memcmp(data + size - 8, "LBPKEND1", 8) != 0)
		return 0;
	uint32_t hdr_len = get_u32(data + size - 12);
	if (hdr_len > size - 20)
		return 0;
	size_t blobs = size - 12 - hdr_len;
	uint8_t *env, *pack;
	size_t env_len;
	eng_err e;
	if (eng_envelope_seal(plain, "LBPKHDR1", data + blobs, hdr_len, &env, &env_len, NULL, &e))
		fuzz_die("cannot seal a header: %s", e.msg);
	if (!(pack = malloc(blobs + env_len + 12)))
		fuzz_die("out of memory");
	memcpy(pack, data, blobs);
	memcpy(pack + blobs, env, env_len);
	put_u32(pack + blobs + env_len, (uint32_t)env_len);
	memcpy(pack + blobs + env_len + 4, "LBPKEND1", 8);
	verify_one(pack, blobs + env_len + 12);
	free(pack);
	free(env);
	return 0;
}
