/* textkit: word counts of trimmed lines. */
#include <stdlib.h>
#include <string.h>

#include "textkit.h"

size_t count_words(char *const *lines, size_t n)
{
	size_t words = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);
		int in_word = 0;
		for (size_t k = 0; k < len; k++) {
			int blank = lines[i][k] == ' ' || lines[i][k] == '\t';
			words += !blank && !in_word;
			in_word = !blank;
		}
	}
	return words;
}

void words_release(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
}
