/* wordfreq: count the words of a text and report the most frequent ones. */
#ifndef WORDFREQ_H
#define WORDFREQ_H

#include <stddef.h>

typedef struct entry {
    char *word;
    long count;
    struct entry *next;
} entry;

typedef struct {
    entry **buckets;
    size_t nbuckets;
    size_t size; /* distinct words */
    long total;  /* words counted */
} table;

/* count.c */
void table_init(table *t);
void table_free(table *t);
void table_add(table *t, const char *word, size_t len);
long table_get(const table *t, const char *word);

/* text.c: split `text` into lower-case words (letters and inner apostrophes) */
void count_words(table *t, const char *text, size_t len);

/* top.c: the `n` most frequent words, most frequent first, ties in alphabetical order */
size_t top_words(const table *t, entry **out, size_t n);

/* io.c: the whole file as a NUL-terminated buffer (caller frees); NULL on error */
char *read_file(const char *path, size_t *len);

#endif
