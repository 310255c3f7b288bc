// SPDX-License-Identifier: GPL-2.0
/*
 * JSON both ways: request bodies parsed strictly (one object, only the
 * endpoint's fields, each of its type, a 400 naming what is wrong) and the
 * helpers the handlers build their answers with (integers, seconds with
 * microsecond digits, counter tables, latency histograms).
 */
#include "control/api_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- request bodies ---- */

/* parse_body's spec for a body whose fields the handler checks itself. */
const struct field_spec api_json__unchecked[1];

static const char *type_word(enum json_type t)
{
	switch (t) {
	case json_type_int:
		return "an integer";
	case json_type_boolean:
		return "a boolean";
	case json_type_string:
		return "a string";
	default:
		return json_type_to_name(t);
	}
}

/*
 * Only the fields in spec, each of its type, the required ones present.
 * false after writing the reason into err; where ("" or "balloon: ")
 * prefixes it, for --config-file's sections.
 */
bool api_json__check_fields(struct json_object *obj, const struct field_spec *spec, unsigned int n,
			    const char *where, char *err, size_t err_len)
{
	char expected[200] = "";

	for (unsigned int i = 0; i < n; i++)
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
			 i ? ", " : "", spec[i].name);
	json_object_object_foreach(obj, key, val)
	{
		unsigned int i;

		for (i = 0; i < n; i++)
			if (strcmp(key, spec[i].name) == 0)
				break;
		if (i == n) {
			snprintf(err, err_len, "%sunknown field '%.64s' (expected: %s)", where, key,
				 expected);
			return false;
		}
		if (!json_object_is_type(val, spec[i].type)) {
			snprintf(err, err_len, "%s'%s' must be %s", where, spec[i].name,
				 type_word(spec[i].type));
			return false;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		if (spec[i].required && !json_object_object_get_ex(obj, spec[i].name, NULL)) {
			snprintf(err, err_len, "%smissing field '%s'", where, spec[i].name);
			return false;
		}
	}
	return true;
}

/*
 * Parse the body as one JSON object holding only the fields in spec, each of
 * its type, the required ones present (spec api_json__unchecked: the caller
 * checks them).
 * NULL after a 400 otherwise.
 */
struct json_object *api_json__parse_body(struct api_request *req, struct api_reply *r,
					 const struct field_spec *spec, unsigned int n)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;
	char msg[400];

	if (req->len == 0) {
		api_reply__error(r, 400, "empty body: expected a JSON object");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		api_reply__error(r, 500, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* With the terminating NUL, a bare number ends; after the value only space may follow. */
	obj = json_tokener_parse_ex(tok, req->body, (int)req->len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		api_reply__error(r, 400, "malformed JSON at byte %zu: %s", end,
				 json_tokener_error_desc(jerr));
		return NULL;
	}
	for (; end < req->len; end++) {
		char c = req->body[end];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(obj);
			api_reply__error(
				r, 400,
				"malformed JSON: unexpected data after the object at byte %zu",
				end);
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		api_reply__error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	if (spec != api_json__unchecked &&
	    !api_json__check_fields(obj, spec, n, "", msg, sizeof(msg))) {
		api_reply__error(r, 400, "%s", msg);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/*
 * An integer field in [min, max]; false after writing why into err. Absent:
 * *out untouched, true.
 */
bool api_json__uint_field(struct json_object *obj, const char *where, const char *name,
			  uint64_t min, uint64_t max, uint64_t *out, char *err, size_t err_len)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(obj, name, &v))
		return true;
	x = json_object_get_int64(v); /* saturates at INT64_MAX: still out of range */
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
		snprintf(err, err_len, "%s'%s' must be between %llu and %llu", where, name,
			 (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

/* An integer field in [0, max]; false after a 400. Absent: *out untouched, true. */
bool api_json__get_uint(struct json_object *obj, const char *name, uint64_t max, uint64_t *out,
			struct api_reply *r)
{
	char msg[160];

	if (api_json__uint_field(obj, "", name, 0, max, out, msg, sizeof(msg)))
		return true;
	api_reply__error(r, 400, "%s", msg);
	return false;
}

/* ---- JSON views of a sample ---- */

void api_json__add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Seconds with microsecond digits (json-c would print doubles with 17 digits). */
void api_json__add_seconds(struct json_object *o, const char *key, uint64_t ns)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu.%06llu", (unsigned long long)(ns / 1000000000ULL),
		 (unsigned long long)(ns % 1000000000ULL / 1000ULL));
	json_object_object_add(o, key, json_object_new_double_s((double)ns / 1e9, text));
}

/* Every counter of a table (metrics.h) under its field's name. */
void api_json__add_counters(struct json_object *o, const struct metrics_counter *table,
			    unsigned int n, const void *stats)
{
	for (unsigned int i = 0; i < n; i++)
		api_json__add_u64(o, table[i].key, metrics_counter__get(&table[i], stats));
}

struct json_object *api_json__histogram(const struct discard_histogram *h)
{
	struct json_object *o = json_object_new_object(), *buckets = json_object_new_array();

	api_json__add_u64(o, "count", h->count);
	api_json__add_seconds(o, "sum_s", h->sum_ns);
	for (unsigned int i = 0; i < DISCARD_HIST_BUCKETS; i++) {
		struct json_object *b = json_object_new_object();
		uint64_t le = discard_histogram__bucket_le_us(i);

		/* le_us: upper bound in microseconds, null for +Inf; count: this bucket alone. */
		json_object_object_add(b, "le_us",
				       le == UINT64_MAX ? NULL : json_object_new_uint64(le));
		api_json__add_u64(b, "count", h->buckets[i]);
		json_object_array_add(buckets, b);
	}
	json_object_object_add(o, "buckets", buckets);
	return o;
}
