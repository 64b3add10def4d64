/*
 * bw_ini_lines.h - what libinih will make of each line of a config file.
 *
 * inih says nothing about section headers, blank lines or malformed lines,
 * and reads an indented line after a key as a continuation of its value.
 * The config loader (config_load.c) classifies every line here first, the
 * way inih will, so that it can handle headers and report bad lines itself.
 * Pure: no allocation, no system call.
 */
#ifndef BW_INI_LINES_H
#define BW_INI_LINES_H

#include <stdbool.h>
#include <stddef.h>

enum bw_ini_kind {
    BW_INI_BLANK,      /* empty, or a comment */
    BW_INI_KEY,        /* "key = value" (or "key : value") */
    BW_INI_CONT,       /* an indented line after a key: inih continues its value */
    BW_INI_SECTION,    /* "[name]" */
    BW_INI_BAD,        /* none of these */
};

typedef struct bw_ini_line {
    enum bw_ini_kind kind;
    const char *name;      /* BW_INI_SECTION: the text between the brackets ... */
    size_t name_len;       /* ... name[0, name_len), untrimmed */
    const char *text;      /* the line without leading blanks (and BOM) ... */
    size_t text_len;       /* ... and trailing blanks, for messages */
} bw_ini_line;

/* What inih remembers from one line to the next. Zero it before line 1. */
typedef struct bw_ini_lexer {
    bool prev_name;        /* the last key line named a key: an indented line continues it */
} bw_ini_lexer;

/* Classifies line (NUL-terminated, line_no counted from 1: a UTF-8 byte
 * order mark is skipped on line 1) as inih will read it. */
void bw_ini_classify(bw_ini_lexer *lx, const char *line, int line_no, bw_ini_line *out);

/* Like inih's own scan: the first char of s that is in chars (NULL: none)
 * or a ';' after a blank (an inline comment); the terminating NUL if none. */
const char *bw_ini_find_chars_or_comment(const char *s, const char *chars);

#endif
