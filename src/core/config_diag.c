/* config_diag.c - the first error of a config load, kept for a one-line report (bw_config.h). */
#include <stdio.h>

#include "bw_config.h"

void bw_diag_keep_first(void *ctx, const char *file, int line, enum bw_diag_severity sev,
                        const char *msg)
{
    bw_diag_first *f = ctx;
    if (sev != BW_DIAG_ERROR)
        return;
    if (f->errors++ == 0)
        snprintf(f->text, sizeof f->text, "%s:%d: %s%s", file, line, f->label, msg);
}
