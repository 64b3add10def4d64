/* ini_lines.c - libinih's reading of a line, ahead of inih (see bw_ini_lines.h). */
#include <ctype.h>
#include <string.h>

#include "bw_ini_lines.h"

const char *bw_ini_find_chars_or_comment(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

void bw_ini_classify(bw_ini_lexer *lx, const char *line, int line_no, bw_ini_line *out)
{
    const char *s = line;
    if (line_no == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *out = (bw_ini_line){.kind = BW_INI_BLANK, .text = s, .text_len = n};
    if (!*s || *s == ';' || *s == '#')
        return;
    out->kind = BW_INI_CONT;
    if (lx->prev_name && s > line)
        return;
    bool header = *s == '[';
    const char *end = bw_ini_find_chars_or_comment(header ? s + 1 : s, header ? "]" : "=:");
    if (header && *end == ']') {
        out->kind = BW_INI_SECTION;
        out->name = s + 1;
        out->name_len = (size_t)(end - s - 1);
        lx->prev_name = false;
    } else if (!header && (*end == '=' || *end == ':')) {
        out->kind = BW_INI_KEY;
        lx->prev_name = end > s;
    } else {
        out->kind = BW_INI_BAD;
    }
}
