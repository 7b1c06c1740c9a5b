#include "api.h"
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "daemon/worker.h"

struct job {
	char sock[PATH_MAX];
	char url[2048];
	int64_t timeout_ms;
	long status;
	char *body;
	size_t len, cap;
	dk_api_fn fn;
	void *userdata;
	struct gl_worker *w;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct job *j = userdata;
	size_t len = size * n;

	if (j->len + len > DK_API_BODY_MAX || gl_buf_append(&j->body, &j->len, &j->cap, p, len) < 0)
		return 0;
	return len;
}

static int run(struct gl_worker *w, void *data)
{
	struct job *j = data;
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, j->sock);
	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)j->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
	curl_easy_cleanup(c);
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return -E2BIG;
	default:
		return -EIO;
	}
}

static void done(int result, void *userdata)
{
	struct job *j = userdata;

	j->fn(result, j->status, result == 0 && j->body ? j->body : "", result == 0 ? j->len : 0,
	      j->userdata);
	gl_worker_free(j->w, 0);
}

/* The job posts nothing: its one result comes through done. */
static void deliver(void *msg, void *userdata)
{
	free(msg);
}

static void job_free(void *data)
{
	struct job *j = data;

	free(j->body);
	free(j);
}

int dk_api_get(struct gl_loop *l, const char *sock, const char *path, int64_t timeout_ms,
	       dk_api_fn fn, void *userdata)
{
	static const struct gl_worker_ops ops = { .run = run, .deliver = deliver, .done = done, .job_free = job_free };
	struct job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	if (gl_strlcpy(j->sock, sock, sizeof(j->sock)) < 0 || strlen(path) + 32 > sizeof(j->url)) {
		free(j);
		return -ENAMETOOLONG;
	}
	snprintf(j->url, sizeof(j->url), "http://docker%s", path);
	j->timeout_ms = timeout_ms;
	j->fn = fn;
	j->userdata = userdata;
	r = gl_worker_start(l, &ops, j, j, 1, &j->w);
	if (r < 0)
		free(j);
	return r;
}
