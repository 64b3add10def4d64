/*
 * nb_mode - makes a TCP socket, puts it in blocking or non-blocking mode one
 * of the ways a program does, and connects it to 127.0.0.1:PORT, for
 * t_retry_nonblock_mode (the shim learns the mode from these calls).
 *
 *   nb_mode HOW PORT
 *
 * HOW: block (socket() plain), flag (SOCK_NONBLOCK), fcntl_on, fcntl_off
 * (SOCK_NONBLOCK then F_SETFL 0), ioctl_on (FIONBIO 1), ioctl_off
 * (SOCK_NONBLOCK then FIONBIO 0), dup_on (F_SETFL O_NONBLOCK through a dup),
 * fork_on (a fork child sets O_NONBLOCK on the shared socket), raw_off
 * (SOCK_NONBLOCK then syscall(SYS_fcntl, F_SETFL, 0)).
 * Prints "ok", "inprogress" or "fail errno=NAME"; exit 0, or 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int make(const char *how)
{
    int nb_first = !strcmp(how, "flag") || !strcmp(how, "fcntl_off") ||
                   !strcmp(how, "ioctl_off") || !strcmp(how, "raw_off");
    int fd = socket(AF_INET, SOCK_STREAM | (nb_first ? SOCK_NONBLOCK : 0), 0), one = 1, zero = 0;
    if (fd < 0)
        return -1;
    if (!strcmp(how, "fcntl_on"))
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    else if (!strcmp(how, "fcntl_off"))
        fcntl(fd, F_SETFL, 0);
    else if (!strcmp(how, "ioctl_on"))
        ioctl(fd, FIONBIO, &one);
    else if (!strcmp(how, "ioctl_off"))
        ioctl(fd, FIONBIO, &zero);
    else if (!strcmp(how, "raw_off"))
        syscall(SYS_fcntl, fd, F_SETFL, 0);
    else if (!strcmp(how, "dup_on")) {
        int d = dup(fd);
        fcntl(d, F_SETFL, O_NONBLOCK);
        close(d);
    } else if (!strcmp(how, "fork_on")) {
        pid_t p = fork();
        if (p == 0)
            _exit(fcntl(fd, F_SETFL, O_NONBLOCK) != 0);
        waitpid(p, NULL, 0);
    } else if (strcmp(how, "block") && strcmp(how, "flag")) {
        return -2;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int fd = make(argv[1]);
    if (fd == -2)
        return 2;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        printf(fd < 0 ? "fail errno=socket\n" : "ok\n");
    else if (errno == EINPROGRESS)
        printf("inprogress\n");
    else
        printf("fail errno=%s\n", strerrorname_np(errno));
    return 0;
}
