#include "base/json.h"
#include <errno.h>
#include <string.h>
#include "base/utf8.h"
#include "base/util.h"

int gl_json_parse_object(const char *buf, size_t len, json_object **ret, struct gl_err *err)
{
	struct json_tokener *tok;
	json_object *o;
	enum json_tokener_error jerr;
	size_t used;

	if (len > INT32_MAX)
		return gl_err_set(err, GL_ERR_DECODE, "input too large");
	/* RFC 8259 text is UTF-8. json-c's own check lets overlong forms and
	 * surrogates through, which would then be echoed into our output. */
	if (!gl_utf8_valid(buf, len, &used))
		return gl_err_set(err, GL_ERR_DECODE, "malformed JSON: invalid UTF-8 at byte %zu", used);
	tok = json_tokener_new_ex(64);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		if (o)
			json_object_put(o);
		return gl_err_set(err, GL_ERR_DECODE, "malformed JSON: %s",
				  jerr == json_tokener_continue ? "unexpected end of input"
								: json_tokener_error_desc(jerr));
	}
	for (; used < len; used++) {
		if (!strchr(" \t\r\n", buf[used]) && buf[used] != '\0') {
			json_object_put(o);
			return gl_err_set(err, GL_ERR_DECODE, "malformed JSON: trailing data at byte %zu",
					  used);
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return gl_err_set(err, GL_ERR_DECODE, "malformed JSON: expected an object");
	}
	*ret = o;
	return 0;
}

static int get_typed(json_object *o, const char *what, const char *key, json_type type,
		     const char *tname, json_object **ret, struct gl_err *err)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, type))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s%s%s must be %s", what ? what : "",
				  what ? "." : "", key, tname);
	*ret = v;
	return 1;
}

int gl_json_get_str(json_object *o, const char *what, const char *key, const char **ret,
		    struct gl_err *err)
{
	json_object *v = NULL;
	int r = get_typed(o, what, key, json_type_string, "a string", &v, err);

	if (r <= 0)
		return r;
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s%s%s contains a NUL byte",
				  what ? what : "", what ? "." : "", key);
	*ret = json_object_get_string(v);
	return 1;
}

int gl_json_get_strbuf(json_object *o, const char *what, const char *key, char *buf, size_t size,
		       struct gl_err *err)
{
	const char *s;
	int r = gl_json_get_str(o, what, key, &s, err);

	if (r <= 0)
		return r;
	if (gl_strlcpy(buf, s, size) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s%s%s is too long (at most %zu bytes)",
				  what ? what : "", what ? "." : "", key, size - 1);
	return 1;
}

int gl_json_get_bool(json_object *o, const char *what, const char *key, bool *ret, struct gl_err *err)
{
	json_object *v = NULL;
	int r = get_typed(o, what, key, json_type_boolean, "true or false", &v, err);

	if (r <= 0)
		return r;
	*ret = json_object_get_boolean(v);
	return 1;
}

int gl_json_get_int(json_object *o, const char *what, const char *key, int64_t min, int64_t max,
		    int64_t *ret, struct gl_err *err)
{
	json_object *v = NULL;
	int64_t x;
	int r = get_typed(o, what, key, json_type_int, "an integer", &v, err);

	if (r <= 0)
		return r;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < min || x > max)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s%s%s must be between %lld and %lld",
				  what ? what : "", what ? "." : "", key, (long long)min, (long long)max);
	*ret = x;
	return 1;
}

int gl_json_get_object(json_object *o, const char *what, const char *key, json_object **ret,
		       struct gl_err *err)
{
	return get_typed(o, what, key, json_type_object, "an object", ret, err);
}

int gl_json_get_array(json_object *o, const char *what, const char *key, json_object **ret,
		      struct gl_err *err)
{
	return get_typed(o, what, key, json_type_array, "an array", ret, err);
}

char *gl_json_dump(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? strdup(s) : NULL;
}
