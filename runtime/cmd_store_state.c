/* cmd_store_state.c — `lifeboat store state`: a recovery plan's state and
 * fence as the store records it (read, or record a new one). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char help[] =
	"usage: lifeboat store state PLAN --store URL [--json]\n"
	"       lifeboat store state PLAN --store URL --phase PHASE --active SITE\n"
	"                                 --source SITE|none --machines M1,M2,... [--job ID]\n\n"
	"Prints the state of recovery plan PLAN recorded in the store, or records a\n"
	"new one. The state says which site runs the plan's machines and which site\n"
	"may replicate them: `lifeboat sync --site S` of one of the machines is refused\n"
	"from any other site, so an old primary cannot overwrite the replica after a\n"
	"failover (no split brain). Plan commands (failover, reprotect, failback,\n"
	"commit) record it; run it by hand only to repair a plan's state.\n\n"
	"  --store URL          the replica store (default: LIFEBOAT_STORE)\n"
	"  --key-file FILE      key of an encrypted store (default: LIFEBOAT_KEY_FILE)\n"
	"  --phase PHASE        protected, failed-over, reprotected or committed\n"
	"  --active SITE        the site the machines run at\n"
	"  --source SITE|none   the site that may replicate them (none: no site)\n"
	"  --machines LIST      the plan's machines, separated by commas\n"
	"  --job ID             the job that made the change (for the record)\n"
	"  --json               print the state as JSON (null when none is recorded)\n";

static int split_machines(const char *list, eng_plan_state *st)
{
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *why;
		if (st->n_machines == sizeof(st->machines) / sizeof(st->machines[0]) || n >= sizeof(st->machines[0]))
			return rt_usage("store state", "--machines: too many or too long names");
		snprintf(st->machines[st->n_machines], sizeof(st->machines[0]), "%.*s", (int)n, p);
		if (!eng_name_valid(st->machines[st->n_machines], &why))
			return rt_usage("store state", "--machines: machine name '%s' %s", st->machines[st->n_machines], why);
		st->n_machines++;
		p = comma ? comma + 1 : p + n;
	}
	return EXIT_DONE;
}

int cmd_store_state(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "phase", required_argument, NULL, 'p' },
		{ "active", required_argument, NULL, 'a' },
		{ "source", required_argument, NULL, 'S' },
		{ "machines", required_argument, NULL, 'm' },
		{ "job", required_argument, NULL, 'J' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	rt_store_opts so = { 0 };
	eng_plan_state st;
	memset(&st, 0, sizeof(st));
	const char *phase = NULL, *active = NULL, *source = NULL, *machines = NULL, *job = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'k': so.key_file = optarg; break;
		case 'p': phase = optarg; break;
		case 'a': active = optarg; break;
		case 'S': source = optarg; break;
		case 'm': machines = optarg; break;
		case 'J': job = optarg; break;
		case 'j': so.json = true; break;
		case 'h': fputs(help, stdout); return EXIT_DONE;
		case ':': return rt_usage("store state", "%s needs a value", argv[optind - 1]);
		default: return rt_usage("store state", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return rt_usage("store state", "give exactly one PLAN");
	const char *plan = argv[optind], *why;
	if (!eng_name_valid(plan, &why))
		return rt_usage("store state", "plan name '%s' %s", plan, why);
	bool set = phase || active || source || machines || job;
	if (set && (!phase || !active || !source || !machines))
		return rt_usage("store state", "recording a state needs --phase, --active, --source and --machines");
	if (set) {
		snprintf(st.plan, sizeof(st.plan), "%s", plan);
		snprintf(st.phase, sizeof(st.phase), "%s", phase);
		snprintf(st.active, sizeof(st.active), "%s", active);
		snprintf(st.source, sizeof(st.source), "%s", strcmp(source, "none") ? source : "");
		snprintf(st.job, sizeof(st.job), "%s", job ? job : "");
		int urc = split_machines(machines, &st);
		if (urc)
			return urc;
	}
	eng_store *s;
	int rc = rt_open_store("store state", &so, &s);
	if (rc)
		return rc;
	eng_err err;
	rc = set ? eng_plan_put(s, &st, &err) : eng_plan_get(s, plan, &st, &err);
	eng_store_close(s);
	if (rc == ENG_ENOTFOUND && !set) {
		if (so.json)
			puts("null");
		else
			fprintf(stderr, "no state recorded for plan %s\n", plan);
		return EXIT_DONE;
	}
	if (rc)
		return rt_fail("store state", rc, "%s", err.msg);
	if (so.json) {
		char *text = eng_plan_state_json(&st);
		puts(text ? text : "null");
		free(text);
	} else {
		printf("plan %s: %s, active at %s; %s%s (state %llu, %s by %s)\n", st.plan, st.phase, st.active,
		       st.source[0] ? "replicated from " : "no site may replicate it", st.source, (unsigned long long)st.seq,
		       st.time, st.host);
	}
	return EXIT_DONE;
}
