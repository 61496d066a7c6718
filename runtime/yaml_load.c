/* yaml_load.c — core.yaml_load(TEXT): parses one YAML document with libyaml
 * into a tree of Lua tables that keeps the line and column of every node,
 * so the plan checker can point at the exact place of a problem:
 *   scalar   {t = "s", v = "text", plain = true|false, block, quoted, line, col}
 *   sequence {t = "q", line, col, NODE, NODE, ...}
 *   mapping  {t = "m", line, col, keys = {NODE...}, vals = {NODE...}}
 * Anchors and aliases are resolved (an alias is the anchored node itself).
 * An alias inside its own anchor (a cycle) is refused, and so is a plan
 * that aliases would expand beyond MAX_ALIAS_NODES nodes or MAX_DEPTH
 * levels (a "billion laughs"), since the checker walks the expanded tree.
 * On a syntax error it returns nil, {line, col, msg}. */
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "luacore.h"

#define MAX_DEPTH 64
#define MAX_ALIAS_NODES 100000

typedef struct loader {
	lua_State *L;
	yaml_parser_t parser;
	int anchors; /* stack index of the anchor table: name -> node */
	int shapes;  /* stack index of name -> size * 256 + height, or -1 while the node is being built */
	lua_Integer alias_nodes; /* nodes added by aliases so far */
	char msg[256];
	size_t line, col;
} loader;

static int fail(loader *ld, yaml_mark_t mark, const char *msg)
{
	snprintf(ld->msg, sizeof(ld->msg), "%s", msg);
	ld->line = mark.line + 1;
	ld->col = mark.column + 1;
	return -1;
}

static int next_event(loader *ld, yaml_event_t *ev)
{
	if (yaml_parser_parse(&ld->parser, ev))
		return 0;
	yaml_parser_t *p = &ld->parser;
	char msg[256];
	if (p->context)
		snprintf(msg, sizeof(msg), "%s %s", p->problem ? p->problem : "syntax error", p->context);
	else
		snprintf(msg, sizeof(msg), "%s", p->problem ? p->problem : "syntax error");
	/* A token the scanner could not finish (an unterminated quote) is
	 * best shown where it starts, not where the input ran out. */
	bool at_start = p->error == YAML_SCANNER_ERROR && p->context;
	return fail(ld, at_start ? p->context_mark : p->problem_mark, msg);
}

static void new_node(lua_State *L, const char *type, yaml_mark_t mark)
{
	lua_createtable(L, 0, 4);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "t");
	lua_pushinteger(L, (lua_Integer)mark.line + 1);
	lua_setfield(L, -2, "line");
	lua_pushinteger(L, (lua_Integer)mark.column + 1);
	lua_setfield(L, -2, "col");
}

/* Anchors the node on top of the stack; an alias of it is refused until
 * it is complete (set_shape). The caller keeps the name alive. */
static void remember_anchor(loader *ld, const yaml_char_t *anchor)
{
	if (!anchor)
		return;
	lua_pushvalue(ld->L, -1);
	lua_setfield(ld->L, ld->anchors, (const char *)anchor);
	lua_pushinteger(ld->L, -1);
	lua_setfield(ld->L, ld->shapes, (const char *)anchor);
}

/* Records the expanded shape of the node on top of the stack, unless a
 * node inside it took its anchor name since (an alias names the latest). */
static void set_shape(loader *ld, const char *anchor, lua_Integer size, int height)
{
	if (!anchor)
		return;
	lua_getfield(ld->L, ld->anchors, anchor);
	bool same = lua_rawequal(ld->L, -1, -2);
	lua_pop(ld->L, 1);
	if (!same)
		return;
	lua_pushinteger(ld->L, size * 256 + height);
	lua_setfield(ld->L, ld->shapes, anchor);
}

/* An alias: the anchored node itself, once it is complete, within the
 * limits. size and height are those of the expanded node. */
static int load_alias(loader *ld, yaml_event_t *ev, int depth, lua_Integer *size, int *height)
{
	lua_State *L = ld->L;
	yaml_mark_t m = ev->start_mark;
	lua_pushstring(L, (const char *)ev->data.alias.anchor);
	yaml_event_delete(ev);
	const char *name = lua_tostring(L, -1);
	lua_pushvalue(L, -1);
	if (lua_rawget(L, ld->shapes) == LUA_TNIL) {
		lua_pop(L, 2);
		return fail(ld, m, "alias of an unknown anchor");
	}
	lua_Integer shape = lua_tointeger(L, -1);
	lua_pop(L, 1);
	char msg[256];
	int rc = 0;
	if (shape < 0) {
		snprintf(msg, sizeof(msg), "alias '*%.100s' is inside the node it names (a cycle)", name);
		rc = fail(ld, m, msg);
	} else {
		*size = shape / 256;
		*height = (int)(shape % 256);
		ld->alias_nodes += *size;
		if (ld->alias_nodes > MAX_ALIAS_NODES) {
			snprintf(msg, sizeof(msg), "aliases expand the plan beyond %d nodes (at '*%.100s')", MAX_ALIAS_NODES,
				 name);
			rc = fail(ld, m, msg);
		} else if (depth + *height - 1 > MAX_DEPTH) {
			snprintf(msg, sizeof(msg), "nested too deeply (through alias '*%.100s')", name);
			rc = fail(ld, m, msg);
		}
	}
	if (rc) {
		lua_pop(L, 1);
		return rc;
	}
	lua_rawget(L, ld->anchors); /* replaces the name by the node */
	return 0;
}

