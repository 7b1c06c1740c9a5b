#include "state.h"
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"

#define BUSY_MS 5000

struct dk_state {
	sqlite3 *db;
};

static int db_err(struct dk_state *s, int rc, const char *what, struct gl_err *err)
{
	return gl_err_from(err, rc == SQLITE_BUSY ? -EBUSY : -EIO, GL_ERR_STORE, "%s: %s", what,
			   sqlite3_errmsg(s->db));
}

int dk_state_open(const char *path, struct dk_state **ret, struct gl_err *err)
{
	struct dk_state *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	/* No O_CREAT: the store made the file with its mode already. */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = gl_err_from(err, -EIO, GL_ERR_STORE, "opening %s: %s", path,
				 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sqlite3_close(s->db);
		free(s);
		return rc;
	}
	sqlite3_busy_timeout(s->db, BUSY_MS);
	rc = sqlite3_exec(s->db,
			  "CREATE TABLE IF NOT EXISTS docker_objects (kind TEXT NOT NULL, id TEXT NOT NULL, "
			  "body TEXT NOT NULL, PRIMARY KEY (kind, id))",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = db_err(s, rc, "creating the docker_objects table", err);
		dk_state_close(s);
		return rc;
	}
	*ret = s;
	return 0;
}

void dk_state_close(struct dk_state *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

static int run(struct dk_state *s, const char *sql, const char *a, const char *b, const char *c,
	       const char *what, struct gl_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return db_err(s, rc, what, err);
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (c)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_err(s, rc, what, err);
}

int dk_state_put(struct dk_state *s, const char *kind, const char *id, json_object *o,
		 struct gl_err *err)
{
	char *body = gl_json_dump(o);
	int r;

	if (!body)
		return -ENOMEM;
	r = run(s, "INSERT OR REPLACE INTO docker_objects (kind, id, body) VALUES (?1, ?2, ?3)", kind, id,
		body, "saving a record", err);
	free(body);
	return r;
}

int dk_state_del(struct dk_state *s, const char *kind, const char *id, struct gl_err *err)
{
	return run(s, "DELETE FROM docker_objects WHERE kind = ?1 AND id = ?2", kind, id, NULL,
		   "removing a record", err);
}

int dk_state_each(struct dk_state *s, const char *kind, dk_state_fn fn, void *userdata,
		  struct gl_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT body FROM docker_objects WHERE kind = ?1 ORDER BY id",
				    -1, &st, NULL);
	int r = 0;

	if (rc != SQLITE_OK)
		return db_err(s, rc, "reading records", err);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(st, 0);
		json_object *o = NULL;

		if (!body || gl_json_parse_object(body, strlen(body), &o, err) < 0) {
			r = gl_err_set(err, GL_ERR_STORE, "a %s record in the store is not JSON", kind);
			break;
		}
		r = fn(o, userdata);
		json_object_put(o);
		if (r < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_err(s, rc, "reading records", err);
	sqlite3_finalize(st);
	return r;
}
