#include <ctype.h>
#include <stdlib.h>

#include "wordfreq.h"

static int is_word_char(const char *text, size_t len, size_t i) {
    if (isalpha((unsigned char)text[i]))
        return 1;
    /* an apostrophe inside a word ("don't") belongs to it */
    return text[i] == '\'' && i > 0 && i + 1 < len && isalpha((unsigned char)text[i - 1]) &&
           isalpha((unsigned char)text[i + 1]);
}

void count_words(table *t, const char *text, size_t len) {
    char *word = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && is_word_char(text, len, i)) {
            word[n++] = (char)tolower((unsigned char)text[i]);
        } else if (n > 0) {
            table_add(t, word, n);
            n = 0;
        }
    }
    free(word);
}
