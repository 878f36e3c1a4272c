/* Unit tests of wordfreq: prints "FAIL: <test>: <detail>" for each failure, exits 1 if any. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordfreq.h"

static int failures = 0, checks = 0;

#define CHECK(name, cond, ...)                                  \
    do {                                                        \
        checks++;                                               \
        if (!(cond)) {                                          \
            failures++;                                         \
            printf("FAIL: %s: ", name);                         \
            printf(__VA_ARGS__);                                \
            printf("\n");                                       \
        }                                                       \
    } while (0)

static table counted(const char *text) {
    table t;
    table_init(&t);
    count_words(&t, text, strlen(text));
    return t;
}

static void test_words_are_lowercased_letters(void) {
    table t = counted("The cat, the CAT; the hat!");
    CHECK("test_words_are_lowercased_letters", table_get(&t, "the") == 3, "the=%ld", table_get(&t, "the"));
    CHECK("test_words_are_lowercased_letters", table_get(&t, "cat") == 2, "cat=%ld", table_get(&t, "cat"));
    CHECK("test_words_are_lowercased_letters", t.total == 6 && t.size == 3, "total=%ld size=%zu", t.total, t.size);
    table_free(&t);
}

static void test_inner_apostrophes_belong_to_the_word(void) {
    table t = counted("Don't stop 'quoted' rock'n'roll it's");
    CHECK("test_inner_apostrophes_belong_to_the_word", table_get(&t, "don't") == 1, "don't=%ld", table_get(&t, "don't"));
    CHECK("test_inner_apostrophes_belong_to_the_word", table_get(&t, "quoted") == 1, "quoted=%ld", table_get(&t, "quoted"));
    CHECK("test_inner_apostrophes_belong_to_the_word", table_get(&t, "rock'n'roll") == 1, "rock'n'roll=%ld", table_get(&t, "rock'n'roll"));
    CHECK("test_inner_apostrophes_belong_to_the_word", table_get(&t, "it's") == 1, "it's=%ld", table_get(&t, "it's"));
    CHECK("test_inner_apostrophes_belong_to_the_word", t.total == 5, "total=%ld", t.total);
    table_free(&t);
}

static void test_digits_and_symbols_split_words(void) {
    table t = counted("abc123def x-y_z 42");
    CHECK("test_digits_and_symbols_split_words", t.total == 5 && table_get(&t, "abc") == 1 && table_get(&t, "z") == 1,
          "total=%ld", t.total);
    table_free(&t);
}

static void test_many_distinct_words(void) {
    table t;
    table_init(&t);
    char word[16];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(word, sizeof word, "w%c%c%c", 'a' + i % 26, 'a' + i / 26 % 26, 'a' + i / 676 % 26);
        table_add(&t, word, (size_t)n);
        table_add(&t, word, (size_t)n);
    }
    CHECK("test_many_distinct_words", t.size == 17576 && t.total == 40000, "size=%zu total=%ld", t.size, t.total);
    /* i = 1378 and i = 1378 + 17576 both spell "wabc", each added twice */
    CHECK("test_many_distinct_words", table_get(&t, "wabc") == 4, "wabc=%ld", table_get(&t, "wabc"));
    table_free(&t);
}

static void test_top_words_by_count_then_alphabet(void) {
    table t = counted("b a c b a b d");
    entry *top[3];
    size_t n = top_words(&t, top, 3);
    CHECK("test_top_words_by_count_then_alphabet", n == 3, "n=%zu", n);
    CHECK("test_top_words_by_count_then_alphabet",
          n == 3 && strcmp(top[0]->word, "b") == 0 && strcmp(top[1]->word, "a") == 0 && strcmp(top[2]->word, "c") == 0,
          "got %s %s %s", top[0]->word, top[1]->word, top[2]->word);
    table_free(&t);
}

static void test_empty_text(void) {
    table t = counted("");
    entry *top[1];
    CHECK("test_empty_text", t.total == 0 && top_words(&t, top, 1) == 0, "total=%ld", t.total);
    table_free(&t);
}

int main(void) {
    test_words_are_lowercased_letters();
    test_inner_apostrophes_belong_to_the_word();
    test_digits_and_symbols_split_words();
    test_many_distinct_words();
    test_top_words_by_count_then_alphabet();
    test_empty_text();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
