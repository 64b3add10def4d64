/* test_ini_lines.c - inih's reading of a line, classified ahead of inih (bw_ini_lines.h). */
#include <string.h>

#include "bw_ini_lines.h"
#include "bw_test.h"

static enum bw_ini_kind kind_of(bw_ini_lexer *lx, const char *line, int no)
{
    bw_ini_line l;
    bw_ini_classify(lx, line, no, &l);
    return l.kind;
}

static void test_kinds(void)
{
    bw_ini_lexer lx = {0};
    CU_ASSERT_EQUAL(kind_of(&lx, "", 1), BW_INI_BLANK);
    CU_ASSERT_EQUAL(kind_of(&lx, "  ; comment", 2), BW_INI_BLANK);
    CU_ASSERT_EQUAL(kind_of(&lx, "# comment", 3), BW_INI_BLANK);
    CU_ASSERT_EQUAL(kind_of(&lx, "[global]", 4), BW_INI_SECTION);
    CU_ASSERT_EQUAL(kind_of(&lx, "[global", 5), BW_INI_BAD);
    CU_ASSERT_EQUAL(kind_of(&lx, "retries = 3", 6), BW_INI_KEY);
    CU_ASSERT_EQUAL(kind_of(&lx, "retries : 3", 7), BW_INI_KEY);
    CU_ASSERT_EQUAL(kind_of(&lx, "just words", 8), BW_INI_BAD);
    CU_ASSERT_EQUAL(kind_of(&lx, "a ;= b", 9), BW_INI_BAD);   /* ';' after a blank: a comment */
}

static void test_continuation_follows_a_key(void)
{
    bw_ini_lexer lx = {0};
    CU_ASSERT_EQUAL(kind_of(&lx, "  indented = 1", 1), BW_INI_KEY);   /* no key before */
    CU_ASSERT_EQUAL(kind_of(&lx, "hosts = a", 2), BW_INI_KEY);
    CU_ASSERT_EQUAL(kind_of(&lx, "  b", 3), BW_INI_CONT);
    CU_ASSERT_EQUAL(kind_of(&lx, "\tport = 1", 4), BW_INI_CONT);       /* inih's reading */
    CU_ASSERT_EQUAL(kind_of(&lx, "[destination x]", 5), BW_INI_SECTION);
    CU_ASSERT_EQUAL(kind_of(&lx, "  c = 1", 6), BW_INI_KEY);           /* a header ends it */
    CU_ASSERT_EQUAL(kind_of(&lx, "= empty name", 7), BW_INI_KEY);
    CU_ASSERT_EQUAL(kind_of(&lx, "  d", 8), BW_INI_BAD);               /* no name: no continuation */
}

static void test_spans(void)
{
    bw_ini_lexer lx = {0};
    bw_ini_line l;
    bw_ini_classify(&lx, "\xEF\xBB\xBF[ destination a ]  \n", 1, &l);
    CU_ASSERT_EQUAL(l.kind, BW_INI_SECTION);
    CU_ASSERT_EQUAL(l.name_len, strlen(" destination a "));
    CU_ASSERT_NSTRING_EQUAL(l.name, " destination a ", l.name_len);
    CU_ASSERT_EQUAL(l.text_len, strlen("[ destination a ]"));
    bw_ini_classify(&lx, "\xEF\xBB\xBF[x]", 2, &l);   /* a BOM only counts on line 1 */
    CU_ASSERT_EQUAL(l.kind, BW_INI_BAD);
    const char *s = "a = b ; c";
    CU_ASSERT_EQUAL(bw_ini_find_chars_or_comment(s + 4, NULL) - s, 6);
    CU_ASSERT_EQUAL(*bw_ini_find_chars_or_comment("a=b", "=:"), '=');
}

static const bw_test_case cases[] = {
    {"kinds", test_kinds},
    {"continuations", test_continuation_follows_a_key},
    {"spans", test_spans},
    {NULL, NULL},
};

BW_TEST_MAIN({"ini lines", cases})
