/* lua_xml.c — core.xml_set(TEXT, XPATH, VALUE) -> new text, count: with
 * libxml2, for tweaks of web.config-style files. XPATH may select elements
 * (their text is replaced) or attributes (their value is).
 * Comments and whitespace are kept; the network is never used. */
#include <lauxlib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <lua.h>
#include <string.h>

#include "luacore.h"

static xmlDocPtr parse(lua_State *L, int idx)
{
	size_t len;
	const char *text = luaL_checklstring(L, idx, &len);
	return xmlReadMemory(text, (int)len, "file.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int fail(lua_State *L, const char *what)
{
	const xmlError *e = xmlGetLastError();
	lua_pushnil(L);
	if (e && e->message)
		lua_pushfstring(L, "%s: line %d: %s", what, e->line, e->message);
	else
		lua_pushstring(L, what);
	/* drop libxml2's trailing newline */
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	if (n && s[n - 1] == '\n') {
		lua_pushlstring(L, s, n - 1);
		lua_remove(L, -2);
	}
	return 2;
}

static xmlXPathObjectPtr select_nodes(xmlDocPtr doc, const char *xpath)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	if (!ctx)
		return NULL;
	xmlXPathObjectPtr res = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	xmlXPathFreeContext(ctx);
	return res;
}

/* Parses TEXT (arg 1) and evaluates XPATH (arg 2); on failure pushes
 * nil, error and returns NULL. */
static xmlXPathObjectPtr open_and_select(lua_State *L, xmlDocPtr *doc)
{
	const char *xpath = luaL_checkstring(L, 2);
	xmlResetLastError();
	*doc = parse(L, 1);
	if (!*doc) {
		fail(L, "not well-formed XML");
		return NULL;
	}
	xmlXPathObjectPtr res = select_nodes(*doc, xpath);
	if (!res) {
		xmlFreeDoc(*doc);
		fail(L, "bad XPath");
	}
	return res;
}

int core_xml_set(lua_State *L)
{
	const char *value = luaL_checkstring(L, 3);
	xmlDocPtr doc;
	xmlXPathObjectPtr res = open_and_select(L, &doc);
	if (!res)
		return 2;
	int count = 0;
	if (res->type == XPATH_NODESET && res->nodesetval) {
		for (int i = 0; i < res->nodesetval->nodeNr; i++) {
			xmlNodePtr node = res->nodesetval->nodeTab[i];
			if (node->type == XML_ATTRIBUTE_NODE && node->parent) {
				xmlSetProp(node->parent, node->name, (const xmlChar *)value);
				count++;
			} else if (node->type == XML_ELEMENT_NODE || node->type == XML_TEXT_NODE) {
				xmlChar *esc = xmlEncodeSpecialChars(doc, (const xmlChar *)value);
				xmlNodeSetContent(node, esc);
				xmlFree(esc);
				count++;
			}
		}
	}
	xmlXPathFreeObject(res);
	xmlChar *out = NULL;
	int len = 0;
	xmlDocDumpMemoryEnc(doc, &out, &len, "UTF-8");
	xmlFreeDoc(doc);
	if (!out)
		return fail(L, "cannot write the XML");
	lua_pushlstring(L, (const char *)out, (size_t)len);
	xmlFree(out);
	lua_pushinteger(L, count);
	return 2;
}
