/* Logging for the edges (mains, request handlers): stderr, or a file when
 * GAMELAN_LOG names one. Library code logs only at debug level. */
#pragma once

enum gl_log_level { GL_LOG_DEBUG, GL_LOG_INFO, GL_LOG_WARN, GL_LOG_ERR };

void gl_log_init(const char *ident);
void gl_log(enum gl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define gl_debug(...) gl_log(GL_LOG_DEBUG, __VA_ARGS__)
#define gl_info(...) gl_log(GL_LOG_INFO, __VA_ARGS__)
#define gl_warn(...) gl_log(GL_LOG_WARN, __VA_ARGS__)
#define gl_error(...) gl_log(GL_LOG_ERR, __VA_ARGS__)
