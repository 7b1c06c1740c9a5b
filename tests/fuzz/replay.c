/* Replay fuzz inputs through one harness without libFuzzer: each argument
 * is a file or a directory of files (a corpus). Linked with a harness by the
 * gcc build; run under ASan+UBSan by tests/fuzz/replay.sh in `make check`, a
 * crash, a sanitizer report or a leak fails it. Prints how many it ran. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"
#include "fuzz.h"

/* libFuzzer's own bound for these harnesses (tests/fuzz/run.sh -max_len). */
#define REPLAY_MAX (1u << 20)

static int replay_file(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	r = gl_read_all(fd, REPLAY_MAX, &buf, &len);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return r;
	}
	/* Announced first, so that a crash names its input. */
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	int runs = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names = NULL;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad += replay_file(argv[i]) < 0;
			runs++;
			continue;
		}
		n = scandir(argv[i], &names, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad++;
			continue;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];

			if (names[j]->d_name[0] != '.' &&
			    snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name) < (int)sizeof(path)) {
				bad += replay_file(path) < 0;
				runs++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replayed %d inputs, %d unreadable\n", runs, bad);
	return bad ? 1 : 0;
}
