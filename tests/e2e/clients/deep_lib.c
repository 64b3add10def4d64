/* deep_lib.c - a library the test dlopens with RTLD_DEEPBIND (t_deepbind). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern ssize_t __read_chk(int, void *, size_t, size_t);
extern ssize_t __recv_chk(int, void *, size_t, size_t, int);
extern ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);

/* The addresses this object's GOT holds for these functions (GLOB_DAT). */
void *deep_addr(const char *name)
{
    static const struct { const char *n; void *p; } t[] = {
        {"connect", (void *)connect}, {"send", (void *)send}, {"recv", (void *)recv},
        {"read", (void *)read}, {"write", (void *)write}, {"close", (void *)close},
        {"__read_chk", (void *)__read_chk}, {"__recv_chk", (void *)__recv_chk},
        {"__recvfrom_chk", (void *)__recvfrom_chk}, {"dlopen", (void *)dlopen},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].n, name) == 0)
            return t[i].p;
    return NULL;
}

/* A blocking connect to 127.0.0.1:port through this object's PLT (JUMP_SLOT). */
int deep_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    return r;
}
