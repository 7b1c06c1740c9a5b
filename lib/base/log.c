#include "base/log.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "gamelan";
static int log_min = GL_LOG_INFO;
static FILE *log_file;

void gl_log_init(const char *ident)
{
	const char *path = getenv("GAMELAN_LOG");
	const char *lvl = getenv("GAMELAN_LOG_LEVEL");

	log_ident = ident;
	if (lvl && strcmp(lvl, "debug") == 0)
		log_min = GL_LOG_DEBUG;
	/* A CNI plugin's stdout is the protocol; logs go to stderr or to the file
	 * the admin names, opened append-only and private. */
	if (path && path[0] == '/') {
		FILE *f = fopen(path, "ae");
		if (f)
			log_file = f;
	}
}

void gl_log(enum gl_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	FILE *out = log_file ? log_file : stderr;
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if ((int)lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(out, "%s %s[%d] %s: ", ts, log_ident, (int)getpid(), names[lvl]);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}
