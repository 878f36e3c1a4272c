#include <stdio.h>
#include <stdlib.h>

#include "wordfreq.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: wordfreq FILE\n");
        return 2;
    }
    size_t len;
    char *text = read_file(argv[1], &len);
    if (!text) {
        perror(argv[1]);
        return 1;
    }
    table t;
    table_init(&t);
    count_words(&t, text, len);
    entry *top[20];
    size_t n = top_words(&t, top, 20);
    printf("%ld words, %zu distinct\n", t.total, t.size);
    for (size_t i = 0; i < n; i++)
        printf("%7ld %s\n", top[i]->count, top[i]->word);
    table_free(&t);
    free(text);
    return 0;
}
