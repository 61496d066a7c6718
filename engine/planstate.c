/* planstate.c — recovery plans' state and fence, kept in the store.
 *
 * Each state is an object plans/PLAN/SEQ-RANDOM (SEQ: 16 decimal digits)
 * holding a sealed JSON record ("LBPLAN01" envelope, authenticated with
 * the store's key like every other object). A new state is written under
 * the next SEQ before the older objects are removed, so at every moment
 * some complete state is there, and no backend has to overwrite an
 * object in place (SFTP cannot). Readers take the highest SEQ. Two hosts
 * writing at once both succeed and the one whose name sorts last wins;
 * plan operations are serialized by the operator (one job per plan), the
 * fence only has to be seen by everyone. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "store.h"

#define STATE_MAX (1u << 20)

static const char *phases[] = { "protected", "failed-over", "reprotected", "committed" };

static bool phase_known(const char *p)
{
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(p, phases[i]))
			return true;
	return false;
}

static bool copy_str(const cJSON *o, const char *key, char *dst, size_t cap, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsNull(v) || !v) {
		dst[0] = 0;
		return !required;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
		return false;
	strcpy(dst, v->valuestring);
	return true;
}

static int decode(const char *name, const char *text, size_t len, eng_plan_state *st, eng_err *err)
{
	memset(st, 0, sizeof(*st));
	cJSON *o = cJSON_ParseWithLength(text, len);
	const cJSON *m = o ? cJSON_GetObjectItemCaseSensitive(o, "machines") : NULL, *e;
	const cJSON *seq = o ? cJSON_GetObjectItemCaseSensitive(o, "seq") : NULL;
	bool ok = o && copy_str(o, "plan", st->plan, sizeof(st->plan), true) &&
		  copy_str(o, "active", st->active, sizeof(st->active), true) &&
		  copy_str(o, "phase", st->phase, sizeof(st->phase), true) && phase_known(st->phase) &&
		  copy_str(o, "source", st->source, sizeof(st->source), false) &&
		  copy_str(o, "time", st->time, sizeof(st->time), false) &&
		  copy_str(o, "host", st->host, sizeof(st->host), false) &&
		  copy_str(o, "job", st->job, sizeof(st->job), false) && cJSON_IsArray(m) &&
		  cJSON_GetArraySize(m) <= 64 && cJSON_IsNumber(seq) && seq->valuedouble >= 0 &&
		  seq->valuedouble < 9e15;
	if (ok) {
		st->seq = (uint64_t)seq->valuedouble;
		cJSON_ArrayForEach(e, m) {
			if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof(st->machines[0])) {
				ok = false;
				break;
			}
			strcpy(st->machines[st->n_machines++], e->valuestring);
		}
	}
	cJSON_Delete(o);
	return ok ? ENG_OK : eng_fail(err, ENG_ECORRUPT, "%s: malformed plan state", name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the plan's state objects, sorted (the last is the newest). */
static int state_names(eng_store *s, const char *plan, char ***names, size_t *n, eng_err *err)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "plans/%s", plan);
	int rc = eng_be_names(s->be, prefix, names, n, err);
	if (!rc && *n > 1)
		qsort(*names, *n, sizeof(char *), by_name);
	return rc;
}