static int load_node(loader *ld, yaml_event_t *ev, int depth, lua_Integer *size, int *height);

/* A child of a collection (whose size and height it adds to). */
static int load_child(loader *ld, yaml_event_t *ev, int depth, lua_Integer *size, int *height)
{
	lua_Integer csize;
	int cheight;
	if (load_node(ld, ev, depth + 1, &csize, &cheight))
		return -1;
	*size += csize;
	if (cheight + 1 > *height)
		*height = cheight + 1;
	return 0;
}

/* The items of a sequence, into the node on top of the stack. */
static int load_sequence(loader *ld, int depth, lua_Integer *size, int *height)
{
	for (lua_Integer i = 1;; i++) {
		yaml_event_t item;
		if (next_event(ld, &item))
			return -1;
		if (item.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&item);
			return 0;
		}
		if (load_child(ld, &item, depth, size, height))
			return -1;
		lua_rawseti(ld->L, -2, i);
	}
}

/* The keys and values of a mapping, into the node on top of the stack. */
static int load_mapping(loader *ld, int depth, lua_Integer *size, int *height)
{
	lua_State *L = ld->L;
	lua_newtable(L);
	lua_newtable(L); /* node keys vals */
	for (lua_Integer i = 1;; i++) {
		yaml_event_t key, val;
		if (next_event(ld, &key))
			return -1;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			break;
		}
		if (load_child(ld, &key, depth, size, height))
			return -1;
		lua_rawseti(L, -3, i);
		if (next_event(ld, &val) || load_child(ld, &val, depth, size, height))
			return -1;
		lua_rawseti(L, -2, i);
	}
	lua_setfield(L, -3, "vals");
	lua_setfield(L, -2, "keys");
	return 0;
}

/* Builds the node that starts with ev (consumed) and pushes it; size and
 * height are those of the node with its aliases expanded. */
static int load_node(loader *ld, yaml_event_t *ev, int depth, lua_Integer *size, int *height)
{
	lua_State *L = ld->L;
	luaL_checkstack(L, 8, "yaml");
	*size = 1;
	*height = 1;
	if (depth > MAX_DEPTH) {
		yaml_mark_t m = ev->start_mark;
		yaml_event_delete(ev);
		return fail(ld, m, "nested too deeply");
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		new_node(L, "s", ev->start_mark);
		lua_pushlstring(L, (const char *)ev->data.scalar.value, ev->data.scalar.length);
		lua_setfield(L, -2, "v");
		lua_pushboolean(L, ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag);
		lua_setfield(L, -2, "plain");
		if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "block");
		}
		if (ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "quoted");
		}
		remember_anchor(ld, ev->data.scalar.anchor);
		set_shape(ld, (const char *)ev->data.scalar.anchor, 1, 1);
		yaml_event_delete(ev);
		return 0;
	case YAML_ALIAS_EVENT:
		return load_alias(ld, ev, depth, size, height);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		yaml_char_t *a = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		char *anchor = a ? strdup((const char *)a) : NULL;
		if (a && !anchor) {
			yaml_mark_t m = ev->start_mark;
			yaml_event_delete(ev);
			return fail(ld, m, "out of memory");
		}
		new_node(L, map ? "m" : "q", ev->start_mark);
		remember_anchor(ld, a);
		yaml_event_delete(ev);
		int rc = map ? load_mapping(ld, depth, size, height) : load_sequence(ld, depth, size, height);
		if (rc == 0)
			set_shape(ld, anchor, *size, *height);
		free(anchor);
		return rc;
	}
	default: {
		yaml_mark_t m = ev->start_mark;
		yaml_event_delete(ev);
		return fail(ld, m, "unexpected YAML event");
	}
	}
}

static int load_stream(loader *ld)
{
	yaml_event_t ev;
	int have_doc = 0;
	for (;;) {
		if (next_event(ld, &ev))
			return -1;
		yaml_event_type_t type = ev.type;
		yaml_mark_t mark = ev.start_mark;
		if (type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (type == YAML_DOCUMENT_START_EVENT && have_doc) {
			yaml_event_delete(&ev);
			return fail(ld, mark, "a plan is one YAML document; found a second one");
		}
		if (type == YAML_DOCUMENT_START_EVENT)
			have_doc = 1;
		if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT || type == YAML_ALIAS_EVENT) {
			lua_Integer size;
			int height;
			if (load_node(ld, &ev, 0, &size, &height))
				return -1;
			continue;
		}
		yaml_event_delete(&ev);
	}
	if (lua_gettop(ld->L) == ld->shapes)
		lua_pushnil(ld->L); /* an empty document */
	return 0;
}

int core_yaml_load(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	loader ld = { .L = L };
	lua_settop(L, 1);
	lua_newtable(L);
	ld.anchors = lua_gettop(L);
	lua_newtable(L);
	ld.shapes = lua_gettop(L);
	if (!yaml_parser_initialize(&ld.parser))
		return luaL_error(L, "out of memory");
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	int rc = load_stream(&ld);
	yaml_parser_delete(&ld.parser);
	if (rc == 0)
		return 1;
	lua_pushnil(L);
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)ld.line);
	lua_setfield(L, -2, "line");
	lua_pushinteger(L, (lua_Integer)ld.col);
	lua_setfield(L, -2, "col");
	lua_pushstring(L, ld.msg);
	lua_setfield(L, -2, "msg");
	return 2;
}
