/* Writes a deterministic English-like text of N words: a few thousand distinct words with a
 * Zipf-like spread, capitals, punctuation and apostrophes. The benchmark's input. */
#include <stdio.h>
#include <stdlib.h>

static unsigned long long state = 88172645463325252ULL;

static unsigned long next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (unsigned long)(state >> 11);
}

int main(int argc, char **argv) {
    static const char *syllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "de", "an",
                                      "el", "or", "in", "ve", "su", "ba", "ga", "th", "re", "qu"};
    long words = argc > 1 ? atol(argv[1]) : 100000;
    enum { VOCAB = 6000 };
    static char vocab[VOCAB][16];
    for (int i = 0; i < VOCAB; i++) {
        int n = 1 + (int)(next() % 4), k = 0;
        for (int s = 0; s < n; s++)
            for (const char *p = syllables[next() % 20]; *p; p++)
                vocab[i][k++] = *p;
        if (next() % 17 == 0) { /* a contraction: don't, it's */
            vocab[i][k++] = '\'';
            vocab[i][k++] = 't';
        }
        vocab[i][k] = '\0';
    }
    for (long w = 0; w < words; w++) {
        /* Zipf-like: small indices are much more frequent */
        unsigned long r = next() % 1000000;
        int i = (int)((double)VOCAB * ((double)r / 1000000.0) * ((double)r / 1000000.0) *
                      ((double)r / 1000000.0));
        const char *word = vocab[i % VOCAB];
        if (w % 12 == 0)
            printf("%c%s", word[0] - 32, word + 1);
        else
            fputs(word, stdout);
        fputs(w % 12 == 11 ? ".\n" : (w % 5 == 4 ? ", " : " "), stdout);
    }
    return 0;
}