char *eng_plan_state_json(const eng_plan_state *st)
{
	cJSON *o = cJSON_CreateObject(), *m = cJSON_CreateArray();
	cJSON_AddNumberToObject(o, "format", 1);
	cJSON_AddStringToObject(o, "plan", st->plan);
	cJSON_AddStringToObject(o, "active", st->active);
	cJSON_AddStringToObject(o, "phase", st->phase);
	if (st->source[0])
		cJSON_AddStringToObject(o, "source", st->source);
	else
		cJSON_AddNullToObject(o, "source");
	for (size_t i = 0; i < st->n_machines; i++)
		cJSON_AddItemToArray(m, cJSON_CreateString(st->machines[i]));
	cJSON_AddItemToObject(o, "machines", m);
	cJSON_AddNumberToObject(o, "seq", (double)st->seq);
	cJSON_AddStringToObject(o, "time", st->time);
	cJSON_AddStringToObject(o, "host", st->host);
	if (st->job[0])
		cJSON_AddStringToObject(o, "job", st->job);
	else
		cJSON_AddNullToObject(o, "job");
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int eng_plan_get(eng_store *s, const char *plan, eng_plan_state *out, eng_err *err)
{
	const char *why;
	if (!eng_name_valid(plan, &why))
		return eng_fail(err, ENG_EINPUT, "plan name '%s' %s", plan ? plan : "", why);
	char **names = NULL;
	size_t n = 0;
	int rc = state_names(s, plan, &names, &n, err);
	if (!rc && n == 0)
		rc = eng_fail(err, ENG_ENOTFOUND, "store %s records no state for plan %s", s->be->where, plan);
	if (!rc) {
		uint8_t *raw = NULL, *body = NULL;
		size_t raw_len, body_len;
		eng_codec *c = eng_codec_new(&s->keys, s->zstd_level);
		const char *name = names[n - 1];
		rc = !c ? eng_fail(err, ENG_ENOMEM, "out of memory") : eng_be_get_all(s->be, name, STATE_MAX, &raw, &raw_len, err);
		if (rc == ENG_ENOTFOUND) /* replaced meanwhile: the caller may ask again */
			rc = eng_fail(err, ENG_EAGAIN, "%s changed while it was read", name);
		if (!rc)
			rc = eng_envelope_open(c, "LBPLAN01", raw, raw_len, name, &body, &body_len, NULL, err);
		if (!rc)
			rc = decode(name, (const char *)body, body_len, out, err);
		if (!rc && strcmp(out->plan, plan))
			rc = eng_fail(err, ENG_ECORRUPT, "%s: its content names plan %s", name, out->plan);
		free(raw);
		free(body);
		eng_codec_free(c);
	}
	eng_names_free(names, n);
	return rc;
}

int eng_plan_put(eng_store *s, eng_plan_state *st, eng_err *err)
{
	const char *why;
	if (!eng_name_valid(st->plan, &why))
		return eng_fail(err, ENG_EINPUT, "plan name '%s' %s", st->plan, why);
	if (!phase_known(st->phase))
		return eng_fail(err, ENG_EINPUT, "phase '%s' is not one of protected, failed-over, reprotected, committed",
				st->phase);
	if (!eng_name_valid(st->active, &why) || (st->source[0] && !eng_name_valid(st->source, &why)))
		return eng_fail(err, ENG_EINPUT, "a site name %s", why);
	for (size_t i = 0; i < st->n_machines; i++)
		if (!eng_name_valid(st->machines[i], &why))
			return eng_fail(err, ENG_EINPUT, "machine name '%s' %s", st->machines[i], why);
	char **names = NULL;
	size_t n = 0;
	eng_plan_state cur;
	eng_err e;
	int rc = eng_plan_get(s, st->plan, &cur, &e);
	st->seq = rc == ENG_OK ? cur.seq + 1 : 1;
	if (rc && rc != ENG_ENOTFOUND) {
		if (err)
			*err = e;
		return rc;
	}
	eng_format_time(eng_now_us(), st->time);
	if (!st->host[0])
		gethostname(st->host, sizeof(st->host) - 1);
	char *text = eng_plan_state_json(st);

	eng_codec *c = eng_codec_new(&s->keys, s->zstd_level);
	uint8_t *env = NULL;
	size_t env_len;
	char name[400], hex[9];
	rc = !text || !c ? eng_fail(err, ENG_ENOMEM, "out of memory")
			 : eng_envelope_seal(c, "LBPLAN01", text, strlen(text), &env, &env_len, NULL, err);
	if (!rc)
		rc = eng_random_hex(hex, 4, err);
	if (!rc) {
		snprintf(name, sizeof(name), "plans/%s/%016llu-%s", st->plan, (unsigned long long)st->seq, hex);
		rc = eng_be_put(s->be, name, env, env_len, err);
	}
	/* the new state is durable: older ones can go */
	if (!rc && !state_names(s, st->plan, &names, &n, &e))
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], name) < 0)
				eng_be_remove(s->be, names[i], &e);
	eng_names_free(names, n);
	free(env);
	free(text);
	eng_codec_free(c);
	return rc;
}

int eng_fence_check(eng_store *s, const char *machine, const char *site, eng_err *err)
{
	char **dirs = NULL;
	size_t n = 0;
	int rc = eng_be_names(s->be, "plans", &dirs, &n, err);
	char last[300] = "";
	for (size_t i = 0; !rc && i < n; i++) {
		/* plans/PLAN/SEQ-RANDOM: each plan once */
		char plan[300];
		const char *a = dirs[i] + 6, *b = strchr(a, '/');
		if (!b || (size_t)(b - a) >= sizeof(plan))
			continue;
		snprintf(plan, sizeof(plan), "%.*s", (int)(b - a), a);
		if (!strcmp(plan, last))
			continue;
		snprintf(last, sizeof(last), "%s", plan);
		eng_plan_state st;
		eng_err e;
		int grc = eng_plan_get(s, plan, &st, &e);
		if (grc == ENG_ENOTFOUND || grc == ENG_EINPUT)
			continue;
		if (grc) {
			if (err)
				*err = e;
			rc = grc;
			break;
		}
		bool member = false;
		for (size_t k = 0; k < st.n_machines && !member; k++)
			member = !strcmp(st.machines[k], machine);
		if (!member)
			continue;
		if (!st.source[0])
			rc = eng_fail(err, ENG_EFENCED, "machine %s belongs to plan %s, which is %s (active site: %s): no site may "
				      "replicate it%s", machine, plan, st.phase, st.active,
				      !strcmp(st.phase, "failed-over") ? "; run 'lifeboat reprotect' to replicate the recovery site back" : "");
		else if (!site)
			rc = eng_fail(err, ENG_EFENCED, "machine %s belongs to plan %s: say which site this is with --site "
				      "(only %s may replicate it now)", machine, plan, st.source);
		else if (strcmp(site, st.source))
			rc = eng_fail(err, ENG_EFENCED, "machine %s of plan %s is fenced at site %s: the plan is %s and only site %s "
				      "may replicate it (no split brain)", machine, plan, site, st.phase, st.source);
	}
	eng_names_free(dirs, n);
	return rc;
}
