/* restore.c — writing a recovery point back: what every kind shares.
 * Checks the names, takes the store's shared lock, finds the point, then
 * lets the kind (image or tree) write it. */
#include <string.h>

#include "err.h"
#include "sync.h"

int eng_restore(eng_store *s, const char *dest, const eng_restore_opts *opts, eng_restore_result *res,
		eng_err *err)
{
	const char *why;
	if (!eng_name_valid(opts->machine, &why))
		return eng_fail(err, ENG_EINPUT, "machine name '%s' %s", opts->machine ? opts->machine : "", why);
	if (!eng_name_valid(opts->dataset, &why))
		return eng_fail(err, ENG_EINPUT, "dataset name '%s' %s", opts->dataset ? opts->dataset : "", why);
	int64_t t0 = eng_now_us();
	eng_point_info info;
	eng_point pt = { 0 };
	eng_restore_result r = { 0 };
	s->be->cancel = opts->run.cancel;
	int rc = eng_be_lock(s->be, false, "restore", err);
	if (!rc)
		rc = eng_point_find(s, opts->machine, opts->dataset, opts->point, &info, err);
	if (!rc)
		rc = eng_point_load(s, opts->machine, opts->dataset, info.id, &pt, err);
	if (rc)
		return rc;
	rc = eng_store_load_index(s, err);
	if (!rc && !strcmp(pt.info.kind, "image"))
		rc = eng_image_restore(s, &pt, dest, opts, &r, err);
	else if (!rc)
		rc = eng_tree_restore(s, &pt, dest, opts, &r, err);
	if (!rc && res) {
		r.size = pt.info.size;
		r.seconds = (double)(eng_now_us() - t0) / 1e6;
		strcpy(r.point_id, pt.info.id);
		*res = r;
	}
	eng_point_release(&pt);
	return rc;
}
