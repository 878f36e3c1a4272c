#include <stdlib.h>
#include <string.h>

#include "wordfreq.h"

#define NBUCKETS 256

static unsigned long hash(const char *s, size_t len) {
    unsigned long h = 5381;
    for (size_t i = 0; i < len; i++)
        h = h * 33 + (unsigned char)s[i];
    return h;
}

void table_init(table *t) {
    t->nbuckets = NBUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof(entry *));
    t->size = 0;
    t->total = 0;
}

void table_free(table *t) {
    for (size_t i = 0; i < t->nbuckets; i++) {
        entry *e = t->buckets[i];
        while (e) {
            entry *next = e->next;
            free(e->word);
            free(e);
            e = next;
        }
    }
    free(t->buckets);
}

void table_add(table *t, const char *word, size_t len) {
    entry **slot = &t->buckets[hash(word, len) % t->nbuckets];
    for (entry *e = *slot; e; e = e->next) {
        if (strlen(e->word) == len && memcmp(e->word, word, len) == 0) {
            e->count++;
            t->total++;
            return;
        }
    }
    entry *e = malloc(sizeof *e);
    e->word = malloc(len + 1);
    memcpy(e->word, word, len);
    e->word[len] = '\0';
    e->count = 1;
    e->next = *slot;
    *slot = e;
    t->size++;
    t->total++;
}

long table_get(const table *t, const char *word) {
    size_t len = strlen(word);
    for (entry *e = t->buckets[hash(word, len) % t->nbuckets]; e; e = e->next)
        if (strcmp(e->word, word) == 0)
            return e->count;
    return 0;
}
