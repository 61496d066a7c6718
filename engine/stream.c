/* stream.c — storing and reading chunked streams. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "store.h"

int eng_stream_put(eng_pack_writer *w, eng_codec *c, const eng_cdc *cdc, uint8_t type, const uint8_t *data,
		   size_t len, bool final, uint8_t *sealbuf, eng_refs *out, size_t *consumed, eng_put_stats *stats,
		   eng_err *err)
{
	size_t pos = 0;
	while (pos < len) {
		size_t cut = eng_cdc_cut(cdc, data + pos, len - pos, final);
		if (!cut)
			break;
		uint8_t id[ENG_ID_LEN];
		eng_codec_id(c, data + pos, cut, id);
		int rc = eng_packer_store(w, c, id, type, data + pos, cut, sealbuf, stats, err);
		if (!rc && eng_refs_add(out, id, (uint32_t)cut))
			rc = eng_fail(err, ENG_ENOMEM, "out of memory");
		if (rc)
			return rc;
		pos += cut;
	}
	*consumed = pos;
	return ENG_OK;
}

int eng_stream_get(eng_store *s, eng_codec *c, const uint8_t *refs, uint32_t nrefs, size_t max, uint8_t **out,
		   size_t *len, eng_err *err)
{
	size_t total = 0;
	for (uint32_t i = 0; i < nrefs; i++)
		total += get_u32(refs + (size_t)i * ENG_REF_LEN + ENG_ID_LEN);
	if (total > max)
		return eng_fail(err, ENG_ECORRUPT, "a stream of %zu bytes is larger than allowed (%zu)", total, max);
	uint8_t *buf = malloc(total + 1), *blob = malloc(eng_codec_bound(ENG_CDC_MAX));
	if (!buf || !blob) {
		free(buf);
		free(blob);
		return eng_fail(err, ENG_ENOMEM, "out of memory");
	}
	size_t pos = 0;
	int rc = ENG_OK;
	for (uint32_t i = 0; i < nrefs && !rc; i++) {
		eng_ref r;
		size_t got;
		eng_ref_get(refs + (size_t)i * ENG_REF_LEN, &r);
		if (r.len > ENG_CDC_MAX) {
			rc = eng_fail(err, ENG_ECORRUPT, "a stream ref of %u bytes is larger than a chunk can be", r.len);
			break;
		}
		rc = eng_chunk_read(s, c, r.id, blob, buf + pos, r.len, &got, err);
		if (!rc && got != r.len)
			rc = eng_fail(err, ENG_ECORRUPT, "a chunk of a stream has %zu bytes, its ref says %u", got, r.len);
		pos += r.len;
	}
	free(blob);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = total;
	return ENG_OK;
}
