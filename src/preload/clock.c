/* clock.c - the shim's clock: monotonic milliseconds (see shim.h). */
#include <time.h>

#include "shim.h"

int64_t bw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
