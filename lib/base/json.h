/* Typed access to json-c objects with clear errors for a human. Stdin, the
 * Docker socket and the Kubernetes API are hostile: check types first. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"

static inline void gl_json_putp(json_object **o) { if (*o) json_object_put(*o); }
#define _cleanup_json_ __attribute__((cleanup(gl_json_putp)))

/* Parse a whole document; trailing garbage or nesting deeper than 64 is an
 * error (GL_ERR_DECODE). The result must be an object. */
int gl_json_parse_object(const char *buf, size_t len, json_object **ret, struct gl_err *err);

/* Each getter: key absent -> 0 and *ret untouched (unless noted);
 * present with the wrong type or value -> GL_ERR_INVALID_CONFIG naming `what.key`;
 * present and right -> 1. `what` names the enclosing object in messages. */
/* The string must fit in size (NUL included). */
int gl_json_get_strbuf(json_object *o, const char *what, const char *key, char *buf, size_t size,
		       struct gl_err *err);
int gl_json_get_bool(json_object *o, const char *what, const char *key, bool *ret, struct gl_err *err);
/* Integer within [min, max]. */
int gl_json_get_int(json_object *o, const char *what, const char *key, int64_t min, int64_t max,
		    int64_t *ret, struct gl_err *err);
int gl_json_get_object(json_object *o, const char *what, const char *key, json_object **ret,
		       struct gl_err *err);
int gl_json_get_array(json_object *o, const char *what, const char *key, json_object **ret,
		      struct gl_err *err);
/* Type-checked string getter with error reporting. */
int gl_json_get_str(json_object *o, const char *what, const char *key, const char **ret,
		    struct gl_err *err);

/* Serialize compactly into a malloc'd string. */
char *gl_json_dump(json_object *o);
