#include <stdlib.h>
#include <string.h>

#include "wordfreq.h"

static int by_count(const void *a, const void *b) {
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

size_t top_words(const table *t, entry **out, size_t n) {
    entry **all = malloc((t->size ? t->size : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (entry *e = t->buckets[i]; e; e = e->next)
            all[k++] = e;
    qsort(all, k, sizeof *all, by_count);
    size_t m = k < n ? k : n;
    memcpy(out, all, m * sizeof *all);
    free(all);
    return m;
}
