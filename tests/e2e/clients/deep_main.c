/*
 * deep_main.c - dlopens "libdeep.so" (a bare name: found through this
 * program's RUNPATH) with RTLD_DEEPBIND, prints for each hooked name whether
 * the library's GOT points where the global scope does ("same"/"differs"),
 * then makes argc-2 connects to 127.0.0.1:argv[1] from inside the library
 * and prints their results.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    void *h = dlopen("libdeep.so", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void *(*addr)(const char *) = (void *(*)(const char *))dlsym(h, "deep_addr");
    int (*conn)(int) = (int (*)(int))dlsym(h, "deep_connect");
    static const char *names[] = {"connect", "send", "recv", "read", "write", "close",
                                  "__read_chk", "__recv_chk", "__recvfrom_chk", "dlopen"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        printf("%s %s\n", names[i],
               addr(names[i]) == dlsym(RTLD_DEFAULT, names[i]) ? "same" : "differs");
    for (int i = 2; i < argc; i++)
        printf("connect %d\n", conn(atoi(argv[1])));
    return 0;
}
