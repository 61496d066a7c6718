/* envelope.c — sealed standalone objects and chunk entries. */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"

int eng_envelope_seal(eng_codec *c, const char magic[ENG_MAGIC_LEN], const void *data, size_t len,
		      uint8_t **out, size_t *out_len, uint8_t *id_out, eng_err *err)
{
	if (len > ENG_OBJECT_MAX)
		return eng_fail(err, ENG_EINPUT, "object of %zu bytes is too large", len);
	uint8_t *buf = malloc(ENG_ENVELOPE_HEAD + eng_codec_bound(len));
	if (!buf)
		return eng_fail(err, ENG_ENOMEM, "out of memory sealing %zu bytes", len);
	memcpy(buf, magic, ENG_MAGIC_LEN);
	uint8_t *id = buf + ENG_MAGIC_LEN;
	eng_codec_id(c, data, len, id);
	put_u32(buf + ENG_MAGIC_LEN + ENG_ID_LEN, (uint32_t)len);
	size_t blob_len;
	int rc = eng_codec_seal(c, id, data, len, buf + ENG_ENVELOPE_HEAD, &blob_len, err);
	if (rc) {
		free(buf);
		return rc;
	}
	if (id_out)
		memcpy(id_out, id, ENG_ID_LEN);
	*out = buf;
	*out_len = ENG_ENVELOPE_HEAD + blob_len;
	return ENG_OK;
}

int eng_envelope_open(eng_codec *c, const char magic[ENG_MAGIC_LEN], const uint8_t *in, size_t in_len,
		      const char *name, uint8_t **out, size_t *out_len, uint8_t *id_out, eng_err *err)
{
	if (in_len < ENG_ENVELOPE_HEAD || memcmp(in, magic, ENG_MAGIC_LEN) != 0)
		return eng_fail(err, ENG_ECORRUPT, "%s: not a %.7s object (bad magic)", name, magic);
	const uint8_t *id = in + ENG_MAGIC_LEN;
	uint32_t raw = get_u32(in + ENG_MAGIC_LEN + ENG_ID_LEN);
	if (raw > ENG_OBJECT_MAX)
		return eng_fail(err, ENG_ECORRUPT, "%s: implausible size %u", name, raw);
	uint8_t *buf = malloc((size_t)raw + 1);
	if (!buf)
		return eng_fail(err, ENG_ENOMEM, "out of memory opening %s", name);
	eng_err e;
	int rc = eng_codec_open(c, id, false, in + ENG_ENVELOPE_HEAD, in_len - ENG_ENVELOPE_HEAD, buf, raw, true, &e);
	if (rc) {
		free(buf);
		return eng_fail(err, rc, "%s: %s", name, e.msg);
	}
	buf[raw] = 0;
	if (id_out)
		memcpy(id_out, id, ENG_ID_LEN);
	*out = buf;
	*out_len = raw;
	return ENG_OK;
}

void eng_entry_put(uint8_t *p, const uint8_t id[ENG_ID_LEN], const eng_loc *loc)
{
	memcpy(p, id, ENG_ID_LEN);
	p[32] = (uint8_t)(loc->type | (loc->grouped ? ENG_ENTRY_GROUPED : 0));
	put_u32(p + 33, loc->offset);
	put_u32(p + 37, loc->length);
	put_u32(p + 41, loc->raw_length);
}

void eng_entry_get(const uint8_t *p, uint8_t id[ENG_ID_LEN], eng_loc *loc)
{
	memcpy(id, p, ENG_ID_LEN);
	loc->type = p[32] & (uint8_t)~ENG_ENTRY_GROUPED;
	loc->grouped = (p[32] & ENG_ENTRY_GROUPED) != 0;
	loc->offset = get_u32(p + 33);
	loc->length = get_u32(p + 37);
	loc->raw_length = get_u32(p + 41);
}
