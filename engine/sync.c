/* sync.c — a new recovery point: what every kind of dataset shares.
 * Checks the names, takes the store's shared lock, finds the parent point,
 * lets the kind (image or tree) store the data, then writes the point. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "sync.h"

int eng_sync(eng_store *s, const char *source, const eng_sync_opts *opts, eng_sync_result *res, eng_err *err)
{
	const char *why, *cons = opts->consistency ? opts->consistency : "crash";
	if (!eng_name_valid(opts->machine, &why))
		return eng_fail(err, ENG_EINPUT, "machine name '%s' %s", opts->machine ? opts->machine : "", why);
	if (!eng_name_valid(opts->dataset, &why))
		return eng_fail(err, ENG_EINPUT, "dataset name '%s' %s", opts->dataset ? opts->dataset : "", why);
	if (strcmp(cons, "crash") && strcmp(cons, "app") && strcmp(cons, "planned"))
		return eng_fail(err, ENG_EINPUT, "consistency '%s' is not one of crash, app, planned", cons);
	if (opts->run_id && (!eng_name_valid(opts->run_id, &why) || strlen(opts->run_id) >= sizeof(((eng_point_info *)0)->run)))
		return eng_fail(err, ENG_EINPUT, "run '%s' %s", opts->run_id, strlen(opts->run_id) >= 64 ? "is longer than 63 bytes" : why);
	struct stat st;
	if (stat(source, &st) != 0)
		return eng_fail(err, ENG_EINPUT, "%s: %s", source, errno == ENOENT ? "no such file" : strerror(errno));
	bool tree = S_ISDIR(st.st_mode);
	if (!tree && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return eng_fail(err, ENG_EINPUT, "%s is not a regular file, block device or folder", source);

	eng_point parent = { 0 }, pt = { 0 };
	bool have_parent = false;
	int64_t t0 = eng_now_us();
	s->be->cancel = opts->run.cancel;
	int rc = eng_be_lock(s->be, false, "sync", err);
	if (!rc)
		rc = eng_fence_check(s, opts->machine, opts->site, err);
	if (!rc)
		rc = eng_store_load_index(s, err);
	eng_point_info newest;
	eng_err perr;
	if (!rc && eng_point_find(s, opts->machine, opts->dataset, "latest", &newest, &perr) == ENG_OK) {
		rc = eng_point_load(s, opts->machine, opts->dataset, newest.id, &parent, err);
		have_parent = rc == ENG_OK;
	}
	eng_changed_dirs dirs = { 0 };
	bool hint = false;
	if (!rc && opts->changed && !opts->since)
		rc = eng_fail(err, ENG_EINPUT, "--changed needs --since POINT");
	else if (!rc && opts->changed && tree) {
		/* a watcher's list is only a shortcut: against another parent, every folder is listed */
		rc = eng_changed_dirs_load(opts->changed, &dirs, err);
		hint = !rc && have_parent && !strcmp(parent.info.kind, "tree") && !strcmp(parent.info.id, opts->since);
	} else if (!rc && opts->changed && (!have_parent || strcmp(parent.info.id, opts->since) != 0))
		rc = eng_fail(err, ENG_EINPUT,
			      "the changed blocks are relative to point %s, but the newest point of %s/%s is %s",
			      opts->since, opts->machine, opts->dataset, have_parent ? parent.info.id : "none");
	if (!rc && tree)
		rc = eng_tree_sync(s, source, have_parent && !strcmp(parent.info.kind, "tree") ? &parent : NULL,
				   hint ? &dirs : NULL, &opts->run, &pt, err);
	else if (!rc)
		rc = eng_image_sync(s, source, opts, have_parent ? &parent : NULL, &pt, err);
	eng_changed_dirs_free(&dirs);
	if (rc)
		goto out;
	pt.info.time_us = t0;
	snprintf(pt.info.machine, sizeof(pt.info.machine), "%s", opts->machine);
	snprintf(pt.info.dataset, sizeof(pt.info.dataset), "%s", opts->dataset);
	snprintf(pt.info.consistency, sizeof(pt.info.consistency), "%s", cons);
	snprintf(pt.info.run, sizeof(pt.info.run), "%s", opts->run_id ? opts->run_id : "");
	eng_format_time(t0, pt.info.time);
	if (have_parent)
		strcpy(pt.info.parent, parent.info.id);
	gethostname(pt.host, sizeof(pt.host) - 1);
	pt.seconds = (double)(eng_now_us() - t0) / 1e6;
	/* again: a failover may have fenced this site while the data moved */
	rc = eng_fence_check(s, opts->machine, opts->site, err);
	if (!rc)
		rc = eng_point_write(s, &pt, err);
	if (rc == ENG_OK && res) {
		*res = (eng_sync_result){ .size = pt.info.size, .bytes_read = pt.bytes_read,
					  .bytes_added = pt.info.added_bytes, .chunks_added = pt.chunks_added,
					  .holes = pt.holes, .files = pt.files, .skipped = pt.skipped,
					  .folders_listed = pt.listed, .walked_changed = pt.walked_changed,
					  .seconds = (double)(eng_now_us() - t0) / 1e6 };
		strcpy(res->point_id, pt.info.id);
		strcpy(res->kind, pt.info.kind);
	}
out:
	eng_point_release(&parent);
	eng_point_release(&pt);
	return rc;
}
