/* The store interface's shared pieces: dispatch by type, row lists. The
 * table of backends is not here (store_backends.c): a binary that defines
 * gl_store_backends itself links only the backends it names. */
#include "ipam/store.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct gl_store_ops *gl_store_backend(const char *type)
{
	if (!type || !*type)
		type = "sqlite";
	for (size_t i = 0; gl_store_backends[i]; i++)
		if (strcmp(gl_store_backends[i]->type, type) == 0)
			return gl_store_backends[i];
	return NULL;
}

int gl_store_open(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err)
{
	const struct gl_store_ops *ops = gl_store_backend(conf->type);

	if (!ops)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "store type \"%.32s\" is not supported",
				  conf->type && *conf->type ? conf->type : "sqlite");
	return ops->open(conf, ret, err);
}

void gl_store_close(struct gl_store *s)
{
	if (s)
		s->ops->close(s);
}

int gl_store_list_push(struct gl_resv_list *l, const struct gl_resv *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct gl_resv *v;

		if (l->n >= GL_STORE_SCAN_MAX)
			return -E2BIG;
		if (cap > GL_STORE_SCAN_MAX)
			cap = GL_STORE_SCAN_MAX;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

void gl_store_list_free(struct gl_resv_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

const char *gl_store_state_str(enum gl_resv_state st)
{
	switch (st) {
	case GL_RESV_BOUND: return "bound";
	case GL_RESV_RELEASED: return "released";
	case GL_RESV_CONFLICT: return "conflict";
	}
	return "?";
}

int gl_store_state_parse(const char *s, enum gl_resv_state *ret)
{
	static const enum gl_resv_state all[] = { GL_RESV_BOUND, GL_RESV_RELEASED, GL_RESV_CONFLICT };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, gl_store_state_str(all[i])) == 0) {
			*ret = all[i];
			return 0;
		}
	return -EINVAL;
}
