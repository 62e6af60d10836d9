/* replay_main: runs a fuzz target over files named on the command line (or stdin), so
 * the checked-in corpus replays under ASan+UBSan without libFuzzer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/base/buf.h"
#include "common/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

int main(int argc, char **argv)
{
	buf_t b = BUF_INIT;

	log_init("fuzz-replay", 1, 0);
	log_set_verbose(0);
	if (argc < 2) {
		if (buf_read_file(&b, "/dev/stdin", 64u << 20) < 0) {
			perror("stdin");
			return 1;
		}
		LLVMFuzzerTestOneInput(b.data, b.len);
	}
	for (int i = 1; i < argc; i++) {
		if (buf_read_file(&b, argv[i], 64u << 20) < 0) {
			perror(argv[i]);
			return 1;
		}
		/* An exact-size copy, so ASan sees reads past the end of the input. */
		uint8_t *copy = malloc(b.len ? b.len : 1);
		if (copy == NULL)
			return 1;
		for (size_t k = 0; k < b.len; k++)
			copy[k] = b.data[k];
		LLVMFuzzerTestOneInput(copy, b.len);
		free(copy);
	}
	buf_free(&b);
	return 0;
}
