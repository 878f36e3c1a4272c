#include <stdio.h>
#include <stdlib.h>

#include "wordfreq.h"

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        buf[n++] = (char)c;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}
