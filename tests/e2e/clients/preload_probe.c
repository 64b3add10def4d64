/*
 * preload_probe.c - what host-wide mode must reach, seen from inside a
 * program: connects to 127.0.0.1:PORT COUNT times and prints one line per
 * connect ("ok" or "err ERRNO"), then "mapped yes|no" (libbreakwater.so in
 * its own mappings), "secure yes|no" (AT_SECURE: a setuid start), "euid N"
 * and "ld_preload set|unset" (LD_PRELOAD in its environment).
 * usage: preload_probe PORT COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

static int mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        found |= strstr(line, "libbreakwater") != NULL;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < atoi(argv[2]); i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            puts("ok");
        else
            printf("err %d\n", errno);
        close(s);
    }
    printf("mapped %s\nsecure %s\neuid %d\nld_preload %s\n", mapped() ? "yes" : "no",
           getauxval(AT_SECURE) ? "yes" : "no", (int)geteuid(),
           getenv("LD_PRELOAD") ? "set" : "unset");
    return 0;
}
